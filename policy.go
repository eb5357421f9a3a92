package opa

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// Privileges a security policy rule grants on a resource (SecurityPolicyRulePrivilegeType).
const (
	PrivilegeRevealPassword      = "reveal_password"
	PrivilegePasswordCheckoutRDP = "password_checkout_rdp"
	PrivilegePasswordCheckoutSSH = "password_checkout_ssh"
	PrivilegeRotatePassword      = "rotate_password"
	// PrivilegeUpdatePassword is the rotation privilege of Okta Universal Directory accounts: the
	// SDK's service-account privileges are reveal_password and update_password, so a UD rule's
	// rotate_password is stored and shown as update_password (docs/wire.md#security-policies).
	PrivilegeUpdatePassword = "update_password"
)

// Account types of managed AD accounts: the same values as AccountShared and AccountIndividual,
// under the names the security policy selectors use.
const (
	AccountTypeShared     = AccountShared
	AccountTypeIndividual = AccountIndividual
)

// Checkout duration limits, for both project settings and policy conditions.
const (
	MinCheckoutSeconds = 900
	MaxCheckoutSeconds = 86400
)

func knownPrivilege(s string) bool {
	switch s {
	case PrivilegeRevealPassword, PrivilegePasswordCheckoutRDP, PrivilegePasswordCheckoutSSH, PrivilegeRotatePassword, PrivilegeUpdatePassword:
		return true
	}
	return false
}

// revealPrivilege reports whether the privilege lets its holder read the password.
func revealPrivilege(s string) bool {
	return s == PrivilegeRevealPassword || s == PrivilegePasswordCheckoutRDP || s == PrivilegePasswordCheckoutSSH
}

// PolicyResources selects the resources a policy rule applies to (see PolicyInput). Empty
// selectors select nothing.
type PolicyResources struct {
	ADConnectionIDs    []string `json:"ad_connection_ids,omitempty"`
	ADAccountTypes     []string `json:"ad_account_types,omitempty"`
	ADAccountIDs       []string `json:"ad_account_ids,omitempty"`
	ADOwnIndividual    bool     `json:"ad_own_individual,omitempty"`
	UDProjectIDs       []string `json:"ud_project_ids,omitempty"`
	UDAccountIDs       []string `json:"ud_account_ids,omitempty"`
	ADProjectIDs       []string `json:"ad_project_ids,omitempty"`
	ADResourceGroupIDs []string `json:"ad_resource_group_ids,omitempty"`
}

// PolicyConditions are the conditions a policy rule attaches to its privileges.
// CheckoutMaxSeconds without CheckoutRequired limits the checkouts the project's settings
// require (the wire's override_checkout_duration_in_seconds). AccessRequests, MFA and Gateway
// carry the parameters of the wire's conditions (policydetails.go): MFARequired is set exactly
// when MFA is, AccessRequestRequired when AccessRequests is not empty (CreatePolicy fills in
// whichever side is missing).
type PolicyConditions struct {
	CheckoutRequired      bool                     `json:"checkout_required,omitempty"`
	CheckoutMaxSeconds    int                      `json:"checkout_max_seconds,omitempty"`
	MFARequired           bool                     `json:"mfa_required,omitempty"`
	AccessRequestRequired bool                     `json:"access_request_required,omitempty"`
	AccessRequests        []AccessRequestCondition `json:"access_requests,omitempty"`
	MFA                   *MFACondition            `json:"mfa,omitempty"`
	Gateway               *GatewayCondition        `json:"gateway,omitempty"`
}

// PolicyRule grants privileges (the Privilege constants) on resources under conditions.
//
// ResourceType is one of the RuleResource constants, or empty for a rule whose type follows from
// Resources (AD or UD). Server and secret rules (Servers, Secrets) are kept and served as the API
// sent them, and grant nothing in this engine, which manages no servers or secrets.
// PrivilegeOptions, when set, lists the privileges as the API does, in order, with their values;
// Privileges is then derived from it (the granted ones).
type PolicyRule struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Resources        PolicyResources   `json:"resources"`
	Privileges       []string          `json:"privileges"`
	Conditions       PolicyConditions  `json:"conditions"`
	ResourceType     string            `json:"resource_type,omitempty"`
	Servers          []PolicyServer    `json:"servers,omitempty"`
	Secrets          []PolicySecret    `json:"secrets,omitempty"`
	PrivilegeOptions []PolicyPrivilege `json:"privilege_options,omitempty"`
}

// Policy is a security policy of a team: its principals and the rules that apply to them.
type Policy struct {
	ID                string       `json:"id"`
	TeamID            string       `json:"team_id"`
	Name              string       `json:"name"`
	Description       string       `json:"description,omitempty"`
	Active            bool         `json:"active"`
	PrincipalUserIDs  []string     `json:"principal_user_ids,omitempty"`
	PrincipalGroupIDs []string     `json:"principal_group_ids,omitempty"`
	Rules             []PolicyRule `json:"rules"`
	Type              string       `json:"type,omitempty"`
	ResourceGroupID   string       `json:"resource_group_id,omitempty"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

func policyOf(pol *storage.Policy) Policy {
	out := Policy{
		ID: pol.ID, TeamID: pol.TeamID, Name: pol.Name, Description: pol.Description, Active: pol.Active,
		PrincipalUserIDs: slices.Clone(pol.PrincipalUserIDs), PrincipalGroupIDs: slices.Clone(pol.PrincipalGroupIDs),
		Rules: make([]PolicyRule, len(pol.Rules)), Type: pol.Type, ResourceGroupID: pol.ResourceGroupID,
		CreatedAt: pol.CreatedAt, UpdatedAt: pol.UpdatedAt,
	}
	for i, r := range pol.Rules {
		out.Rules[i] = PolicyRule{ID: r.ID, Name: r.Name, Resources: PolicyResources(clonePolicyResources(r.Resources)),
			Privileges: slices.Clone(r.Privileges), Conditions: policyConditionsOf(r.Conditions), ResourceType: r.ResourceType,
			Servers: serversOf(r.Servers), Secrets: secretsOf(r.Secrets), PrivilegeOptions: privilegeOptionsOf(r.PrivilegeOptions)}
	}
	return out
}

// storedPolicyRule converts a rule to its stored form, copying its lists.
func storedPolicyRule(r PolicyRule) storage.PolicyRule {
	return storage.PolicyRule{ID: r.ID, Name: r.Name, Resources: clonePolicyResources(storage.PolicyResources(r.Resources)),
		Privileges: slices.Clone(r.Privileges), Conditions: storedConditions(r.Conditions), ResourceType: r.ResourceType,
		Servers: storedServers(r.Servers), Secrets: storedSecrets(r.Secrets), PrivilegeOptions: storedPrivilegeOptions(r.PrivilegeOptions)}
}

// PolicyInput describes a security policy to create or replace. Type is "", PolicyTypeDefault or
// PolicyTypeServiceAccount (kept and served, no effect here); ResourceGroupID, when set, limits
// what the policy grants to the resources of that resource group.
//
// Rules select resources with PolicyResources. DESIGN: within a rule the AD selectors that
// are set are ANDed (ADConnectionIDs and ADAccountTypes {SHARED} select the shared accounts of those
// connections; ADOwnIndividual selects the INDIVIDUAL accounts matched to the requesting user), and
// a rule with no AD selector selects no AD account; likewise UDProjectIDs and UDAccountIDs for
// Universal Directory accounts. Conditions.CheckoutMaxSeconds is 0 (use the project's duration) or
// between MinCheckoutSeconds and MaxCheckoutSeconds.
type PolicyInput struct {
	Name              string
	Description       string
	Active            bool
	PrincipalUserIDs  []string
	PrincipalGroupIDs []string
	Rules             []PolicyRule
	Type              string
	ResourceGroupID   string
}

// CreatePolicy creates a security policy in p's team and returns it with ids assigned to its rules.
// Needs security_admin. Errors: ErrInvalid for bad input, including references in the input (users,
// groups, connections, accounts, projects, resource groups) that do not exist in the team — DESIGN:
// an unknown reference in a request body is invalid input, only the object named by the operation
// itself is ErrNotFound. Safe for concurrent use.
func (e *Engine) CreatePolicy(ctx context.Context, p Principal, in PolicyInput) (Policy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Policy{}, err
	}
	now := e.now()
	pol := storage.Policy{ID: e.newID(), TeamID: p.TeamID, CreatedAt: now, UpdatedAt: now}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := e.fillPolicy(tx, p, &pol, in); err != nil {
			return err
		}
		if err := storage.Policies.Insert(tx, &pol); err != nil {
			return err
		}
		return e.audit(tx, p, AuditPolicyChange, "security_policy", pol.ID, "created", pol.Name)
	})
	if err != nil {
		return Policy{}, err
	}
	return policyOf(&pol), nil
}

// UpdatePolicy replaces the policy's name, description, state, principals and rules. Rules that
// keep their id keep it; new rules get one. Needs security_admin. Errors: ErrNotFound for an unknown
// policy, ErrInvalid as for CreatePolicy. The change applies to the next request of every user;
// a checkout whose holder it leaves without access is checked in by the system
// (system_user_lost_access) and its password rotated before it returns (lostaccess.go).
func (e *Engine) UpdatePolicy(ctx context.Context, p Principal, policyID string, in PolicyInput) (Policy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Policy{}, err
	}
	var out Policy
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		pol, err := e.teamPolicy(tx, p, policyID)
		if err != nil {
			return err
		}
		if err := e.fillPolicy(tx, p, pol, in); err != nil {
			return err
		}
		pol.UpdatedAt = e.now()
		if err := storage.Policies.Update(tx, pol); err != nil {
			return err
		}
		out = policyOf(pol)
		return e.audit(tx, p, AuditPolicyChange, "security_policy", pol.ID, "updated", pol.Name)
	})
	if err == nil {
		e.afterAccessChange(ctx, p.TeamID, nil)
	}
	return out, err
}

// DeletePolicy deletes a security policy. Needs security_admin. ErrNotFound for an unknown policy.
// A checkout whose holder has no access left without it is checked in by the system
// (system_user_lost_access) and its password rotated (lostaccess.go).
func (e *Engine) DeletePolicy(ctx context.Context, p Principal, policyID string) error {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		pol, err := e.teamPolicy(tx, p, policyID)
		if err != nil {
			return err
		}
		if err := storage.Policies.Delete(tx, pol.ID); err != nil {
			return err
		}
		return e.audit(tx, p, AuditPolicyChange, "security_policy", pol.ID, "deleted", pol.Name)
	})
	if err == nil {
		e.afterAccessChange(ctx, p.TeamID, nil)
	}
	return err
}

// Policy returns one security policy. Needs security_admin. ErrNotFound for an unknown policy.
func (e *Engine) Policy(ctx context.Context, p Principal, policyID string) (Policy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Policy{}, err
	}
	var out Policy
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pol, err := e.teamPolicy(tx, p, policyID)
		if err == nil {
			out = policyOf(pol)
		}
		return err
	})
	return out, err
}

// Policies returns the team's security policies ordered by name. Needs security_admin.
func (e *Engine) Policies(ctx context.Context, p Principal) ([]Policy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return nil, err
	}
	var out []Policy
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		ps, err := storage.Policies.List(tx, storage.PoliciesByTeam, p.TeamID)
		for _, pol := range ps {
			out = append(out, policyOf(pol))
		}
		return err
	})
	slices.SortFunc(out, func(a, b Policy) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

func (e *Engine) teamPolicy(tx storage.ReadTx, p Principal, id string) (*storage.Policy, error) {
	pol, err := storage.Policies.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "security policy %q does not exist", id)
	}
	if err := p.sameTeam(pol.TeamID, "security policy", id); err != nil {
		return nil, err
	}
	return pol, nil
}

// fillPolicy validates in and copies it into pol.
func (e *Engine) fillPolicy(tx storage.ReadTx, p Principal, pol *storage.Policy, in PolicyInput) error {
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 255 {
		return invalidf("security policy name must be 1-255 characters")
	}
	if len(in.PrincipalUserIDs)+len(in.PrincipalGroupIDs) == 0 {
		return invalidf("a security policy needs at least one principal (user or group)")
	}
	for _, id := range in.PrincipalUserIDs {
		if u, err := storage.Users.Get(tx, id); err != nil || u.TeamID != p.TeamID {
			return invalidf("principal user %q does not exist", id)
		}
	}
	for _, id := range in.PrincipalGroupIDs {
		if g, err := storage.Groups.Get(tx, id); err != nil || g.TeamID != p.TeamID {
			return invalidf("principal group %q does not exist", id)
		}
	}
	if err := checkPolicyType(in.Type); err != nil {
		return err
	}
	if in.ResourceGroupID != "" {
		if rg, err := storage.ResourceGroups.Get(tx, in.ResourceGroupID); err != nil || rg.TeamID != p.TeamID {
			return invalidf("resource group %q does not exist", in.ResourceGroupID)
		}
	}
	old := map[string]bool{}
	for _, r := range pol.Rules {
		old[r.ID] = true
	}
	seen := map[string]bool{}
	rules := make([]storage.PolicyRule, 0, len(in.Rules))
	for i, given := range in.Rules {
		r := storedPolicyRule(given)
		normalizeRule(&r)
		if err := e.checkPolicyRule(tx, p, r); err != nil {
			return invalidf("rule %d (%q): %v", i+1, r.Name, err)
		}
		if r.ID == "" || (!old[r.ID] && !uuidRE.MatchString(r.ID)) {
			r.ID = e.newID()
		}
		if seen[r.ID] {
			return invalidf("rule %d: rule id %q appears twice", i+1, r.ID)
		}
		seen[r.ID] = true
		rules = append(rules, r)
	}
	pol.Name, pol.Description, pol.Active = in.Name, in.Description, in.Active
	pol.PrincipalUserIDs, pol.PrincipalGroupIDs = slices.Clone(in.PrincipalUserIDs), slices.Clone(in.PrincipalGroupIDs)
	pol.Rules = rules
	pol.Type, pol.ResourceGroupID = in.Type, in.ResourceGroupID
	return nil
}

func clonePolicyResources(r storage.PolicyResources) storage.PolicyResources {
	return storage.PolicyResources{
		ADConnectionIDs: slices.Clone(r.ADConnectionIDs), ADAccountTypes: slices.Clone(r.ADAccountTypes),
		ADAccountIDs: slices.Clone(r.ADAccountIDs), ADOwnIndividual: r.ADOwnIndividual,
		UDProjectIDs: slices.Clone(r.UDProjectIDs), UDAccountIDs: slices.Clone(r.UDAccountIDs),
		ADProjectIDs: slices.Clone(r.ADProjectIDs), ADResourceGroupIDs: slices.Clone(r.ADResourceGroupIDs),
	}
}

// checkPolicyRule validates one rule; its errors are wrapped by the caller into ErrInvalid.
func (e *Engine) checkPolicyRule(tx storage.ReadTx, p Principal, r storage.PolicyRule) error {
	if len(r.Name) > 255 {
		return invalidf("the name is longer than 255 characters")
	}
	if len(r.Privileges) == 0 {
		return invalidf("at least one privilege is required")
	}
	switch typ := ruleResourceType(r); typ {
	case RuleResourceServer, RuleResourceSecret:
		return e.checkServerOrSecretRule(tx, p.TeamID, typ, r)
	case RuleResourceAD, RuleResourceUD:
		if r.ResourceType != "" && (typ == RuleResourceAD && hasUDSelector(r.Resources) || typ == RuleResourceUD && hasADSelector(r.Resources)) {
			return invalidf("a %s rule selects only its own kind of account", typ)
		}
	default:
		return invalidf("unknown resource_type %q", typ)
	}
	if len(r.Servers)+len(r.Secrets) > 0 {
		return invalidf("server and secret selectors belong to server_based_resource and secret_based_resource rules")
	}
	for _, pr := range r.Privileges {
		if !knownPrivilege(pr) {
			return invalidf("unknown privilege %q (want reveal_password, password_checkout_rdp, password_checkout_ssh, rotate_password or, for UD accounts, update_password)", pr)
		}
		if pr == PrivilegeUpdatePassword && ruleResourceType(r) == RuleResourceAD {
			return invalidf("update_password applies to UD accounts; AD accounts take rotate_password")
		}
		if ruleResourceType(r) == RuleResourceUD && pr != PrivilegeRevealPassword && pr != PrivilegeUpdatePassword {
			return invalidf("UD accounts take reveal_password and update_password (rotate_password), not %s", pr)
		}
	}
	if err := e.checkPrivilegeOptions(tx, p.TeamID, r); err != nil {
		return err
	}
	if err := checkConditionDetails(r.Conditions, false); err != nil {
		return err
	}
	res := r.Resources
	if !hasADSelector(res) && !hasUDSelector(res) {
		return invalidf("select at least one resource (AD connections, account types, accounts, projects, resource groups, own individual accounts, or UD projects or accounts)")
	}
	for _, t := range res.ADAccountTypes {
		if t != AccountTypeShared && t != AccountTypeIndividual {
			return invalidf("unknown AD account type %q (want SHARED or INDIVIDUAL)", t)
		}
	}
	exists := func(kind string, ids []string, get func(string) (string, error)) error {
		for _, id := range ids {
			team, err := get(id)
			if err != nil || team != p.TeamID {
				return invalidf("%s %q does not exist", kind, id)
			}
		}
		return nil
	}
	checks := []error{
		exists("AD connection", res.ADConnectionIDs, func(id string) (string, error) {
			c, err := storage.Connections.Get(tx, id)
			if err != nil {
				return "", err
			}
			return c.TeamID, nil
		}),
		exists("AD account", res.ADAccountIDs, func(id string) (string, error) {
			a, err := storage.Accounts.Get(tx, id)
			if err != nil {
				return "", err
			}
			return a.TeamID, nil
		}),
		exists("project", append(slices.Clone(res.ADProjectIDs), res.UDProjectIDs...), func(id string) (string, error) {
			pr, err := storage.Projects.Get(tx, id)
			if err != nil {
				return "", err
			}
			if !pr.DeletedAt.IsZero() {
				return "", notFoundf("project %q is deleted", id) // a deleted project selects nothing
			}
			return pr.TeamID, nil
		}),
		exists("resource group", res.ADResourceGroupIDs, func(id string) (string, error) {
			rg, err := storage.ResourceGroups.Get(tx, id)
			if err != nil {
				return "", err
			}
			return rg.TeamID, nil
		}),
		exists("UD account", res.UDAccountIDs, func(id string) (string, error) {
			a, err := storage.UDAccounts.Get(tx, id)
			if err != nil {
				return "", err
			}
			return a.TeamID, nil
		}),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	c := r.Conditions
	if c.CheckoutMaxSeconds != 0 && (c.CheckoutMaxSeconds < MinCheckoutSeconds || c.CheckoutMaxSeconds > MaxCheckoutSeconds) {
		return invalidf("checkout_max_seconds (override_checkout_duration_in_seconds) must be 0 (the project's duration) or between %d and %d", MinCheckoutSeconds, MaxCheckoutSeconds)
	}
	return nil
}

func hasADSelector(r storage.PolicyResources) bool {
	return len(r.ADConnectionIDs) > 0 || len(r.ADAccountTypes) > 0 || len(r.ADAccountIDs) > 0 ||
		len(r.ADProjectIDs) > 0 || len(r.ADResourceGroupIDs) > 0 || r.ADOwnIndividual
}

func hasUDSelector(r storage.PolicyResources) bool {
	return len(r.UDProjectIDs) > 0 || len(r.UDAccountIDs) > 0
}

// grant is one policy rule that applies to a principal.
type grant struct {
	policyID        string
	resourceGroupID string              // the policy's: grants only within it when set
	rule            *storage.PolicyRule // borrowed: read only
}

// policySet holds the rules of the active policies whose principals include a user. The rules are
// borrowed from the store (storage.Table.Borrow): nothing may change them.
type policySet struct {
	userID string
	grants []grant
}

// policiesFor loads the rules that apply to p: active policies of p's team naming p's user or one of
// p's groups. Inactive policies grant nothing.
func policiesFor(tx storage.ReadTx, p Principal) (*policySet, error) {
	set := &policySet{userID: p.UserID}
	if p.UserID == "" {
		return set, nil
	}
	// Borrowed, not copied: every access check runs this, and the grants only read the rules.
	pols, err := storage.Policies.BorrowList(tx, storage.PoliciesByTeam, p.TeamID)
	if err != nil {
		return nil, err
	}
	for _, pol := range pols {
		if !pol.Active {
			continue
		}
		applies := slices.Contains(pol.PrincipalUserIDs, p.UserID)
		for _, g := range p.GroupIDs {
			applies = applies || slices.Contains(pol.PrincipalGroupIDs, g)
		}
		if !applies {
			continue
		}
		for i := range pol.Rules {
			set.grants = append(set.grants, grant{policyID: pol.ID, resourceGroupID: pol.ResourceGroupID, rule: &pol.Rules[i]})
		}
	}
	return set, nil
}

// forAccount returns the grants that select the AD account. Only managed accounts are selectable.
func (s *policySet) forAccount(a *storage.Account) []grant {
	if !adManaged(a) {
		return nil
	}
	var out []grant
	for _, g := range s.grants {
		r := g.rule.Resources
		if !hasADSelector(r) || g.resourceGroupID != "" && g.resourceGroupID != a.ResourceGroupID {
			continue
		}
		ok := (len(r.ADConnectionIDs) == 0 || slices.Contains(r.ADConnectionIDs, a.ConnectionID)) &&
			(len(r.ADAccountTypes) == 0 || slices.Contains(r.ADAccountTypes, a.AccountType)) &&
			(len(r.ADAccountIDs) == 0 || slices.Contains(r.ADAccountIDs, a.ID)) &&
			(len(r.ADProjectIDs) == 0 || slices.Contains(r.ADProjectIDs, a.ProjectID)) &&
			(len(r.ADResourceGroupIDs) == 0 || slices.Contains(r.ADResourceGroupIDs, a.ResourceGroupID)) &&
			(!r.ADOwnIndividual || (a.AccountType == AccountTypeIndividual && a.MatchedUserID == s.userID && s.userID != ""))
		if ok {
			out = append(out, g)
		}
	}
	return out
}

// forUD returns the grants that select the UD account.
func (s *policySet) forUD(a *storage.UDAccount) []grant {
	var out []grant
	for _, g := range s.grants {
		r := g.rule.Resources
		if !hasUDSelector(r) || g.resourceGroupID != "" && g.resourceGroupID != a.ResourceGroupID {
			continue
		}
		if (len(r.UDProjectIDs) == 0 || slices.Contains(r.UDProjectIDs, a.ProjectID)) &&
			(len(r.UDAccountIDs) == 0 || slices.Contains(r.UDAccountIDs, a.ID)) {
			out = append(out, g)
		}
	}
	return out
}

// adManaged reports whether an AD account is under management and present: only such accounts are
// visible to end users.
func adManaged(a *storage.Account) bool {
	return a.AccountType != "" && !a.Missing && a.ProjectID != ""
}
