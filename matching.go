package opa

import (
	"context"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// Account types (ActiveDirectoryAccountType), set on an account by the rule that manages it.
const (
	AccountShared     = "SHARED"
	AccountIndividual = "INDIVIDUAL"
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

// userIndex maps lowercased user attributes to users, for matching by lookup. Only the tables the
// settings need are built: the one of the first enabled exact criterion (the others are checked on
// its few candidates) and the username table for partial matching.
type userIndex struct {
	users      []*storage.User // the matchable users; tables hold positions in it
	ids        []string        // users[i].ID, contiguous, so a match reads no user record
	byUsername *nameTable
	byEmail    *nameTable
	byName     *nameTable // first + "\x00" + last
	byDisplay  *nameTable
	// onlyKey: exactly one exact criterion is enabled, so a user found under the account's key
	// passes it without a second comparison.
	onlyKey bool
	partial []partialRule // the settings' partial criteria, lowercased; nil when partial matching is off
	names   []string      // scratch for match
	pos     []int32       // scratch for match
	out     []string      // scratch for match
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

// partialRule is a partial criterion with its value lowercased once per evaluation.
type partialRule struct{ op, value string }

func newUserIndex(users []*storage.User, s storage.RuleSettings) *userIndex {
	ix := &userIndex{}
	if s.AllowPartialMatches {
		for _, pc := range s.Partial {
			if v := strings.ToLower(pc.MatchValue); v != "" {
				ix.partial = append(ix.partial, partialRule{pc.Operator, v})
			}
		}
	}
	enabled := 0
	for _, on := range []bool{s.Username, s.Email, s.FirstAndLastName, s.DisplayName} {
		if on {
			enabled++
		}
	}
	ix.onlyKey = enabled == 1
	// The table of the first enabled exact criterion, and the username table for partial
	// matching; their keys are computed in the same pass over the users as the ids, so each user
	// record is read once.
	username := func(u *storage.User) string { return strings.ToLower(u.Username) }
	var exact func(*storage.User) string
	switch {
	case s.Username:
		exact = username
	case s.Email:
		exact = func(u *storage.User) string { return strings.ToLower(u.Email) }
	case s.FirstAndLastName:
		exact = func(u *storage.User) string { return fullNameKey(u.FirstName, u.LastName) }
	case s.DisplayName:
		exact = func(u *storage.User) string { return strings.ToLower(u.DisplayName) }
	}
	partial := s.AllowPartialMatches && len(s.Partial) > 0 && !s.Username
	ix.users, ix.ids = make([]*storage.User, 0, len(users)), make([]string, 0, len(users))
	var exactKeys, partialKeys []string
	if exact != nil {
		exactKeys = make([]string, 0, len(users))
	}
	if partial {
		partialKeys = make([]string, 0, len(users))
	}
	for _, u := range users {
		if !matchableUser(u) {
			continue
		}
		ix.users = append(ix.users, u)
		ix.ids = append(ix.ids, u.ID)
		if exact != nil {
			exactKeys = append(exactKeys, exact(u))
		}
		if partial {
			partialKeys = append(partialKeys, username(u))
		}
	}
	switch {
	case s.Username:
		ix.byUsername = newNameTable(exactKeys)
	case s.Email:
		ix.byEmail = newNameTable(exactKeys)
	case s.FirstAndLastName:
		ix.byName = newNameTable(exactKeys)
	case s.DisplayName:
		ix.byDisplay = newNameTable(exactKeys)
	}
	if partial {
		ix.byUsername = newNameTable(partialKeys)
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
	ix.out = ix.out[:0]
	switch {
	case s.Username:
		for _, n := range names {
			ix.addExact(ix.byUsername, n, s, a, names)
		}
	case s.Email:
		ix.addExact(ix.byEmail, strings.ToLower(a.Email), s, a, names)
	case s.FirstAndLastName:
		ix.addExact(ix.byName, fullNameKey(a.FirstName, a.LastName), s, a, names)
	case s.DisplayName:
		ix.addExact(ix.byDisplay, strings.ToLower(a.DisplayName), s, a, names)
	}
	for _, pc := range ix.partial {
		for _, n := range names {
			if rest, ok := stripLowerPartial(pc.op, pc.value, n); ok {
				ix.pos = ix.byUsername.lookup(rest, ix.pos[:0])
				for _, p := range ix.pos {
					ix.add(ix.ids[p])
				}
			}
		}
	}
	slices.Sort(ix.out)
	return ix.out
}

// addExact adds the users under key in t that pass every enabled exact criterion.
func (ix *userIndex) addExact(t *nameTable, key string, s storage.RuleSettings, a *storage.Account, names []string) {
	ix.pos = t.lookup(key, ix.pos[:0])
	for _, p := range ix.pos {
		if ix.onlyKey || exactOK(s, a, names, ix.users[p]) {
			ix.add(ix.ids[p])
		}
	}
}

func (ix *userIndex) add(id string) {
	if !slices.Contains(ix.out, id) {
		ix.out = append(ix.out, id)
	}
}

// nameTable maps lowercased keys (user attributes) to positions 0..n-1: open addressing with
// linear probing over a power-of-two []uint64 at most half full, each slot holding a 32-bit hash
// fingerprint and the position + 1 (0 is an empty slot). Keys may repeat (several users with one
// email): a lookup walks its probe run to the first empty slot and collects every equal key.
//
// DESIGN: it replaces map[string][]*User. For 100k users that map's construction zeroed some 16k
// control groups of fresh memory, and every lookup chased pointers into the key and the user, so
// the per-account cost of a 100k-account evaluation was 1.4x that of a 10k one. Here building is
// one zeroed slice, and a lookup reads the key only when the fingerprint agrees.
type nameTable struct {
	seed  maphash.Seed
	slots []uint64
	mask  uint64
	keys  []string // by position; "" is no key
}

func newNameTable(keys []string) *nameTable {
	size := 16
	for size < 2*len(keys) {
		size <<= 1
	}
	t := &nameTable{seed: maphash.MakeSeed(), slots: make([]uint64, size), mask: uint64(size - 1), keys: keys}
	for i, k := range keys {
		if k == "" {
			continue
		}
		h := maphash.String(t.seed, k)
		s := h & t.mask
		for t.slots[s] != 0 {
			s = (s + 1) & t.mask
		}
		t.slots[s] = h>>32<<32 | uint64(i+1)
	}
	return t
}

// lookup appends the positions whose key equals key to out, in insertion order. A nil table or an
// empty key finds nothing.
func (t *nameTable) lookup(key string, out []int32) []int32 {
	if t == nil || key == "" {
		return out
	}
	h := maphash.String(t.seed, key)
	fp := h >> 32
	for s := h & t.mask; t.slots[s] != 0; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e>>32 == fp {
			if p := int32(e&0xffffffff) - 1; t.keys[p] == key {
				out = append(out, p)
			}
		}
	}
	return out
}

// stripPartial strips value (case-insensitively) from the start (STARTS WITH) or the end (ENDS
// WITH) of the lowercased name, then one separator ('.', '-' or '_') next to it if there is one. It
// reports false when the name does not start or end with value or nothing would remain.
func stripPartial(op, value, name string) (string, bool) {
	return stripLowerPartial(op, strings.ToLower(value), name)
}

// stripLowerPartial is stripPartial with value already lowercased.
func stripLowerPartial(op, v, name string) (string, bool) {
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
// unknown connection, account or override user; ErrForbidden. The checkout of a holder who loses
// access through the new match is checked in (system_user_lost_access, lostaccess.go). Safe for
// concurrent use.
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
		rules, err := storage.Rules.List(tx, storage.RulesByConnection, connID)
		if err != nil {
			return err
		}
		var users []*storage.User
		if conn.RuleSettings.IsConfigured {
			if users, err = storage.Users.List(tx, storage.UsersByTeam, conn.TeamID); err != nil {
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
	// Another match takes the account from its former owner's own individual accounts: a loss of
	// access (lostaccess.go).
	if err == nil {
		e.afterAccessChange(ctx, p.TeamID, nil)
	}
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
