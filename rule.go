package opa

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Enhanced filter fields (ActiveDirectoryAccountFieldNameFilterField) and operators
// (ActiveDirectoryFieldNameFilterOperator, with an underscore, unlike the partial-matching ones).
const (
	FilterAccountName   = "account_name"
	FilterOktaGroupName = "okta_group_name"

	FilterStartsWith = "STARTS_WITH"
	FilterEndsWith   = "ENDS_WITH"
	FilterContains   = "CONTAINS"
	FilterEquals     = "EQUALS"
)

// Limits on account rules, so that a request cannot make evaluation arbitrarily expensive.
const (
	maxRuleOUs        = 100
	maxFiltersPerOU   = 20
	maxPartialEntries = 50
)

// RuleFilter is one enhanced filter of an account rule (wire format {field, operator, value}):
// Field FilterAccountName or FilterOktaGroupName, Operator FilterStartsWith, FilterEndsWith,
// FilterContains or FilterEquals. Comparisons are case-insensitive.
type RuleFilter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// ADAccountRule is an account rule of a connection (ActiveDirectoryAccountRuleResponse, wire
// format). EnhancedFilters, when present, holds one list per organizational unit (same index); all
// filters of an OU's list must pass. Lower Priority wins; priorities run 1..n.
// EnableInitialPasswordRotation rotates the password of each account the rule brings under
// management (see initialrotation.go); EnableImportOktaUsers is always false (AccountRuleInput).
type ADAccountRule struct {
	ID                            string         `json:"id"`
	Name                          string         `json:"name"`
	RuleType                      string         `json:"rule_type"`
	OrganizationalUnits           []string       `json:"organizational_units"`
	EnhancedFilters               [][]RuleFilter `json:"enhanced_filters,omitempty"`
	ResourceGroup                 NamedObject    `json:"resource_group"`
	Project                       NamedObject    `json:"project"`
	Priority                      int            `json:"priority"`
	EnableInitialPasswordRotation bool           `json:"enable_initial_password_rotation"`
	EnableImportOktaUsers         bool           `json:"enable_import_okta_users"`
}

// AccountRuleInput creates or updates an account rule (ActiveDirectoryAccountRuleRequest, wire
// format). Only the id of ResourceGroup and Project is read. RuleType and the filter enums are
// accepted in any case and stored in the canonical upper (operators) or lower (fields) case.
//
// EnableInitialPasswordRotation makes the rule rotate the password of every account it brings
// under management for which the engine holds none, right after the change that brought it
// (a sync or a rule change), so that the vaulted password is one the engine set; without it such
// an account keeps its directory password until its first reveal rotates it (initialrotation.go,
// docs/wire.md#rules). EnableImportOktaUsers must be false: no source says what importing Okta
// users does for an account rule, so true is refused with ErrInvalid rather than stored and
// ignored.
type AccountRuleInput struct {
	Name                          string         `json:"name"`
	RuleType                      string         `json:"rule_type"`
	OrganizationalUnits           []string       `json:"organizational_units"`
	EnhancedFilters               [][]RuleFilter `json:"enhanced_filters,omitempty"`
	ResourceGroup                 NamedObject    `json:"resource_group"`
	Project                       NamedObject    `json:"project"`
	EnableInitialPasswordRotation bool           `json:"enable_initial_password_rotation,omitempty"`
	EnableImportOktaUsers         bool           `json:"enable_import_okta_users,omitempty"`
}

// RulePriority is one entry of a reorder request ({rule_id, priority}).
type RulePriority struct {
	RuleID   string `json:"rule_id"`
	Priority int    `json:"priority"`
}

func normRuleType(t string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case AccountShared:
		return AccountShared, true
	case AccountIndividual:
		return AccountIndividual, true
	}
	return "", false
}

// validate checks the input and normalises it in place.
func (in *AccountRuleInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 255 {
		return invalidf("name must be 1-255 characters")
	}
	t, ok := normRuleType(in.RuleType)
	if !ok {
		return invalidf("rule_type must be SHARED or INDIVIDUAL, got %q", in.RuleType)
	}
	in.RuleType = t
	if len(in.OrganizationalUnits) == 0 || len(in.OrganizationalUnits) > maxRuleOUs {
		return invalidf("organizational_units must hold 1-%d distinguished names", maxRuleOUs)
	}
	seen := map[string]bool{}
	for i, ou := range in.OrganizationalUnits {
		ou = strings.TrimSpace(ou)
		in.OrganizationalUnits[i] = ou
		if ou == "" || len(ou) > 1024 {
			return invalidf("organizational unit %d must be a distinguished name such as OU=Admins,DC=corp,DC=example,DC=com", i)
		}
		key, err := directory.NormalizeDN(ou)
		if err != nil {
			return invalidf("organizational unit %q is not a valid distinguished name (RFC 4514)", ou)
		}
		if seen[key] {
			return invalidf("organizational unit %q is listed twice", ou)
		}
		seen[key] = true
	}
	if len(in.EnhancedFilters) != 0 && len(in.EnhancedFilters) != len(in.OrganizationalUnits) {
		return invalidf("enhanced_filters must hold one list per organizational unit (%d), got %d", len(in.OrganizationalUnits), len(in.EnhancedFilters))
	}
	for i, fs := range in.EnhancedFilters {
		if len(fs) > maxFiltersPerOU {
			return invalidf("at most %d filters per organizational unit", maxFiltersPerOU)
		}
		for j := range fs {
			f := &in.EnhancedFilters[i][j]
			f.Field = strings.ToLower(strings.TrimSpace(f.Field))
			f.Operator = strings.ToUpper(strings.TrimSpace(f.Operator))
			if f.Field != FilterAccountName && f.Field != FilterOktaGroupName {
				return invalidf("filter field must be account_name or okta_group_name, got %q", f.Field)
			}
			switch f.Operator {
			case FilterStartsWith, FilterEndsWith, FilterContains, FilterEquals:
			default:
				return invalidf("filter operator must be STARTS_WITH, ENDS_WITH, CONTAINS or EQUALS, got %q", f.Operator)
			}
			if f.Value == "" || len(f.Value) > 255 {
				return invalidf("filter value must be 1-255 characters")
			}
		}
	}
	if in.ResourceGroup.ID == "" || in.Project.ID == "" {
		return invalidf("resource_group.id and project.id are required")
	}
	if in.EnableImportOktaUsers {
		return invalidf("the setting enable_import_okta_users cannot be true: no documentation says what it does, so this API refuses it rather than store a setting that does nothing; send false or leave it out")
	}
	return nil
}

// checkTarget checks that the rule's resource group and project exist in p's team and match.
func (e *Engine) checkTarget(tx storage.ReadTx, p Principal, rgID, projectID string) error {
	rg, err := storage.ResourceGroups.Get(tx, rgID)
	if err != nil || rg.TeamID != p.TeamID {
		return invalidf("resource group %q does not exist", rgID)
	}
	pr, err := storage.Projects.Get(tx, projectID)
	if err != nil || pr.TeamID != p.TeamID {
		return invalidf("project %q does not exist", projectID)
	}
	if pr.ResourceGroupID != rgID {
		return invalidf("project %q does not belong to resource group %q", projectID, rgID)
	}
	return nil
}

// connRules returns the connection's rules by priority.
func connRules(tx storage.ReadTx, connID string) ([]*storage.Rule, error) {
	rs, err := storage.Rules.List(tx, storage.RulesByConnection, connID)
	if err != nil {
		return nil, err
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Priority != rs[j].Priority {
			return rs[i].Priority < rs[j].Priority
		}
		return rs[i].ID < rs[j].ID
	})
	return rs, nil
}

func checkRuleName(rules []*storage.Rule, name, exceptID string) error {
	for _, r := range rules {
		if r.ID != exceptID && strings.EqualFold(r.Name, name) {
			return conflictf("the connection already has an account rule named %q", name)
		}
	}
	return nil
}

// CreateAccountRule creates an account rule on the connection with the lowest priority (it goes
// last) and re-evaluates the connection's accounts (in the same transaction when at most 1,000 of
// them change, else in chunks right after it; see ruleChange). Needs resource_admin, or
// delegated_resource_admin of the rule's resource group. With EnableInitialPasswordRotation, the
// accounts the rule brings under management are rotated before it returns (failures are recorded
// on the accounts, not returned; Tick retries them). Errors: ErrInvalid for bad input (a name,
// rule type, OU that is not a DN, filter, EnableImportOktaUsers true, or a resource group or
// project that does not exist or do not match); ErrNotFound for an unknown connection; ErrConflict when the connection is not
// connected (rules cannot be created while it is disconnected or inactive) or the name is taken on
// the connection (case-insensitively); ErrForbidden. Safe for concurrent use.
func (e *Engine) CreateAccountRule(ctx context.Context, p Principal, connID string, in AccountRuleInput) (ADAccountRule, error) {
	return e.saveAccountRule(ctx, p, connID, in, func(tx storage.WriteTx, now time.Time) (*storage.Rule, error) {
		conn, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return nil, err
		}
		if conn.Status != ConnectionConnected {
			return nil, conflictf("AD connection %q is %s: account rules can only be created while it is connected", connID, conn.Status)
		}
		return &storage.Rule{ID: e.newID(), TeamID: p.TeamID, ConnectionID: connID, CreatedAt: now}, nil
	})
}

// saveAccountRule is the skeleton of CreateAccountRule and UpdateAccountRule. It validates in and
// checks that p administers in's resource group; then, in one rule change (ruleChange), load finds
// the rule to update or makes a new one (with no priority yet), the target and the name are
// checked against the connection's rules, a new rule is given the lowest priority, and the rule is
// filled from in and stored.
func (e *Engine) saveAccountRule(ctx context.Context, p Principal, connID string, in AccountRuleInput, load func(tx storage.WriteTx, now time.Time) (*storage.Rule, error)) (ADAccountRule, error) {
	if err := p.check(); err != nil {
		return ADAccountRule{}, err
	}
	in.OrganizationalUnits = slices.Clone(in.OrganizationalUnits)
	in.EnhancedFilters = cloneFilters(in.EnhancedFilters)
	if err := in.validate(); err != nil {
		return ADAccountRule{}, err
	}
	if err := p.requireIn(RoleResourceAdmin, in.ResourceGroup.ID); err != nil {
		return ADAccountRule{}, err
	}
	var out ADAccountRule
	err := e.ruleChange(ctx, p, connID, func(tx storage.WriteTx, now time.Time) error {
		r, err := load(tx, now)
		if err != nil {
			return err
		}
		if err := e.checkTarget(tx, p, in.ResourceGroup.ID, in.Project.ID); err != nil {
			return err
		}
		rules, err := connRules(tx, connID)
		if err != nil {
			return err
		}
		if err := checkRuleName(rules, in.Name, r.ID); err != nil {
			return err
		}
		insert := r.Priority == 0
		if insert {
			r.Priority = len(rules) + 1
			if len(rules) > 0 {
				r.Priority = max(r.Priority, rules[len(rules)-1].Priority+1)
			}
		}
		setRule(r, in)
		r.UpdatedAt = now
		if insert {
			err = storage.Rules.Insert(tx, r)
		} else {
			err = storage.Rules.Update(tx, r)
		}
		if err != nil {
			return err
		}
		out = newNamer(tx).rule(r)
		return nil
	})
	return out, err
}

func setRule(r *storage.Rule, in AccountRuleInput) {
	r.Name, r.RuleType = in.Name, in.RuleType
	r.OrganizationalUnits = slices.Clone(in.OrganizationalUnits)
	r.EnhancedFilters = storedFilters(in.EnhancedFilters)
	r.ProjectID, r.ResourceGroupID = in.Project.ID, in.ResourceGroup.ID
	r.EnableInitialPasswordRotation, r.EnableImportOktaUsers = in.EnableInitialPasswordRotation, in.EnableImportOktaUsers
}

// storedFilters converts enhanced filters to their stored form.
func storedFilters(fs [][]RuleFilter) [][]storage.RuleFilter {
	if fs == nil {
		return nil
	}
	out := make([][]storage.RuleFilter, len(fs))
	for i, row := range fs {
		out[i] = make([]storage.RuleFilter, len(row))
		for j, f := range row {
			out[i][j] = storage.RuleFilter(f)
		}
	}
	return out
}

func cloneFilters(fs [][]RuleFilter) [][]RuleFilter {
	if fs == nil {
		return nil
	}
	out := make([][]RuleFilter, len(fs))
	for i, f := range fs {
		out[i] = slices.Clone(f)
	}
	return out
}

// AccountRules returns the connection's account rules by priority (highest first). Needs
// resource_admin (team-wide or delegated) or security_admin. Errors: ErrNotFound, ErrForbidden.
// Safe for concurrent use.
func (e *Engine) AccountRules(ctx context.Context, p Principal, connID string) ([]ADAccountRule, error) {
	if err := p.requireResourceRead(); err != nil {
		return nil, err
	}
	out := []ADAccountRule{}
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamConnection(tx, p, connID); err != nil {
			return err
		}
		rules, err := connRules(tx, connID)
		if err != nil {
			return err
		}
		out = rulesView(tx, rules)
		return nil
	})
	return out, err
}

// rulesView returns the wire view of rules, in their order (never nil).
func rulesView(tx storage.ReadTx, rules []*storage.Rule) []ADAccountRule {
	out := make([]ADAccountRule, 0, len(rules))
	n := newNamer(tx)
	for _, r := range rules {
		out = append(out, n.rule(r))
	}
	return out
}

// AccountRule returns one account rule of the connection. Roles as AccountRules. Errors:
// ErrNotFound for an unknown connection or rule, ErrForbidden. Safe for concurrent use.
func (e *Engine) AccountRule(ctx context.Context, p Principal, connID, ruleID string) (ADAccountRule, error) {
	if err := p.requireResourceRead(); err != nil {
		return ADAccountRule{}, err
	}
	var out ADAccountRule
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		r, err := e.connRule(tx, p, connID, ruleID)
		if err != nil {
			return err
		}
		out = newNamer(tx).rule(r)
		return nil
	})
	return out, err
}

func (e *Engine) connRule(tx storage.ReadTx, p Principal, connID, ruleID string) (*storage.Rule, error) {
	if _, err := e.teamConnection(tx, p, connID); err != nil {
		return nil, err
	}
	r, err := storage.Rules.Get(tx, ruleID)
	if err != nil || r.ConnectionID != connID {
		return nil, notFoundf("account rule %q does not exist on AD connection %q", ruleID, connID)
	}
	return r, nil
}

// UpdateAccountRule replaces an account rule's definition (its priority is kept) and re-evaluates
// the connection's accounts (in the same transaction unless more than 1,000 change: see
// ruleChange); match overrides are kept. Needs resource_admin, or delegated_resource_admin of both
// the rule's current and its new resource group. Errors as CreateAccountRule, except that a
// disconnected connection does not prevent updates; ErrNotFound for an unknown rule. Safe for concurrent use.
func (e *Engine) UpdateAccountRule(ctx context.Context, p Principal, connID, ruleID string, in AccountRuleInput) (ADAccountRule, error) {
	return e.saveAccountRule(ctx, p, connID, in, func(tx storage.WriteTx, _ time.Time) (*storage.Rule, error) {
		r, err := e.connRule(tx, p, connID, ruleID)
		if err != nil {
			return nil, err
		}
		return r, p.requireIn(RoleResourceAdmin, r.ResourceGroupID)
	})
}

// ruleChange runs fn, a change to the connection's rules or rule settings, in a write transaction
// that then re-evaluates the connection's accounts (evaluateConnection). When that evaluation
// changes more accounts than one transaction should write, the change commits first and
// evaluateChunked finishes the evaluation before ruleChange returns; an error from that part is
// returned with the change itself kept. Then the checkouts whose holders lost access through the
// change are checked in (afterAccessChange).
func (e *Engine) ruleChange(ctx context.Context, p Principal, connID string, fn func(tx storage.WriteTx, now time.Time) error) error {
	var (
		deferred bool
		now      time.Time
	)
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		now = e.now()
		if err := fn(tx, now); err != nil {
			return err
		}
		conn, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		_, done, err := e.evaluateConnection(tx, conn, now, writeChunk)
		deferred = !done
		return err
	})
	if err == nil && deferred {
		_, err = e.evaluateChunked(ctx, connID, now, nil)
	}
	if err == nil {
		e.rotateInitial(ctx, connID)
		// A rule change can take an account out of what a holder's policy selects (another
		// type, project or resource group) while it stays managed: a loss of access (lostaccess.go).
		e.afterAccessChange(ctx, p.TeamID, nil)
	}
	return err
}

// DeleteAccountRule deletes an account rule, renumbers the remaining priorities 1..n and
// re-evaluates the connection's accounts (as ruleChange does: accounts only the deleted rule
// managed become unmanaged; their match overrides are kept). Needs resource_admin, or
// delegated_resource_admin of the rule's resource group. Errors: ErrNotFound, ErrForbidden. Safe
// for concurrent use.
func (e *Engine) DeleteAccountRule(ctx context.Context, p Principal, connID, ruleID string) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.ruleChange(ctx, p, connID, func(tx storage.WriteTx, now time.Time) error {
		r, err := e.connRule(tx, p, connID, ruleID)
		if err != nil {
			return err
		}
		if err := p.requireIn(RoleResourceAdmin, r.ResourceGroupID); err != nil {
			return err
		}
		if err := storage.Rules.Delete(tx, r.ID); err != nil {
			return err
		}
		rules, err := connRules(tx, connID)
		if err != nil {
			return err
		}
		return renumber(tx, rules, now)
	})
}

// renumber gives rules (in order) the priorities 1..n, writing only those that change.
func renumber(tx storage.WriteTx, rules []*storage.Rule, now time.Time) error {
	for i, r := range rules {
		if r.Priority != i+1 {
			r.Priority, r.UpdatedAt = i+1, now
			if err := storage.Rules.Update(tx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReorderAccountRules sets the priorities of all of the connection's rules at once and returns them
// in the new order; the accounts are re-evaluated as by ruleChange. order must name every
// rule of the connection exactly once; the rules are ranked by the given priorities (lower wins) and
// renumbered 1..n. Needs resource_admin (team-wide: the order affects every resource group).
//
// Errors: ErrInvalid when the list is empty, an entry lacks a rule_id or a positive priority, a
// rule or a priority appears twice, or a rule_id is not a rule of the connection (a rule deleted
// meanwhile reads as unknown: no tombstones are kept); ErrConflict when the list leaves out rules
// of the connection (they were created meanwhile, so the client's view is stale: reload and
// retry); ErrNotFound for an unknown connection; ErrForbidden. Safe for concurrent use.
func (e *Engine) ReorderAccountRules(ctx context.Context, p Principal, connID string, order []RulePriority) ([]ADAccountRule, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, invalidf("the reorder list must name every account rule of the connection")
	}
	ids, prios := map[string]bool{}, map[int]bool{}
	for _, o := range order {
		switch {
		case o.RuleID == "":
			return nil, invalidf("every reorder entry needs a rule_id")
		case o.Priority <= 0:
			return nil, invalidf("rule %q needs a positive priority", o.RuleID)
		case ids[o.RuleID]:
			return nil, invalidf("rule %q appears twice in the reorder list", o.RuleID)
		case prios[o.Priority]:
			return nil, invalidf("priority %d appears twice in the reorder list", o.Priority)
		}
		ids[o.RuleID], prios[o.Priority] = true, true
	}
	sorted := slices.Clone(order)
	slices.SortFunc(sorted, func(a, b RulePriority) int { return a.Priority - b.Priority })
	var out []ADAccountRule
	err := e.ruleChange(ctx, p, connID, func(tx storage.WriteTx, now time.Time) error {
		if _, err := e.teamConnection(tx, p, connID); err != nil {
			return err
		}
		rules, err := connRules(tx, connID)
		if err != nil {
			return err
		}
		byID := map[string]*storage.Rule{}
		for _, r := range rules {
			byID[r.ID] = r
		}
		for _, o := range sorted {
			if byID[o.RuleID] == nil {
				return invalidf("rule %q is not an account rule of AD connection %q", o.RuleID, connID)
			}
		}
		if len(sorted) != len(rules) {
			return conflictf("the account rules of AD connection %q changed meanwhile: the list names %d of %d rules; reload them and retry", connID, len(sorted), len(rules))
		}
		next := make([]*storage.Rule, len(sorted))
		for i, o := range sorted {
			next[i] = byID[o.RuleID]
		}
		if err := renumber(tx, next, now); err != nil {
			return err
		}
		out = rulesView(tx, next)
		return nil
	})
	return out, err
}

func (n *namer) rule(r *storage.Rule) ADAccountRule {
	out := ADAccountRule{
		ID: r.ID, Name: r.Name, RuleType: r.RuleType, OrganizationalUnits: slices.Clone(r.OrganizationalUnits),
		Priority: r.Priority, EnableInitialPasswordRotation: r.EnableInitialPasswordRotation,
		EnableImportOktaUsers: r.EnableImportOktaUsers,
		ResourceGroup:         *n.get(NamedResourceGroup, r.ResourceGroupID),
		Project:               *n.get(NamedProject, r.ProjectID),
	}
	for _, fs := range r.EnhancedFilters {
		row := make([]RuleFilter, len(fs))
		for i, f := range fs {
			row[i] = RuleFilter(f)
		}
		out.EnhancedFilters = append(out.EnhancedFilters, row)
	}
	return out
}
