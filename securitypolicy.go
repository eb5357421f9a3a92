package opa

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// SecurityPolicy is a security policy in the API's form (docs/wire.md#security-policies): the
// SDK's SecurityPolicy and the Terraform provider's v1 client struct in one. Responses carry both
// the outer type fields (resource_type, selector_type, privilege_type, condition_type) and the
// "_type" of every polymorphic object, so both readers decode them; requests may carry "_type"
// (v2) or not (v1), and the outer fields decide.
//
// The engine's own selectors that the SDK has no field for travel as extension keys that the SDK
// ignores: principals.users, and in the active_directory selector ad_connections,
// ad_account_types, ad_accounts, ad_own_individual, projects and resource_groups; a UD rule's
// projects are okta_universal_directory_project selectors; a rule's checkout requirement is
// checkout_required.
type SecurityPolicy struct {
	ID            string                   `json:"id,omitempty"`
	Name          string                   `json:"name"`
	Type          string                   `json:"type,omitempty"`
	Description   string                   `json:"description,omitempty"`
	Active        bool                     `json:"active"`
	Principals    SecurityPolicyPrincipals `json:"principals"`
	Rules         []SecurityPolicyRule     `json:"rules"`
	ResourceGroup *NamedObject             `json:"resource_group,omitempty"`
}

// SecurityPolicyPrincipals are the groups (and users, an extension) a policy applies to.
type SecurityPolicyPrincipals struct {
	UserGroups []NamedObject `json:"user_groups"`
	Users      []NamedObject `json:"users,omitempty"`
}

// SecurityPolicyRule is one rule of a SecurityPolicy. ID and SecurityPolicyID are ignored on
// input except that a rule keeps its id across updates (by ID, or else by name).
type SecurityPolicyRule struct {
	ID                                string                         `json:"id,omitempty"`
	SecurityPolicyID                  string                         `json:"security_policy_id,omitempty"`
	Name                              string                         `json:"name"`
	ResourceType                      string                         `json:"resource_type"`
	ResourceSelector                  SecurityPolicyResourceSelector `json:"resource_selector"`
	Privileges                        []SecurityPolicyPrivilege      `json:"privileges"`
	Conditions                        []SecurityPolicyCondition      `json:"conditions,omitempty"`
	OverrideCheckoutDurationInSeconds *int                           `json:"override_checkout_duration_in_seconds,omitempty"`
	CheckoutRequired                  bool                           `json:"checkout_required,omitempty"`
}

// SecurityPolicyResourceSelector is {"_type": resource type, "selectors": [...]}.
type SecurityPolicyResourceSelector struct {
	Type      string                    `json:"_type"`
	Selectors []SecurityPolicySelectors `json:"selectors"`
}

// SecurityPolicySelectors is one {"selector_type", "selector"} container.
type SecurityPolicySelectors struct {
	SelectorType string                 `json:"selector_type"`
	Selector     SecurityPolicySelector `json:"selector"`
}

// SecurityPolicySelector is every sub-selector shape in one struct; SelectorType says which
// fields apply: individual_server and individual_server_account (Server, Username), server_label
// (ServerSelector, AccountSelectorType, AccountSelector), secret and secret_folder, active_directory
// (IndividualAccounts, SharedAccounts and the AD extension keys), individual_okta_account
// (ServiceAccount) and okta_universal_directory_project (Project).
type SecurityPolicySelector struct {
	Type                string                `json:"_type"`
	Server              *NamedObject          `json:"server,omitempty"`
	Username            string                `json:"username,omitempty"`
	ServerSelector      *ServerLabelSelector  `json:"server_selector,omitempty"`
	AccountSelectorType string                `json:"account_selector_type,omitempty"`
	AccountSelector     *AccountSelector      `json:"account_selector,omitempty"`
	Secret              *NamedObject          `json:"secret,omitempty"`
	SecretFolder        *NamedObject          `json:"secret_folder,omitempty"`
	IndividualAccounts  *ADIndividualAccounts `json:"individual_accounts,omitempty"`
	SharedAccounts      *ADSharedAccounts     `json:"shared_accounts,omitempty"`
	Servers             json.RawMessage       `json:"servers,omitempty"`
	SSHServers          json.RawMessage       `json:"ssh_servers,omitempty"`
	ADConnections       []NamedObject         `json:"ad_connections,omitempty"`
	ADAccountTypes      []string              `json:"ad_account_types,omitempty"`
	ADAccounts          []ADSpecificAccount   `json:"ad_accounts,omitempty"`
	ADOwnIndividual     bool                  `json:"ad_own_individual,omitempty"`
	Projects            []NamedObject         `json:"projects,omitempty"`
	ResourceGroups      []NamedObject         `json:"resource_groups,omitempty"`
	ServiceAccount      *NamedObject          `json:"service_account,omitempty"`
	Project             *NamedObject          `json:"project,omitempty"`
}

// ServerLabelSelector is {"labels": {…}}.
type ServerLabelSelector struct {
	Labels map[string]string `json:"labels"`
}

// AccountSelector is {"_type":"username","usernames":[…]} or {"_type":"none"}.
type AccountSelector struct {
	Type      string   `json:"_type"`
	Usernames []string `json:"usernames,omitempty"`
}

// ADIndividualAccounts selects the INDIVIDUAL accounts matched to the requesting user, in the
// given domains (all when empty). ByCondition is not supported (400).
type ADIndividualAccounts struct {
	ByCondition json.RawMessage `json:"by_condition,omitempty"`
	ByDomain    []string        `json:"by_domain,omitempty"`
}

// ADSharedAccounts selects SHARED accounts: of the given domains, and when SpecificAccounts is
// set, only those. ByMatchingNames is not supported (400).
type ADSharedAccounts struct {
	ByMatchingNames  []string            `json:"by_matching_names,omitempty"`
	ByDomain         []string            `json:"by_domain,omitempty"`
	SpecificAccounts []ADSpecificAccount `json:"specific_accounts,omitempty"`
}

// ADSpecificAccount names an AD account by domain and SID.
type ADSpecificAccount struct {
	Domain      string `json:"domain"`
	AccountSID  string `json:"account_sid"`
	AccountName string `json:"account_name,omitempty"`
	Missing     bool   `json:"missing,omitempty"`
}

// Selector types beyond the server ones.
const (
	selectorSecret       = "secret"
	selectorSecretFolder = "secret_folder"
	selectorAD           = "active_directory"
	selectorUDAccount    = "individual_okta_account"
	selectorUDProject    = "okta_universal_directory_project"
	namedServer          = "server"
	namedGroup           = "user_group"
	namedSudoBundle      = "sudo_command_bundle"
	namedSecretFolder    = "secret_folder"
	maxPolicyRules       = 100
	maxSelectorsPerRule  = 100
	maxPolicyDescription = 4096
)

// CreateSecurityPolicy creates a policy from its API form and returns it as stored (ids assigned).
// The same as CreatePolicy with the input converted: needs security_admin; ErrInvalid for bad
// input or references to objects that do not exist. Safe for concurrent use.
func (e *Engine) CreateSecurityPolicy(ctx context.Context, p Principal, in SecurityPolicy) (SecurityPolicy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return SecurityPolicy{}, err
	}
	now := e.now()
	pol := storage.Policy{ID: e.newID(), TeamID: p.TeamID, CreatedAt: now, UpdatedAt: now}
	var out SecurityPolicy
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		pin, err := e.policyInputOf(tx, p, in, nil)
		if err != nil {
			return err
		}
		if err := e.fillPolicy(tx, p, &pol, pin); err != nil {
			return err
		}
		if err := storage.Policies.Insert(tx, &pol); err != nil {
			return err
		}
		out = securityPolicyOf(tx, &pol)
		return e.audit(tx, p, AuditPolicyChange, "security_policy", pol.ID, "created", pol.Name)
	})
	return out, err
}

// UpdateSecurityPolicy replaces a policy with its API form (a full replacement, as UpdatePolicy).
// Rules keep their ids when the input names them, or else when a rule of the same name existed.
// Needs security_admin. ErrNotFound for an unknown policy, ErrInvalid as for CreateSecurityPolicy.
// Checkouts whose holders lose access are checked in as for UpdatePolicy.
func (e *Engine) UpdateSecurityPolicy(ctx context.Context, p Principal, policyID string, in SecurityPolicy) (SecurityPolicy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return SecurityPolicy{}, err
	}
	var out SecurityPolicy
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		pol, err := e.teamPolicy(tx, p, policyID)
		if err != nil {
			return err
		}
		pin, err := e.policyInputOf(tx, p, in, pol)
		if err != nil {
			return err
		}
		if err := e.fillPolicy(tx, p, pol, pin); err != nil {
			return err
		}
		pol.UpdatedAt = e.now()
		if err := storage.Policies.Update(tx, pol); err != nil {
			return err
		}
		out = securityPolicyOf(tx, pol)
		return e.audit(tx, p, AuditPolicyChange, "security_policy", pol.ID, "updated", pol.Name)
	})
	if err == nil {
		e.afterAccessChange(ctx, p.TeamID, nil)
	}
	return out, err
}

// SecurityPolicy returns one policy in its API form. Needs security_admin. ErrNotFound for an
// unknown policy.
func (e *Engine) SecurityPolicy(ctx context.Context, p Principal, policyID string) (SecurityPolicy, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return SecurityPolicy{}, err
	}
	var out SecurityPolicy
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pol, err := e.teamPolicy(tx, p, policyID)
		if err == nil {
			out = securityPolicyOf(tx, pol)
		}
		return err
	})
	return out, err
}

// SecurityPolicies returns one page of the team's policies in their API form, those whose name or
// description contains contains (case-insensitive; all when empty), in id order (PageRequest).
// Cost: a seek in the team's policies by id plus one page (rangePage): O(log N + k), k the page
// plus the policies contains refuses between the cursor and the page's end; each policy of the
// page also reads the names of the objects it refers to. Needs security_admin. ErrInvalid for a
// bad page request. Safe for concurrent use.
func (e *Engine) SecurityPolicies(ctx context.Context, p Principal, contains string, page PageRequest) (Page[SecurityPolicy], error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Page[SecurityPolicy]{}, err
	}
	var out Page[SecurityPolicy]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, teamPolicies(p.TeamID, contains), page, func(pol *storage.Policy) string { return pol.ID },
			func(pol *storage.Policy) SecurityPolicy { return securityPolicyOf(tx, pol) })
		return err
	})
	return out, err
}

// teamPolicies is the list of the policies of a team whose name or description contains contains
// (case-insensitive), read from PoliciesByTeam. The records are copies (securityPolicyOf keeps
// some of their slices).
func teamPolicies(teamID, contains string) pageSource[storage.Policy] {
	src := pageSource[storage.Policy]{table: storage.Policies, index: storage.PoliciesByTeam, args: []string{teamID},
		in: func(pol *storage.Policy) bool { return pol.TeamID == teamID }}
	if lc := strings.ToLower(contains); lc != "" {
		src.keep = func(pol *storage.Policy) bool {
			return strings.Contains(strings.ToLower(pol.Name), lc) || strings.Contains(strings.ToLower(pol.Description), lc)
		}
	}
	return src
}

// policyInputOf converts the API form to a PolicyInput, resolving domains and SIDs to ids. old is
// the policy being replaced (nil on create), whose rule ids are kept by name.
func (e *Engine) policyInputOf(tx storage.ReadTx, p Principal, in SecurityPolicy, old *storage.Policy) (PolicyInput, error) {
	if len(in.Description) > maxPolicyDescription {
		return PolicyInput{}, invalidf("description is longer than %d characters", maxPolicyDescription)
	}
	if len(in.Rules) > maxPolicyRules {
		return PolicyInput{}, invalidf("a security policy has at most %d rules", maxPolicyRules)
	}
	out := PolicyInput{Name: in.Name, Description: in.Description, Active: in.Active, Type: in.Type}
	for _, g := range in.Principals.UserGroups {
		if g.ID == "" {
			return PolicyInput{}, invalidf("every principals.user_groups entry needs an id")
		}
		out.PrincipalGroupIDs = append(out.PrincipalGroupIDs, g.ID)
	}
	for _, u := range in.Principals.Users {
		if u.ID == "" {
			return PolicyInput{}, invalidf("every principals.users entry needs an id")
		}
		out.PrincipalUserIDs = append(out.PrincipalUserIDs, u.ID)
	}
	if in.ResourceGroup != nil {
		if in.ResourceGroup.ID == "" {
			return PolicyInput{}, invalidf("resource_group needs an id")
		}
		out.ResourceGroupID = in.ResourceGroup.ID
	}
	used := map[string]bool{}
	for i, wr := range in.Rules {
		r, err := e.ruleOf(tx, p, wr)
		if err != nil {
			return PolicyInput{}, invalidf("rule %d (%q): %v", i+1, wr.Name, err)
		}
		if r.ID == "" && old != nil {
			for _, or := range old.Rules {
				if or.Name == r.Name && !used[or.ID] {
					r.ID = or.ID
					break
				}
			}
		}
		used[r.ID] = true
		out.Rules = append(out.Rules, r)
	}
	return out, nil
}

// ruleOf converts one rule of the API form; its errors are wrapped by the caller.
func (e *Engine) ruleOf(tx storage.ReadTx, p Principal, wr SecurityPolicyRule) (PolicyRule, error) {
	r := PolicyRule{ID: wr.ID, Name: wr.Name, ResourceType: wr.ResourceType}
	if strings.TrimSpace(wr.Name) == "" {
		return r, invalidf("a rule needs a name")
	}
	if len(wr.ResourceSelector.Selectors) > maxSelectorsPerRule {
		return r, invalidf("a rule has at most %d selectors", maxSelectorsPerRule)
	}
	if err := e.selectorsOf(tx, p, wr, &r); err != nil {
		return r, err
	}
	for _, pv := range wr.Privileges {
		r.PrivilegeOptions = append(r.PrivilegeOptions, pv.option())
	}
	if len(r.PrivilegeOptions) == 0 {
		return r, invalidf("at least one privilege is required")
	}
	c := &r.Conditions
	c.CheckoutRequired = wr.CheckoutRequired
	if o := wr.OverrideCheckoutDurationInSeconds; o != nil {
		if *o == 0 {
			return r, invalidf("override_checkout_duration_in_seconds must be between %d and %d", MinCheckoutSeconds, MaxCheckoutSeconds)
		}
		c.CheckoutMaxSeconds = *o
	}
	for _, wc := range wr.Conditions {
		switch {
		case wc.AccessRequest != nil:
			c.AccessRequests = append(c.AccessRequests, *wc.AccessRequest)
		case wc.MFA != nil:
			if c.MFA != nil {
				return r, invalidf("the mfa condition is given twice")
			}
			m := *wc.MFA
			c.MFA = &m
		case wc.Gateway != nil:
			if c.Gateway != nil {
				return r, invalidf("the gateway condition is given twice")
			}
			g := *wc.Gateway
			c.Gateway = &g
		}
	}
	return r, nil
}

// selectorsOf fills the rule's selection from its resource selector.
func (e *Engine) selectorsOf(tx storage.ReadTx, p Principal, wr SecurityPolicyRule, r *PolicyRule) error {
	sels := wr.ResourceSelector.Selectors
	want := func(types ...string) error {
		for _, s := range sels {
			if !slices.Contains(types, s.SelectorType) {
				return invalidf("selector_type %q does not belong to a %s rule", s.SelectorType, wr.ResourceType)
			}
		}
		return nil
	}
	switch wr.ResourceType {
	case RuleResourceServer:
		if err := want(ServerSelectorIndividual, ServerSelectorIndividualAccount, ServerSelectorLabel); err != nil {
			return err
		}
		for _, s := range sels {
			ps := PolicyServer{Type: s.SelectorType, Username: s.Selector.Username}
			switch s.SelectorType {
			case ServerSelectorIndividual, ServerSelectorIndividualAccount:
				if s.Selector.Server == nil {
					return invalidf("a %s selector needs a server", s.SelectorType)
				}
				ps.ServerID = s.Selector.Server.ID
			case ServerSelectorLabel:
				if s.Selector.ServerSelector != nil {
					ps.Labels = s.Selector.ServerSelector.Labels
				}
				ps.AccountSelectorType = s.Selector.AccountSelectorType
				if s.Selector.AccountSelector != nil {
					ps.Usernames = s.Selector.AccountSelector.Usernames
				}
			}
			r.Servers = append(r.Servers, ps)
		}
	case RuleResourceSecret:
		if err := want(selectorSecret, selectorSecretFolder); err != nil {
			return err
		}
		for _, s := range sels {
			obj := s.Selector.Secret
			if s.SelectorType == selectorSecretFolder {
				obj = s.Selector.SecretFolder
			}
			if obj == nil {
				return invalidf("a %s selector needs its %s", s.SelectorType, s.SelectorType)
			}
			r.Secrets = append(r.Secrets, PolicySecret{Type: s.SelectorType, ID: obj.ID})
		}
	case RuleResourceAD:
		if err := want(selectorAD); err != nil {
			return err
		}
		if len(sels) != 1 {
			return invalidf("an active_directory_based_resource rule has exactly one active_directory selector (use one rule per selection)")
		}
		res, err := e.adSelectionOf(tx, p, sels[0].Selector)
		if err != nil {
			return err
		}
		r.Resources = res
	case RuleResourceUD:
		if err := want(selectorUDAccount, selectorUDProject); err != nil {
			return err
		}
		for _, s := range sels {
			obj := s.Selector.ServiceAccount
			if s.SelectorType == selectorUDProject {
				obj = s.Selector.Project
			}
			if obj == nil || obj.ID == "" {
				return invalidf("a %s selector needs an object with an id", s.SelectorType)
			}
			if s.SelectorType == selectorUDProject {
				r.Resources.UDProjectIDs = append(r.Resources.UDProjectIDs, obj.ID)
			} else {
				r.Resources.UDAccountIDs = append(r.Resources.UDAccountIDs, obj.ID)
			}
		}
		if len(sels) == 0 {
			return invalidf("an okta_app_based_resource rule needs at least one selector")
		}
	case "":
		return invalidf("resource_type is required")
	default:
		return invalidf("resource_type %q is not supported by this server (want active_directory_based_resource, okta_app_based_resource, server_based_resource or secret_based_resource)", wr.ResourceType)
	}
	return nil
}

// adSelectionOf converts an active_directory selector to the engine's AD selection.
func (e *Engine) adSelectionOf(tx storage.ReadTx, p Principal, s SecurityPolicySelector) (PolicyResources, error) {
	res := PolicyResources{ADAccountTypes: append([]string(nil), s.ADAccountTypes...), ADOwnIndividual: s.ADOwnIndividual}
	if len(s.Servers) > 0 && string(s.Servers) != "null" || len(s.SSHServers) > 0 && string(s.SSHServers) != "null" {
		return res, invalidf("the servers and ssh_servers parts of an active_directory selector are not supported by this server")
	}
	if s.IndividualAccounts != nil && s.SharedAccounts != nil {
		return res, invalidf("an active_directory selector selects individual_accounts or shared_accounts, not both (use two rules)")
	}
	var domains []string
	for _, c := range s.ADConnections {
		res.ADConnectionIDs = append(res.ADConnectionIDs, c.ID)
	}
	accounts := append([]ADSpecificAccount(nil), s.ADAccounts...)
	if ia := s.IndividualAccounts; ia != nil {
		if len(ia.ByCondition) > 0 && string(ia.ByCondition) != "null" {
			return res, invalidf("individual_accounts.by_condition is not supported by this server")
		}
		res.ADOwnIndividual = true
		domains = ia.ByDomain
	}
	if sa := s.SharedAccounts; sa != nil {
		if len(sa.ByMatchingNames) > 0 {
			return res, invalidf("shared_accounts.by_matching_names is not supported by this server")
		}
		res.ADAccountTypes = append(res.ADAccountTypes, AccountTypeShared)
		domains = sa.ByDomain
		accounts = append(accounts, sa.SpecificAccounts...)
	}
	for _, d := range domains {
		c, err := storage.Connections.First(tx, storage.ConnectionsByDomain, p.TeamID, d)
		if err != nil {
			return res, invalidf("no AD connection of domain %q", d)
		}
		res.ADConnectionIDs = append(res.ADConnectionIDs, c.ID)
	}
	for _, a := range accounts {
		c, err := storage.Connections.First(tx, storage.ConnectionsByDomain, p.TeamID, a.Domain)
		if err != nil {
			return res, invalidf("no AD connection of domain %q", a.Domain)
		}
		acct, err := storage.Accounts.First(tx, storage.AccountsBySID, c.ID, a.AccountSID)
		if err != nil {
			return res, invalidf("no AD account with SID %q in %s", a.AccountSID, a.Domain)
		}
		res.ADAccountIDs = append(res.ADAccountIDs, acct.ID)
	}
	for _, o := range s.Projects {
		res.ADProjectIDs = append(res.ADProjectIDs, o.ID)
	}
	for _, o := range s.ResourceGroups {
		res.ADResourceGroupIDs = append(res.ADResourceGroupIDs, o.ID)
	}
	if !hasADSelector(storage.PolicyResources(res)) {
		return res, invalidf("the active_directory selector selects nothing (give individual_accounts or shared_accounts)")
	}
	return res, nil
}
