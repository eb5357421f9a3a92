package opa

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/storage"
)

// Account types (ActiveDirectoryAccountType), set on an account by the rule that manages it.
const (
	AccountShared     = "SHARED"
	AccountIndividual = "INDIVIDUAL"
)

// Account status details (ServiceAccountStatusDetail). Rule evaluation sets UNMANAGED on accounts
// no rule manages and, when an account comes under management, VAULTED if a password is already
// vaulted for it or MISSING_PASSWORD otherwise; the rotation and checkout work sets the others.
const (
	StatusPending         = "PENDING"
	StatusCreationFailed  = "CREATION_FAILED"
	StatusStaged          = "STAGED"
	StatusRotating        = "ROTATING"
	StatusRotated         = "ROTATED"
	StatusRotationFailed  = "ROTATION_FAILED"
	StatusVaulted         = "VAULTED"
	StatusMissingPassword = "MISSING_PASSWORD"
	StatusUnmanaged       = "UNMANAGED"
)

// Match statuses (match_status). The real API does not enumerate them (its sample shows "MATCH");
// these are the emulator's, and match_status and matched_user always show the effective result:
//
//   - MATCH: an INDIVIDUAL account matched exactly one user by the connection's rule settings.
//   - NO_MATCH: an INDIVIDUAL account matched no user (or rule settings are not configured).
//   - MULTIPLE_MATCHES: an INDIVIDUAL account matched several users; it is assigned to none of them,
//     because picking one would hand a privileged account to a guessed person. An override resolves it.
//   - OVERRIDDEN: an admin assigned the account to a user with a match override.
//   - FORCED_NO_MATCH: an admin set force_no_match; the account is assigned to nobody.
//   - NOT_APPLICABLE: the account is SHARED or unmanaged; matching applies to INDIVIDUAL accounts only.
//
// Several accounts matching one user are all that user's (Okta's documented behaviour).
const (
	MatchStatusMatch           = "MATCH"
	MatchStatusNoMatch         = "NO_MATCH"
	MatchStatusMultipleMatches = "MULTIPLE_MATCHES"
	MatchStatusOverridden      = "OVERRIDDEN"
	MatchStatusForcedNoMatch   = "FORCED_NO_MATCH"
	MatchStatusNotApplicable   = "NOT_APPLICABLE"
)

// Partial matching operators (ActiveDirectoryPartialMatchingOperator), with a space.
const (
	PartialStartsWith = "STARTS WITH"
	PartialEndsWith   = "ENDS WITH"
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

// evaluateConnection applies the connection's account rules and matching to all of its accounts
// inside tx and writes only the accounts whose result changed. The sync work calls it after each
// import; rule and rule-settings changes call it in their own transaction. Missing accounts are left
// as they are.
func (e *Engine) evaluateConnection(tx storage.WriteTx, conn *storage.Connection, now time.Time) (EvalSummary, error) {
	rules, err := storage.Rules.List(tx, "connection", conn.ID)
	if err != nil {
		return EvalSummary{}, err
	}
	var users []*storage.User
	if conn.RuleSettings.IsConfigured {
		if users, err = storage.Users.List(tx, "team", conn.TeamID); err != nil {
			return EvalSummary{}, err
		}
	}
	accounts, err := storage.Accounts.List(tx, "connection", conn.ID)
	if err != nil {
		return EvalSummary{}, err
	}
	ev := newEvaluator(rules, conn.RuleSettings, users)
	var sum EvalSummary
	for _, a := range accounts {
		if a.Missing {
			continue
		}
		changed := ev.apply(a, now)
		sum.count(a)
		if changed {
			sum.Changed++
			a.UpdatedAt = now
			if err := storage.Accounts.Update(tx, a); err != nil {
				return EvalSummary{}, err
			}
		}
	}
	return sum, nil
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
	buf      []byte     // scratch for dnKey
	offs     []int      // scratch for dnKey
}

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
	ev := &evaluator{rules: rs, byOU: map[string][]ouEntry{}, settings: settings, filters: make([][][]ruleFilter, len(rs))}
	for ri, r := range rs {
		ev.filters[ri] = make([][]ruleFilter, len(r.OrganizationalUnits))
		for oi, ou := range r.OrganizationalUnits {
			key, ok := canonicalDN(ou)
			if !ok {
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
	key, offs, ok := dnKey(a.DistinguishedName, ev.buf[:0], ev.offs[:0])
	if !ok {
		return -1
	}
	ev.buf, ev.offs = key, offs // reused by the next account: no allocation per account
	best := -1
	for _, off := range offs { // strict ancestors: the suffixes after each RDN separator
		for _, en := range ev.byOU[string(key[off:])] {
			if (best < 0 || en.rule < best) && filtersPass(ev.filters[en.rule][en.ou], a) {
				best = en.rule
			}
		}
	}
	return best
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
	} else {
		r := ev.rules[ri]
		a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID = r.ID, r.RuleType, r.ProjectID, r.ResourceGroupID
		if a.BroughtUnderManagementAt.IsZero() {
			a.BroughtUnderManagementAt = now
		}
		if a.StatusDetail == "" || a.StatusDetail == StatusUnmanaged {
			a.StatusDetail = StatusMissingPassword
			if len(a.Credential.Password) > 0 {
				a.StatusDetail = StatusVaulted
			}
			a.StatusDetailMessage = ""
		}
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

// effectiveMatch sets MatchStatus and MatchedUserID from the account type, the overrides and the
// rule match (MatchStatus must already hold the rule-match status for INDIVIDUAL accounts).
func effectiveMatch(a *storage.Account) {
	switch {
	case a.AccountType != AccountIndividual:
		a.MatchStatus, a.MatchedUserID = MatchStatusNotApplicable, ""
	case a.ForceNoMatch:
		a.MatchStatus, a.MatchedUserID = MatchStatusForcedNoMatch, ""
	case a.MatchOverrideUserID != "":
		a.MatchStatus, a.MatchedUserID = MatchStatusOverridden, a.MatchOverrideUserID
	default:
		a.MatchedUserID = a.RuleMatchUserID
		switch {
		case a.RuleMatchUserID != "":
			a.MatchStatus = MatchStatusMatch
		case a.MatchStatus != MatchStatusMultipleMatches:
			a.MatchStatus = MatchStatusNoMatch
		}
	}
}

type evaluated struct {
	ruleID, typ, project, rg, ruleMatch, status, matched, detail, detailMsg string
	brought                                                                 time.Time
}

func evalFields(a *storage.Account) evaluated {
	return evaluated{a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID, a.RuleMatchUserID,
		a.MatchStatus, a.MatchedUserID, a.StatusDetail, a.StatusDetailMessage, a.BroughtUnderManagementAt}
}

// accountName is the account's name as shown (account_name) and as the account_name rule filter
// sees it: the sAMAccountName, or the UPN when there is none.
func accountName(a *storage.Account) string {
	if a.SAMAccountName != "" {
		return a.SAMAccountName
	}
	return a.UPN
}

// appendMatchNames appends the lowercased names of an account that the username criterion and
// partial matching compare with a user's username: the sAMAccountName, the full UPN and the UPN's
// local part (before the last '@'), without duplicates.
func appendMatchNames(out []string, a *storage.Account) []string {
	add := func(s string) {
		s = strings.ToLower(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(a.SAMAccountName)
	add(a.UPN)
	if i := strings.LastIndexByte(a.UPN, '@'); i > 0 {
		add(a.UPN[:i])
	}
	return out
}

func matchNames(a *storage.Account) []string { return appendMatchNames(make([]string, 0, 3), a) }

// userIndex maps lowercased user attributes to users, for matching by lookup. Only the maps the
// settings need are built: the one of the first enabled exact criterion (the others are checked on
// its few candidates) and the username map for partial matching.
type userIndex struct {
	byUsername map[string]bucket
	byEmail    map[string]bucket
	byName     map[string]bucket // first + "\x00" + last
	byDisplay  map[string]bucket
	names      []string // scratch for match
	ids        []string // scratch for match
}

// bucket holds the users under one key without allocating for the usual single user.
type bucket struct {
	first *storage.User
	more  []*storage.User
}

func (b bucket) add(u *storage.User) bucket {
	if b.first == nil {
		b.first = u
	} else {
		b.more = append(b.more, u)
	}
	return b
}

// matchableUser reports whether accounts may be matched to u: users that are not service users
// and not deleted.
func matchableUser(u *storage.User) bool { return !u.ServiceUser && u.Status != "DELETED" }

func fullNameKey(first, last string) string {
	if first == "" || last == "" {
		return ""
	}
	return strings.ToLower(first) + "\x00" + strings.ToLower(last)
}

func newUserIndex(users []*storage.User, s storage.RuleSettings) *userIndex {
	ix := &userIndex{}
	mk := func() map[string]bucket { return make(map[string]bucket, len(users)) }
	switch {
	case s.Username:
		ix.byUsername = mk()
	case s.Email:
		ix.byEmail = mk()
	case s.FirstAndLastName:
		ix.byName = mk()
	case s.DisplayName:
		ix.byDisplay = mk()
	}
	if s.AllowPartialMatches && len(s.Partial) > 0 && ix.byUsername == nil {
		ix.byUsername = mk()
	}
	add := func(m map[string]bucket, k string, u *storage.User) {
		if m != nil && k != "" {
			m[k] = m[k].add(u)
		}
	}
	for _, u := range users {
		if !matchableUser(u) {
			continue
		}
		if ix.byUsername != nil {
			add(ix.byUsername, strings.ToLower(u.Username), u)
		}
		if ix.byEmail != nil {
			add(ix.byEmail, strings.ToLower(u.Email), u)
		}
		if ix.byName != nil {
			add(ix.byName, fullNameKey(u.FirstName, u.LastName), u)
		}
		if ix.byDisplay != nil {
			add(ix.byDisplay, strings.ToLower(u.DisplayName), u)
		}
	}
	return ix
}

// exactOK reports whether u passes every enabled exact criterion for a (at least one is enabled).
func exactOK(s storage.RuleSettings, a *storage.Account, names []string, u *storage.User) bool {
	if s.Username && !slices.Contains(names, strings.ToLower(u.Username)) {
		return false
	}
	if s.Email && (a.Email == "" || !strings.EqualFold(a.Email, u.Email)) {
		return false
	}
	if s.FirstAndLastName {
		k := fullNameKey(a.FirstName, a.LastName)
		if k == "" || k != fullNameKey(u.FirstName, u.LastName) {
			return false
		}
	}
	if s.DisplayName && (a.DisplayName == "" || !strings.EqualFold(a.DisplayName, u.DisplayName)) {
		return false
	}
	return true
}

// match returns the ids of the users a matches, sorted: those passing all enabled exact criteria
// (none when no criterion is enabled), plus, with partial matching allowed, those whose username
// equals an account name with a configured prefix or suffix (and one adjacent separator) stripped.
// The returned slice is scratch space, valid until the next call.
func (ix *userIndex) match(a *storage.Account, s storage.RuleSettings) []string {
	names := appendMatchNames(ix.names[:0], a)
	ix.names = names
	ix.ids = ix.ids[:0]
	var exact bucket
	switch {
	case s.Username:
		for _, n := range names {
			ix.addExact(ix.byUsername[n], s, a, names)
		}
	case s.Email:
		exact = ix.byEmail[strings.ToLower(a.Email)]
	case s.FirstAndLastName:
		exact = ix.byName[fullNameKey(a.FirstName, a.LastName)]
	case s.DisplayName:
		exact = ix.byDisplay[strings.ToLower(a.DisplayName)]
	}
	ix.addExact(exact, s, a, names)
	if s.AllowPartialMatches {
		for _, pc := range s.Partial {
			for _, n := range names {
				if rest, ok := stripPartial(pc.Operator, pc.MatchValue, n); ok {
					b := ix.byUsername[rest]
					ix.add(b.first)
					for _, u := range b.more {
						ix.add(u)
					}
				}
			}
		}
	}
	slices.Sort(ix.ids)
	return ix.ids
}

func (ix *userIndex) addExact(b bucket, s storage.RuleSettings, a *storage.Account, names []string) {
	if b.first != nil && exactOK(s, a, names, b.first) {
		ix.add(b.first)
	}
	for _, u := range b.more {
		if exactOK(s, a, names, u) {
			ix.add(u)
		}
	}
}

func (ix *userIndex) add(u *storage.User) {
	if u != nil && !slices.Contains(ix.ids, u.ID) {
		ix.ids = append(ix.ids, u.ID)
	}
}

// stripPartial strips value (case-insensitively) from the start (STARTS WITH) or the end (ENDS
// WITH) of the lowercased name, then one separator ('.', '-' or '_') next to it if there is one. It
// reports false when the name does not start or end with value or nothing would remain.
func stripPartial(op, value, name string) (string, bool) {
	v := strings.ToLower(value)
	if v == "" {
		return "", false
	}
	var rest string
	switch op {
	case PartialStartsWith:
		if !strings.HasPrefix(name, v) {
			return "", false
		}
		rest = name[len(v):]
		if rest != "" && isSeparator(rest[0]) {
			rest = rest[1:]
		}
	case PartialEndsWith:
		if !strings.HasSuffix(name, v) {
			return "", false
		}
		rest = name[:len(name)-len(v)]
		if rest != "" && isSeparator(rest[len(rest)-1]) {
			rest = rest[:len(rest)-1]
		}
	default:
		return "", false
	}
	return rest, rest != ""
}

func isSeparator(c byte) bool { return c == '.' || c == '-' || c == '_' }

// dnKey appends dn in canonical form (see canonicalRDNs) to buf and the byte offsets at which each
// of its strict ancestors starts in that form to offs. Plain ASCII DNs without escapes, quotes,
// multi-valued RDNs or '=' in values take a fast path that gives the same result as parsing with
// go-ldap.
func dnKey(dn string, buf []byte, offs []int) ([]byte, []int, bool) {
	if key, offs, ok := fastDNKey(dn, buf, offs); ok {
		return key, offs, true
	}
	rdns, ok := canonicalRDNs(dn)
	if !ok {
		return nil, nil, false
	}
	buf, offs = buf[:0], offs[:0]
	for i, r := range rdns {
		if i > 0 {
			buf = append(buf, ',')
			offs = append(offs, len(buf))
		}
		buf = append(buf, r...)
	}
	return buf, offs, true
}

func fastDNKey(dn string, buf []byte, offs []int) ([]byte, []int, bool) {
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c >= 0x80, c == '\\', c == '"', c == '+', c == ';', c == '#', c == '<', c == '>':
			return nil, nil, false
		}
	}
	buf, offs = buf[:0], offs[:0]
	for rest := dn; ; {
		part := rest
		i := strings.IndexByte(rest, ',')
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 || strings.IndexByte(part[eq+1:], '=') >= 0 {
			return nil, nil, false
		}
		typ, val := strings.Trim(part[:eq], " "), strings.Trim(part[eq+1:], " ")
		if typ == "" {
			return nil, nil, false
		}
		if len(buf) > 0 {
			buf = append(buf, ',')
			offs = append(offs, len(buf))
		}
		buf = append(append(append(buf, typ...), '='), val...)
		if i < 0 {
			break
		}
	}
	for i, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return buf, offs, true
}

// canonicalRDNs parses dn (RFC 4514, via go-ldap) and returns its RDNs in a canonical form: types
// and values lowercased, multi-valued RDNs sorted, special characters escaped, leaf first.
func canonicalRDNs(dn string) ([]string, bool) {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return nil, false
	}
	out := make([]string, len(d.RDNs))
	for i, r := range d.RDNs {
		parts := make([]string, len(r.Attributes))
		for j, at := range r.Attributes {
			parts[j] = escapeDNPart(strings.ToLower(at.Type)) + "=" + escapeDNPart(strings.ToLower(at.Value))
		}
		sort.Strings(parts)
		out[i] = strings.Join(parts, "+")
	}
	return out, true
}

// canonicalDN returns dn in canonical form (see canonicalRDNs).
func canonicalDN(dn string) (string, bool) {
	key, _, ok := dnKey(dn, nil, nil)
	return string(key), ok
}

var dnEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `=`, `\=`)

func escapeDNPart(s string) string {
	if !strings.ContainsAny(s, `\,+=`) {
		return s
	}
	return dnEscaper.Replace(s)
}

// AccountMatch is an INDIVIDUAL account's match (ActiveDirectoryAccountMatchResponse, wire format):
// the user the rule settings matched, the admin's override and force_no_match. The effective user is
// nobody when ForceNoMatch, else MatchOverrideUserID when set, else RuleMatchUserID.
type AccountMatch struct {
	ADAccountID         string `json:"ad_account_id"`
	RuleMatchUserID     string `json:"rule_match_user_id,omitempty"`
	MatchOverrideUserID string `json:"match_override_user_id,omitempty"`
	ForceNoMatch        bool   `json:"force_no_match"`
}

// AccountMatchInput updates a match override (ActiveDirectoryAccountMatchRequest, wire format). An
// empty MatchOverrideUserID removes the override; setting it together with ForceNoMatch is invalid.
type AccountMatchInput struct {
	MatchOverrideUserID string `json:"match_override_user_id,omitempty"`
	ForceNoMatch        bool   `json:"force_no_match,omitempty"`
}

func matchView(a *storage.Account) AccountMatch {
	return AccountMatch{ADAccountID: a.ID, RuleMatchUserID: a.RuleMatchUserID, MatchOverrideUserID: a.MatchOverrideUserID, ForceNoMatch: a.ForceNoMatch}
}

// ADAccountMatch returns the match of an INDIVIDUAL account of the connection. Needs resource_admin
// (or delegated_resource_admin of the account's resource group). Errors: ErrNotFound for an unknown
// connection or account, ErrInvalid for an account that is not INDIVIDUAL, ErrForbidden. Safe for
// concurrent use.
func (e *Engine) ADAccountMatch(ctx context.Context, p Principal, connID, accountID string) (AccountMatch, error) {
	var out AccountMatch
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		a, err := e.individualAccount(tx, p, connID, accountID)
		if err != nil {
			return err
		}
		out = matchView(a)
		return nil
	})
	return out, err
}

// UpdateADAccountMatch sets or clears the match override of an INDIVIDUAL account and returns the
// new match; match_status and matched_user follow at once. Overrides persist across rule changes and
// syncs. Needs resource_admin (or delegated_resource_admin of the account's resource group).
// Errors: ErrInvalid when both fields are set or the account is not INDIVIDUAL; ErrNotFound for an
// unknown connection, account or override user; ErrForbidden. Safe for concurrent use.
func (e *Engine) UpdateADAccountMatch(ctx context.Context, p Principal, connID, accountID string, in AccountMatchInput) (AccountMatch, error) {
	if err := p.check(); err != nil {
		return AccountMatch{}, err
	}
	if in.ForceNoMatch && in.MatchOverrideUserID != "" {
		return AccountMatch{}, invalidf("force_no_match must be unset or false when match_override_user_id is set")
	}
	var out AccountMatch
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		a, err := e.individualAccount(tx, p, connID, accountID)
		if err != nil {
			return err
		}
		if in.MatchOverrideUserID != "" {
			u, err := storage.Users.Get(tx, in.MatchOverrideUserID)
			if err != nil || u.TeamID != p.TeamID || !matchableUser(u) {
				return notFoundf("user %q does not exist", in.MatchOverrideUserID)
			}
		}
		a.MatchOverrideUserID, a.ForceNoMatch = in.MatchOverrideUserID, in.ForceNoMatch
		// Re-evaluate this one account, so that clearing an override restores the rule match and
		// its status (MULTIPLE_MATCHES included) exactly as a full evaluation would.
		conn, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		rules, err := storage.Rules.List(tx, "connection", connID)
		if err != nil {
			return err
		}
		var users []*storage.User
		if conn.RuleSettings.IsConfigured {
			if users, err = storage.Users.List(tx, "team", conn.TeamID); err != nil {
				return err
			}
		}
		now := e.now()
		newEvaluator(rules, conn.RuleSettings, users).apply(a, now)
		a.UpdatedAt = now
		if err := storage.Accounts.Update(tx, a); err != nil {
			return err
		}
		out = matchView(a)
		return nil
	})
	return out, err
}

// individualAccount returns an account of the connection after checking the role, and ErrInvalid
// unless it is INDIVIDUAL.
func (e *Engine) individualAccount(tx storage.ReadTx, p Principal, connID, accountID string) (*storage.Account, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	a, err := e.connAccount(tx, p, connID, accountID)
	if err != nil {
		return nil, err
	}
	if err := p.requireIn(RoleResourceAdmin, a.ResourceGroupID); err != nil {
		return nil, err
	}
	if a.AccountType != AccountIndividual {
		return nil, invalidf("AD account %q is not an individual account; matches apply to individual accounts only", accountID)
	}
	return a, nil
}
