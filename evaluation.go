package opa

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// EvalSummary counts what a re-evaluation of a connection's accounts did. Missing accounts (gone
// from the directory) are not evaluated and not counted.
type EvalSummary struct {
	Managed   int // accounts a rule manages
	Unmanaged int // accounts no rule manages
	Matched   int // INDIVIDUAL accounts with an effective user
	Unmatched int // INDIVIDUAL accounts without one
	Multiple  int // INDIVIDUAL accounts whose rule settings matched several users
	Changed   int // accounts whose stored evaluation changed (and were written)
}

// Re-evaluation and transaction size, decided here:
//
//   - Evaluating a connection reads its rules, users and accounts borrowed (no copies) and writes
//     only the accounts whose result changed.
//   - When at most writeChunk accounts change, evaluateConnection writes them in the caller's
//     transaction, so a rule change, a settings change or a small sync and its evaluation are one
//     atomic step. When more would change (a new rule over tens of thousands of accounts, the first
//     sync of a large domain) it writes nothing; the caller commits its own change and then calls
//     evaluateChunked, which writes the accounts in transactions of at most writeChunk each: go-memdb
//     slows down sharply beyond a few thousand records per transaction (BENCHMARKS.md,
//     "Why writes are chunked"). Readers
//     may then see the new rules next to not-yet-re-evaluated accounts until the call returns.
//   - Each chunk re-reads its accounts and re-applies the evaluation to the current record, so
//     checkouts, rotations and overrides written meanwhile are kept; and it first checks that the
//     connection's rules and rule settings are still those the evaluation was built from. If they
//     changed, the change that made them runs its own evaluation, and this one starts over (at most
//     maxEvalRestarts times, then ErrConflict). Users changing meanwhile are not checked: as before,
//     a user change alone does not re-evaluate accounts; the next sync or rule change does.

// maxEvalRestarts bounds how often evaluateChunked starts over because the rules changed under it.
const maxEvalRestarts = 3

var errEvalInputsChanged = errors.New("the account rules changed during the evaluation")

// evalPlan is one evaluation of a connection's accounts from one snapshot.
type evalPlan struct {
	ev      *evaluator
	inputs  string // evalInputs of the rules and settings ev was built from
	sum     EvalSummary
	changed []string           // ids of the accounts whose result changes, in id order
	copies  []*storage.Account // their evaluated copies, kept while len(changed) <= writeChunk
}

// planEvaluation evaluates conn's accounts as tx sees them, writing nothing.
func planEvaluation(tx storage.ReadTx, conn *storage.Connection, now time.Time) (*evalPlan, error) {
	rules, err := storage.Rules.BorrowList(tx, storage.RulesByConnection, conn.ID)
	if err != nil {
		return nil, err
	}
	var users []*storage.User
	if conn.RuleSettings.IsConfigured {
		if users, err = storage.Users.BorrowList(tx, storage.UsersByTeam, conn.TeamID); err != nil {
			return nil, err
		}
	}
	accounts, err := storage.Accounts.BorrowList(tx, storage.AccountsByConnection, conn.ID)
	if err != nil {
		return nil, err
	}
	plan := &evalPlan{ev: newEvaluator(rules, conn.RuleSettings, users), inputs: evalInputs(rules, conn.RuleSettings)}
	var w storage.Account
	for _, a := range accounts {
		if a.Missing {
			continue
		}
		// A shallow copy: apply sets only string and time fields, so the borrowed record's
		// slices are shared, never changed, and Update stores a deep copy.
		w = *a
		changed := plan.ev.apply(&w, now)
		plan.sum.count(&w)
		if !changed {
			continue
		}
		plan.sum.Changed++
		plan.changed = append(plan.changed, a.ID)
		if len(plan.changed) <= writeChunk {
			c := w
			c.UpdatedAt = now
			plan.copies = append(plan.copies, &c)
		} else {
			plan.copies = nil
		}
	}
	return plan, nil
}

// evalInputs fingerprints what an evaluation depends on besides users and accounts: the rules (in
// id order, as listed) and the rule settings.
func evalInputs(rules []*storage.Rule, s storage.RuleSettings) string {
	b, err := json.Marshal(struct {
		Rules    []*storage.Rule
		Settings storage.RuleSettings
	}{rules, s})
	if err != nil {
		panic("opa: rules do not encode: " + err.Error()) // plain data; cannot happen
	}
	return string(b)
}

// evaluateConnection applies the connection's account rules and matching to its accounts inside
// tx. When at most limit (<= writeChunk) accounts change it writes them and returns done; otherwise
// it writes nothing and returns done = false, and the caller, once its transaction has committed,
// must call evaluateChunked (see "Re-evaluation and transaction size" above). Missing accounts are
// left as they are.
func (e *Engine) evaluateConnection(tx storage.WriteTx, conn *storage.Connection, now time.Time, limit int) (sum EvalSummary, done bool, err error) {
	plan, err := planEvaluation(tx, conn, now)
	if err != nil || len(plan.changed) > min(limit, writeChunk) {
		return plan.summary(), false, err
	}
	for _, a := range plan.copies {
		if err := storage.Accounts.Update(tx, a); err != nil {
			return EvalSummary{}, false, err
		}
	}
	return plan.sum, true, nil
}

func (p *evalPlan) summary() EvalSummary {
	if p == nil {
		return EvalSummary{}
	}
	return p.sum
}

// evaluateChunked evaluates the connection's accounts and writes the changed ones in transactions
// of at most writeChunk accounts, then runs final (when not nil) in a last transaction with the
// connection and the summary. Errors: the store's, ErrNotFound if the connection is deleted
// meanwhile, ErrConflict if its rules keep changing under it.
func (e *Engine) evaluateChunked(ctx context.Context, connID string, now time.Time, final func(storage.WriteTx, *storage.Connection, EvalSummary) error) (EvalSummary, error) {
	for attempt := 0; ; attempt++ {
		sum, err := e.evaluateChunkedOnce(ctx, connID, now, final)
		if !errors.Is(err, errEvalInputsChanged) {
			return sum, err
		}
		if attempt == maxEvalRestarts {
			return EvalSummary{}, conflictf("the account rules of AD connection %q changed %d times during one re-evaluation", connID, attempt+1)
		}
	}
}

func (e *Engine) evaluateChunkedOnce(ctx context.Context, connID string, now time.Time, final func(storage.WriteTx, *storage.Connection, EvalSummary) error) (EvalSummary, error) {
	var plan *evalPlan
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		conn, err := storage.Connections.Get(tx, connID)
		if err != nil {
			return wrapNotFound(err, "AD connection %q does not exist", connID)
		}
		plan, err = planEvaluation(tx, conn, now)
		return err
	})
	if err != nil {
		return EvalSummary{}, err
	}
	// current returns the connection if its rules and settings are still plan's.
	current := func(tx storage.ReadTx) (*storage.Connection, error) {
		conn, err := storage.Connections.Get(tx, connID)
		if err != nil {
			return nil, wrapNotFound(err, "AD connection %q was deleted during the evaluation", connID)
		}
		rules, err := storage.Rules.BorrowList(tx, storage.RulesByConnection, connID)
		if err != nil {
			return nil, err
		}
		if evalInputs(rules, conn.RuleSettings) != plan.inputs {
			return nil, errEvalInputsChanged
		}
		return conn, nil
	}
	for start := 0; start < len(plan.changed); start += writeChunk {
		ids := plan.changed[start:min(start+writeChunk, len(plan.changed))]
		err := e.store.Update(ctx, func(tx storage.WriteTx) error {
			if _, err := current(tx); err != nil {
				return err
			}
			for _, id := range ids {
				a, err := storage.Accounts.Get(tx, id)
				if errors.Is(err, ErrNotFound) {
					continue // deleted meanwhile
				}
				if err != nil {
					return err
				}
				if a.Missing || !plan.ev.apply(a, now) {
					continue
				}
				a.UpdatedAt = now
				if err := storage.Accounts.Update(tx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return EvalSummary{}, err
		}
	}
	if final == nil {
		return plan.sum, nil
	}
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		conn, err := current(tx)
		if err != nil {
			return err
		}
		return final(tx, conn, plan.sum)
	})
	return plan.sum, err
}

func (s *EvalSummary) count(a *storage.Account) {
	if a.AccountType == "" {
		s.Unmanaged++
		return
	}
	s.Managed++
	if a.AccountType != AccountIndividual {
		return
	}
	if a.MatchedUserID != "" {
		s.Matched++
	} else {
		s.Unmatched++
	}
	if a.MatchStatus == MatchStatusMultipleMatches {
		s.Multiple++
	}
}

// evaluator holds the compiled rules and the user indexes of one evaluation. Building it costs
// O(rules + users); applying it to an account costs O(DN depth + candidates), never O(users).
type evaluator struct {
	rules    []*storage.Rule      // by priority, then id
	filters  [][][]ruleFilter     // [rule][ou] -> lowercased filters
	byOU     map[string][]ouEntry // canonical OU DN -> rules naming it
	settings storage.RuleSettings
	users    *userIndex // nil when matching is off
	buf      []byte     // scratch for the account DN key
	offs     []int      // scratch for its ancestors' offsets
	// byParent caches, per plain parent text of a DN (directory.SplitPlainRDN), the rule OUs among
	// its ancestors, sorted by rule then OU: the accounts of one OU share it, so most accounts cost
	// one map lookup instead of a normalization and one lookup per ancestor.
	byParent map[string][]ouEntry
}

// maxParentCache bounds evaluator.byParent; DNs under parents beyond it take the uncached path.
const maxParentCache = 1 << 16

type ouEntry struct{ rule, ou int }

type ruleFilter struct{ field, op, value string }

func newEvaluator(rules []*storage.Rule, settings storage.RuleSettings, users []*storage.User) *evaluator {
	rs := slices.Clone(rules)
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Priority != rs[j].Priority {
			return rs[i].Priority < rs[j].Priority
		}
		return rs[i].ID < rs[j].ID
	})
	ev := &evaluator{rules: rs, byOU: map[string][]ouEntry{}, byParent: map[string][]ouEntry{}, settings: settings, filters: make([][][]ruleFilter, len(rs))}
	for ri, r := range rs {
		ev.filters[ri] = make([][]ruleFilter, len(r.OrganizationalUnits))
		for oi, ou := range r.OrganizationalUnits {
			key, err := directory.NormalizeDN(ou)
			if err != nil {
				continue // validated on write; an unparsable stored OU contains nothing
			}
			ev.byOU[key] = append(ev.byOU[key], ouEntry{ri, oi})
			if oi < len(r.EnhancedFilters) {
				for _, f := range r.EnhancedFilters[oi] {
					ev.filters[ri][oi] = append(ev.filters[ri][oi], ruleFilter{f.Field, f.Operator, strings.ToLower(f.Value)})
				}
			}
		}
	}
	if settings.IsConfigured {
		ev.users = newUserIndex(users, settings)
	}
	return ev
}

// managingRule returns the index of the highest-priority rule that manages a, or -1: a rule
// manages an account when one of its OUs is a strict ancestor of the account's DN (compared
// case-insensitively, RDN by RDN) and that OU's filters all pass.
func (ev *evaluator) managingRule(a *storage.Account) int {
	if len(ev.byOU) == 0 {
		return -1
	}
	// Only plain parent texts are cached (checked once, when cached), so a hit needs only the
	// first RDN read (directory.SplitPlainRDN).
	parent, split := directory.SplitPlainRDN(a.DistinguishedName)
	cands, hit := ev.byParent[parent]
	if !split || !hit {
		cands = ev.ancestorOUs(a.DistinguishedName)
		if split && len(ev.byParent) < maxParentCache && directory.IsPlainDN(parent) {
			ev.byParent[parent] = cands
		}
	}
	for _, en := range cands {
		if filtersPass(ev.filters[en.rule][en.ou], a) {
			return en.rule
		}
	}
	return -1
}

// ancestorOUs returns the rule OUs that are strict ancestors of dn (compared case-insensitively,
// RDN by RDN), sorted by rule then OU; none for a malformed DN.
func (ev *evaluator) ancestorOUs(dn string) []ouEntry {
	key, offs, ok := directory.AppendNormalizedDN(ev.buf[:0], ev.offs[:0], dn)
	if !ok {
		return nil
	}
	ev.buf, ev.offs = key, offs // reused by the next account
	var out []ouEntry
	for _, off := range offs { // strict ancestors: the suffixes after each RDN separator
		out = append(out, ev.byOU[string(key[off:])]...)
	}
	slices.SortFunc(out, func(x, y ouEntry) int {
		if x.rule != y.rule {
			return x.rule - y.rule
		}
		return x.ou - y.ou
	})
	return out
}

// filtersPass reports whether every filter passes (an empty list passes). account_name is compared
// with the account's name (sAMAccountName, else UPN); okta_group_name passes when any of the
// account's Okta group names does. Comparisons are case-insensitive.
func filtersPass(fs []ruleFilter, a *storage.Account) bool {
	for _, f := range fs {
		switch f.field {
		case FilterAccountName:
			if !filterOp(f.op, strings.ToLower(accountName(a)), f.value) {
				return false
			}
		case FilterOktaGroupName:
			ok := false
			for _, g := range a.OktaGroupNames {
				if filterOp(f.op, strings.ToLower(g), f.value) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func filterOp(op, s, v string) bool {
	switch op {
	case FilterStartsWith:
		return strings.HasPrefix(s, v)
	case FilterEndsWith:
		return strings.HasSuffix(s, v)
	case FilterContains:
		return strings.Contains(s, v)
	case FilterEquals:
		return s == v
	}
	return false
}

// apply evaluates a (not Missing) in place and reports whether any evaluated field changed.
func (ev *evaluator) apply(a *storage.Account, now time.Time) bool {
	before := evalFields(a)
	ri := ev.managingRule(a)
	if ri < 0 {
		a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID = "", "", "", ""
		a.StatusDetail = StatusUnmanaged
		a.StatusDetailMessage = ""
		a.RuleMatchUserID = ""
		markInitialRotation(a, nil, false, now)
	} else {
		r := ev.rules[ri]
		a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID = r.ID, r.RuleType, r.ProjectID, r.ResourceGroupID
		if a.BroughtUnderManagementAt.IsZero() {
			a.BroughtUnderManagementAt = now
		}
		arriving := a.StatusDetail == "" || a.StatusDetail == StatusUnmanaged
		if arriving {
			a.StatusDetail = StatusMissingPassword
			if len(a.Credential.Password) > 0 {
				a.StatusDetail = StatusVaulted
			}
			a.StatusDetailMessage = ""
		}
		markInitialRotation(a, r, arriving, now)
		a.RuleMatchUserID = ""
		if r.RuleType == AccountIndividual && ev.users != nil {
			ids := ev.users.match(a, ev.settings)
			switch len(ids) {
			case 0:
				a.MatchStatus = MatchStatusNoMatch
			case 1:
				a.RuleMatchUserID = ids[0]
				a.MatchStatus = MatchStatusMatch
			default:
				a.MatchStatus = MatchStatusMultipleMatches
			}
		} else {
			a.MatchStatus = MatchStatusNoMatch
		}
	}
	effectiveMatch(a)
	return before != evalFields(a)
}

type evaluated struct {
	ruleID, typ, project, rg, ruleMatch, status, matched, detail, detailMsg, pendingReason string
	brought                                                                                time.Time
	pending                                                                                bool
}

func evalFields(a *storage.Account) evaluated {
	return evaluated{a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID, a.RuleMatchUserID,
		a.MatchStatus, a.MatchedUserID, a.StatusDetail, a.StatusDetailMessage, a.Credential.RotationPendingReason,
		a.BroughtUnderManagementAt, a.Credential.RotationPending}
}
