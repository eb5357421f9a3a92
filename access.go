package opa

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// ActiveDirectoryDomain is an AD connection as an end user sees it. It carries both the SDK's
// "domain" and the reference sample's "name", the same value (docs/wire.md#seed-samples).
type ActiveDirectoryDomain struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Domain            string `json:"domain"`
	OktaAppInstanceID string `json:"okta_app_instance_id"`
	Status            string `json:"status"`
}

// EndUserADAccount is the "account" object of the end-user AD account views. The fields after
// AccountStatusDetail are filled only by the detail view (ADAccountEndUser).
type EndUserADAccount struct {
	ID                       string     `json:"id"`
	Username                 string     `json:"username"`
	AccountType              string     `json:"account_type"`
	AvailabilityStatus       string     `json:"availability_status"`
	AccountStatusDetail      string     `json:"account_status_detail,omitempty"`
	FirstName                string     `json:"first_name,omitempty"`
	LastName                 string     `json:"last_name,omitempty"`
	Email                    string     `json:"email,omitempty"`
	DisplayName              string     `json:"display_name,omitempty"`
	SAMAccountName           string     `json:"sam_account_name,omitempty"`
	BroughtUnderManagementAt *time.Time `json:"brought_under_management_at,omitempty"`
	DistinguishedName        string     `json:"distinguished_name,omitempty"`
	SID                      string     `json:"sid,omitempty"`
}

// EndUserCheckoutDetails is the "checkout_details" object of the end-user views.
type EndUserCheckoutDetails struct {
	LastCheckedOutBy             string     `json:"last_checked_out_by,omitempty"`
	CheckoutRequired             bool       `json:"checkout_required"`
	CurrentUserCheckoutExpiresAt *time.Time `json:"current_user_checkout_expires_at,omitempty"`
}

// RotationDetails is the "rotation" object of the end-user AD account detail.
type RotationDetails struct {
	LastPasswordChangeSuccessReportTimestamp *time.Time `json:"last_password_change_success_report_timestamp,omitempty"`
	LastPasswordChangeSystemTimestamp        *time.Time `json:"last_password_change_system_timestamp,omitempty"`
	LastPasswordChangeErrorReportTimestamp   *time.Time `json:"last_password_change_error_report_timestamp,omitempty"`
	LastPasswordChangeErrorSystemTimestamp   *time.Time `json:"last_password_change_error_system_timestamp,omitempty"`
	LastPasswordChangeErrorType              *string    `json:"last_password_change_error_type"`
	PasswordChangeSuccessCount               int        `json:"password_change_success_count"`
	PasswordChangeErrorCount                 int        `json:"password_change_error_count"`
	PasswordChangeErrorCountSinceLastSuccess int        `json:"password_change_error_count_since_last_success"`
}

// ADAccountEndUserItem is an item of ListActiveDirectoryAccountsEndUser.
type ADAccountEndUserItem struct {
	Account         EndUserADAccount       `json:"account"`
	CheckoutDetails EndUserCheckoutDetails `json:"checkout_details"`
}

// ADAccountEndUserDetail is ActiveDirectoryAccountEndUser: the account, its checkout details and its
// rotation history.
type ADAccountEndUserDetail struct {
	Account         EndUserADAccount       `json:"account"`
	CheckoutDetails EndUserCheckoutDetails `json:"checkout_details"`
	Rotation        RotationDetails        `json:"rotation"`
}

// UAMConditional is a condition of a user access method: Type is a Condition, and ConditionIsMet
// is what the engine's ConditionDecider says now (false without one: the engine runs no MFA or
// access request workflow itself). An access method whose condition is not met does not authorize
// a reveal or rotation (ErrForbidden naming the condition).
type UAMConditional struct {
	Type           string `json:"type"`
	ConditionIsMet bool   `json:"condition_is_met"`
	Description    string `json:"description,omitempty"`
}

// CheckoutRequirements says whether using an access method checks the account out, and for how long
// at most.
type CheckoutRequirements struct {
	Required                     bool `json:"required"`
	MaxCheckoutDurationInSeconds int  `json:"max_checkout_duration_in_seconds"`
}

// UAMPrivilege is one privilege of an access method: {"privilege_type", "privilege_value"}. In
// JSON the privilege_value also carries "_type", the privilege type (the discriminator of the
// SDK's privilege value models); on input "_type" and any other member that is not a boolean are
// ignored.
type UAMPrivilege struct {
	PrivilegeType  string          `json:"privilege_type"`
	PrivilegeValue map[string]bool `json:"privilege_value,omitempty"`
}

// MarshalJSON writes the privilege with "_type" in its privilege_value.
func (u UAMPrivilege) MarshalJSON() ([]byte, error) {
	out := struct {
		PrivilegeType  string         `json:"privilege_type"`
		PrivilegeValue map[string]any `json:"privilege_value,omitempty"`
	}{PrivilegeType: u.PrivilegeType}
	if u.PrivilegeValue != nil {
		out.PrivilegeValue = map[string]any{"_type": u.PrivilegeType}
		for k, v := range u.PrivilegeValue {
			out.PrivilegeValue[k] = v
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a privilege, keeping the boolean members of privilege_value.
func (u *UAMPrivilege) UnmarshalJSON(b []byte) error {
	var in struct {
		PrivilegeType  string         `json:"privilege_type"`
		PrivilegeValue map[string]any `json:"privilege_value"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*u = UAMPrivilege{PrivilegeType: in.PrivilegeType}
	if in.PrivilegeValue != nil {
		u.PrivilegeValue = map[string]bool{}
		for k, v := range in.PrivilegeValue {
			if on, ok := v.(bool); ok {
				u.PrivilegeValue[k] = on
			}
		}
	}
	return nil
}

// UAMPrivileges is the privileges list of an access method's details. The HTTP API (package
// httpapi) also accepts the seed sample's object form ({"_type":…, "secret_reveal":true, …};
// docs/wire.md).
type UAMPrivileges []UAMPrivilege

// The "_type" of an access method's details: the SDK discriminators whose models
// (UserAccessMethodActiveDirectoryAccountDetails, UserAccessMethodServiceAccountDetails) have the
// shape {account_id, privileges}. A UD account is a service account there.
const (
	UAMDetailsAD = "active_directory_account"
	UAMDetailsUD = "service_account"
)

// UAMDetails is the "details" object of an access method for an account.
type UAMDetails struct {
	Type       string        `json:"_type"`
	AccountID  string        `json:"account_id,omitempty"`
	Privileges UAMPrivileges `json:"privileges"`
}

// UserAccessMethod is how a user may use an account, per security policy rule and privilege
// (docs/wire.md#accounts). The engine emits one method per (rule, privilege); rule_ids names the rule.
type UserAccessMethod struct {
	Identity                     string                `json:"identity"`
	AccessCredential             string                `json:"access_credential"`
	Brokered                     bool                  `json:"brokered"`
	ServerHostName               string                `json:"server_host_name"`
	UserAccessType               string                `json:"user_access_type"`
	ResourceStatus               string                `json:"resource_status"`
	SudoDisplayName              string                `json:"sudo_display_name"`
	ShortText                    string                `json:"short_text,omitempty"`
	AvailabilityDetailsText      string                `json:"availability_details_text,omitempty"`
	Conditionals                 []UAMConditional      `json:"conditionals"`
	RuleIDs                      []string              `json:"rule_ids"`
	RuleResourceType             string                `json:"rule_resource_type,omitempty"`
	Details                      UAMDetails            `json:"details"`
	CheckoutRequirements         *CheckoutRequirements `json:"checkout_requirements,omitempty"`
	CurrentUserCheckoutExpiresAt *time.Time            `json:"current_user_checkout_expires_at,omitempty"`
}

// Rule resource types of access methods. DESIGN: UD accounts use okta_app_based_resource, the
// SDK enum's value for Okta-hosted accounts, so strict enum decoders accept it.
const (
	ruleResourceAD = RuleResourceAD
	ruleResourceUD = RuleResourceUD
)

// DomainFilter narrows ADDomains: Domain is an exact (case-insensitive) domain name, Contains a
// substring of it.
type DomainFilter struct {
	Domain   string
	Contains string
}

// ADDomains returns a page of the AD connections in which p can access at least one account
// through a security policy, by id. Any authenticated user. ErrInvalid for bad paging.
//
// Cost: a seek of the team's connections and one page; for each connection the scan reaches,
// its accounts are read in id order until the first one p's policies grant anything on (all of
// them for a connection p can access nothing in).
func (e *Engine) ADDomains(ctx context.Context, p Principal, f DomainFilter, page PageRequest) (Page[ActiveDirectoryDomain], error) {
	if err := page.validate(); err != nil {
		return Page[ActiveDirectoryDomain]{}, err
	}
	var out Page[ActiveDirectoryDomain]
	err := e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		var failed error
		keep := func(c *storage.Connection) bool {
			if f.Domain != "" && !strings.EqualFold(f.Domain, c.Domain) {
				return false
			}
			if f.Contains != "" && !strings.Contains(strings.ToLower(c.Domain), strings.ToLower(f.Contains)) {
				return false
			}
			ok, err := accessibleIn(tx, set, c.ID)
			if err != nil {
				failed = err
			}
			return ok
		}
		var err error
		out, err = rangePage(tx, teamConnections(p.TeamID, keep), page, connectionID, domainOf)
		if err == nil {
			err = failed
		}
		return err
	})
	return out, err
}

// accessibleIn reports whether set grants anything on an account of the connection: a scan of
// its accounts in id order up to the first such account.
func accessibleIn(tx storage.ReadTx, set *policySet, connID string) (bool, error) {
	as, err := storage.Accounts.BorrowRange(tx, storage.AccountsByConnection, storage.Range{Args: []string{connID}, Limit: 1},
		func(a *storage.Account) bool { return len(set.forAccount(a)) > 0 })
	return len(as) > 0, err
}

func domainOf(c *storage.Connection) ActiveDirectoryDomain {
	return ActiveDirectoryDomain{ID: c.ID, Name: c.Domain, Domain: c.Domain, OktaAppInstanceID: c.AppInstanceID, Status: c.Status}
}

// ADDomain returns one AD connection p can access. ErrNotFound if it does not exist or p can
// access none of its accounts.
func (e *Engine) ADDomain(ctx context.Context, p Principal, connectionID string) (ActiveDirectoryDomain, error) {
	var out ActiveDirectoryDomain
	err := e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		c, err := storage.Connections.Get(tx, connectionID)
		if err != nil || c.TeamID != p.TeamID {
			return notFoundf("AD connection %q does not exist", connectionID)
		}
		ok, err := accessibleIn(tx, set, c.ID)
		if err != nil {
			return err
		}
		if !ok {
			return notFoundf("AD connection %q does not exist", connectionID)
		}
		out = domainOf(c)
		return nil
	})
	return out, err
}

// accessView is what the end-user views need of one account.
type accessView struct {
	r       resource
	grants  []grant
	project *storage.Project // borrowed from the store: read only
	now     time.Time        // the clock when the view was read: what is in force (expiry.go)
}

// checkoutRequired reports whether revealing the account through any of the user's grants needs a
// checkout, and the longest duration among them.
func (v accessView) checkoutRequired() (bool, int) {
	req, max := false, 0
	for _, g := range v.grants {
		if !slices.ContainsFunc(g.rule.Privileges, revealPrivilege) {
			continue
		}
		r, d := checkoutRequirement(v.r, v.project, g.rule.Conditions)
		if r {
			req = true
			max = d
		}
	}
	return req, max
}

func (v accessView) checkoutDetails(userID string) EndUserCheckoutDetails {
	req, _ := v.checkoutRequired()
	d := EndUserCheckoutDetails{CheckoutRequired: req}
	if l := v.r.lease(); inForce(l, v.now) && l.UserID == userID {
		d.CurrentUserCheckoutExpiresAt = optTime(l.ExpiresAt)
	}
	return d
}

// withPolicies is the preamble of every end-user operation: it checks that p is authenticated
// (ErrUnauthorized) and runs fn in one read transaction with the policy rules that apply to p.
func (e *Engine) withPolicies(ctx context.Context, p Principal, fn func(tx storage.ReadTx, set *policySet) error) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.store.View(ctx, func(tx storage.ReadTx) error {
		set, err := policiesFor(tx, p)
		if err != nil {
			return err
		}
		return fn(tx, set)
	})
}

// accessFinder finds the account an end-user operation is about, as p's policies let p see it.
type accessFinder func(tx storage.ReadTx, p Principal, set *policySet) (accessView, error)

// withAccess is the preamble of the end-user operations on one account: withPolicies, then find,
// then fn with the account's view. ErrNotFound (never ErrForbidden, so nothing leaks) when p's
// policies grant nothing on the account.
func (e *Engine) withAccess(ctx context.Context, p Principal, find accessFinder, fn func(tx storage.ReadTx, v accessView) error) error {
	return e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		v, err := find(tx, p, set)
		if err != nil {
			return err
		}
		return fn(tx, v)
	})
}

// adAccount finds the AD account of the connection if p's policies grant anything on it.
func (e *Engine) adAccount(connectionID, accountID string) accessFinder {
	return func(tx storage.ReadTx, p Principal, set *policySet) (accessView, error) {
		return e.visibleADVia(storage.Accounts.Get, tx, p, set, connectionID, accountID)
	}
}

// visibleADVia returns the AD account of the connection if p's policies grant anything on it,
// reading it with get: Accounts.Get for a copy the caller may change, or Accounts.Borrow for a
// read-only look (reveal, which reloads the account before it changes it).
func (e *Engine) visibleADVia(get func(storage.ReadTx, string) (*storage.Account, error), tx storage.ReadTx, p Principal, set *policySet, connectionID, accountID string) (accessView, error) {
	a, err := get(tx, accountID)
	if err != nil || a.TeamID != p.TeamID || a.ConnectionID != connectionID {
		return accessView{}, notFoundf("AD account %q does not exist", accountID)
	}
	return e.viewOf(tx, set, resource{ad: a})
}

func (e *Engine) viewOf(tx storage.ReadTx, set *policySet, r resource) (accessView, error) {
	gs := set.forResource(r)
	if len(gs) == 0 {
		if r.ad != nil {
			return accessView{}, notFoundf("AD account %q does not exist", r.id())
		}
		return accessView{}, notFoundf("Okta Universal Directory account %q does not exist", r.id())
	}
	pr, err := storage.Projects.Borrow(tx, r.projectID()) // read only: checkout settings
	if err != nil {
		return accessView{}, notFoundf("the project of account %q does not exist", r.id())
	}
	return accessView{r: r, grants: gs, project: pr, now: e.now()}, nil
}

func endUserADAccount(a *storage.Account, userID string, now time.Time) EndUserADAccount {
	r := resource{ad: a}
	return EndUserADAccount{
		ID: a.ID, Username: r.name(), AccountType: a.AccountType,
		AvailabilityStatus: availabilityFor(r, userID, now), AccountStatusDetail: a.StatusDetail,
	}
}

// ADAccountsEndUser returns a page of the managed accounts of a connection that p's policies
// grant access to, by id, with their availability for p. accountName, when set, keeps accounts
// whose name contains it (case-insensitive). ErrNotFound when the connection is not one of p's
// domains, ErrInvalid for bad paging.
//
// Cost: a seek of the connection's accounts and one page, O(page + log N); the policies' grant and
// accountName are tested from the cursor until the page is full. An empty page without
// accountName also looks for the connection's first accessible account (to tell a domain of p's
// from another), reading the accounts p can access nothing of before it.
func (e *Engine) ADAccountsEndUser(ctx context.Context, p Principal, connectionID, accountName string, page PageRequest) (Page[ADAccountEndUserItem], error) {
	if err := page.validate(); err != nil {
		return Page[ADAccountEndUserItem]{}, err
	}
	name := strings.ToLower(accountName)
	var out Page[ADAccountEndUserItem]
	err := e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		c, err := storage.Connections.Get(tx, connectionID)
		if err != nil || c.TeamID != p.TeamID {
			return notFoundf("AD connection %q does not exist", connectionID)
		}
		viewable := func(a *storage.Account) bool {
			_, err := e.viewOf(tx, set, resource{ad: a})
			return err == nil
		}
		src := pageSource[storage.Account]{table: storage.Accounts, index: storage.AccountsByConnection, args: []string{connectionID},
			in: func(a *storage.Account) bool { return a.ConnectionID == connectionID },
			keep: func(a *storage.Account) bool {
				return viewable(a) && (name == "" || strings.Contains(strings.ToLower(resource{ad: a}.name()+" "+a.SAMAccountName), name))
			}}
		out, err = rangePage(tx, src, page, accountID, func(a *storage.Account) ADAccountEndUserItem {
			v, _ := e.viewOf(tx, set, resource{ad: a}) // keep accepted it
			return ADAccountEndUserItem{Account: endUserADAccount(a, p.UserID, v.now), CheckoutDetails: v.checkoutDetails(p.UserID)}
		})
		if err != nil {
			return err
		}
		if len(out.Items) == 0 && name == "" {
			first, err := storage.Accounts.BorrowRange(tx, storage.AccountsByConnection, storage.Range{Args: []string{connectionID}, Limit: 1}, viewable)
			if err != nil {
				return err
			}
			if len(first) == 0 {
				return notFoundf("AD connection %q does not exist", connectionID)
			}
		}
		return nil
	})
	return out, err
}

// ADAccountEndUser returns one account p's policies grant access to, with its checkout details and
// rotation history. ErrNotFound otherwise.
func (e *Engine) ADAccountEndUser(ctx context.Context, p Principal, connectionID, accountID string) (ADAccountEndUserDetail, error) {
	var out ADAccountEndUserDetail
	err := e.withAccess(ctx, p, e.adAccount(connectionID, accountID), func(tx storage.ReadTx, v accessView) error {
		a := v.r.ad
		acc := endUserADAccount(a, p.UserID, v.now)
		acc.FirstName, acc.LastName, acc.Email, acc.DisplayName = a.FirstName, a.LastName, a.Email, a.DisplayName
		acc.SAMAccountName, acc.DistinguishedName, acc.SID = a.SAMAccountName, a.DistinguishedName, a.SID
		acc.BroughtUnderManagementAt = optTime(a.BroughtUnderManagementAt)
		cd := v.checkoutDetails(p.UserID)
		if id := a.Lease.LastCheckoutUserID; id != "" {
			if u, err := storage.Users.Get(tx, id); err == nil {
				cd.LastCheckedOutBy = u.Username
			}
		}
		out = ADAccountEndUserDetail{Account: acc, CheckoutDetails: cd, Rotation: rotationDetails(a.Credential)}
		return nil
	})
	return out, err
}

func rotationDetails(c storage.CredentialState) RotationDetails {
	d := RotationDetails{
		LastPasswordChangeSuccessReportTimestamp: optTime(c.LastSuccessReportAt),
		LastPasswordChangeSystemTimestamp:        optTime(c.LastSuccessSystemAt),
		LastPasswordChangeErrorReportTimestamp:   optTime(c.LastErrorReportAt),
		LastPasswordChangeErrorSystemTimestamp:   optTime(c.LastErrorSystemAt),
		PasswordChangeSuccessCount:               c.SuccessCount,
		PasswordChangeErrorCount:                 c.ErrorCount,
		PasswordChangeErrorCountSinceLastSuccess: c.ErrorsSinceLastSuccess,
	}
	if c.LastErrorType != "" {
		t := c.LastErrorType
		d.LastPasswordChangeErrorType = &t
	}
	return d
}

// ADAccountUAMs returns the user access methods p has for the account: one per security policy
// rule and privilege, filtered by privilegeType when it is not empty. The conditionals of a rule
// with MFA or access request conditions are met as the engine's ConditionDecider says now (asked
// once per rule and condition, after the read; never met without a decider). ErrNotFound when p
// has none. ErrInvalid for an unknown privilegeType; the decider's errors.
func (e *Engine) ADAccountUAMs(ctx context.Context, p Principal, connectionID, accountID, privilegeType string) ([]UserAccessMethod, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if privilegeType != "" && !knownPrivilege(privilegeType) {
		return nil, invalidf("unknown privilege_type %q", privilegeType)
	}
	return e.accessMethods(ctx, p, e.adAccount(connectionID, accountID), privilegeType)
}

// uams builds the access methods of the view for userID, with their conditionals not met
// (accessMethods decides them); decider says whether the engine has a ConditionDecider.
func (v accessView) uams(userID, privilegeType string, decider bool) []UserAccessMethod {
	out := []UserAccessMethod{}
	avail := availabilityFor(v.r, userID, v.now)
	detailType, rrt := UAMDetailsAD, ruleResourceAD
	if v.r.ud != nil {
		detailType, rrt = UAMDetailsUD, ruleResourceUD
	}
	for _, g := range v.grants {
		for _, priv := range g.rule.Privileges {
			if v.r.ud != nil && priv == PrivilegeRotatePassword {
				priv = PrivilegeUpdatePassword // a UD rule stored before rotate_password became update_password
			}
			if privilegeType != "" && priv != privilegeType {
				continue
			}
			m := UserAccessMethod{
				Identity: v.r.name(), AccessCredential: "managed", Brokered: priv == PrivilegePasswordCheckoutRDP || priv == PrivilegePasswordCheckoutSSH,
				UserAccessType: priv, ResourceStatus: lowerAvailability(avail), Conditionals: conditionals(g, decider),
				RuleIDs: []string{g.rule.ID}, RuleResourceType: rrt, ShortText: g.rule.Name,
				Details: UAMDetails{Type: detailType, AccountID: v.r.id(), Privileges: UAMPrivileges{privilegeOf(priv)}},
			}
			if revealPrivilege(priv) {
				req, d := checkoutRequirement(v.r, v.project, g.rule.Conditions)
				m.CheckoutRequirements = &CheckoutRequirements{Required: req, MaxCheckoutDurationInSeconds: d}
			} else {
				m.CheckoutRequirements = &CheckoutRequirements{}
			}
			if l := v.r.lease(); inForce(l, v.now) && l.UserID == userID {
				m.CurrentUserCheckoutExpiresAt = optTime(l.ExpiresAt)
			}
			if avail == AvailabilityUnavailable || avail == AvailabilityCheckedOutByOther {
				m.AvailabilityDetailsText = "The account is not available right now."
			}
			out = append(out, m)
		}
	}
	return out
}

func privilegeOf(priv string) UAMPrivilege {
	v := map[string]bool{priv: true}
	if priv == PrivilegePasswordCheckoutRDP {
		v["admin_level_permissions"] = false
		v["remote_access_permissions"] = true
	}
	return UAMPrivilege{PrivilegeType: priv, PrivilegeValue: v}
}

// authorize returns the grant the access method names (through rule_ids) that still gives p one of
// the wanted privileges with every condition met, as met (decided before the transaction, see
// decideFor) says. ErrInvalid when the method names no rule; ErrForbidden naming the condition
// when the only rules that would authorize it have an unmet condition, and ErrForbidden when no
// named rule authorizes the user any more (ForbiddenUAMResponse).
func (v accessView) authorize(m UserAccessMethod, wanted func(string) bool, met decisions) (grant, error) {
	if len(m.RuleIDs) == 0 {
		return grant{}, invalidf("user_access_method.rule_ids is required")
	}
	var unmet error
	for _, c := range v.candidates(m, wanted) {
		if cond, ok := met.unmet(c.g); ok {
			if unmet == nil {
				unmet = unmetError(c.g, cond)
			}
			continue
		}
		return c.g, nil
	}
	if unmet != nil {
		return grant{}, unmet
	}
	return grant{}, forbiddenf("the user access method no longer authorizes this operation")
}
