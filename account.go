package opa

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// Account settings (AccountSetting) a project enables for an account.
const (
	SettingCheckout         = "CHECKOUT"
	SettingRotationSchedule = "ROTATION_SCHEDULE"
)

// Checkout statuses of the admin views (ResourceAvailabilityStatus, lower case).
const (
	CheckoutAvailable   = "available"
	CheckoutCheckedOut  = "checked_out"
	CheckoutUnavailable = "unavailable"
)

// ADAccount is an AD account as the admin views show it (ActiveDirectoryAccount, wire format).
// AccountName is the sAMAccountName, or the UPN when there is none. AccountType, Project and
// ResourceGroup come from the rule that manages the account and are empty when none does;
// MatchStatus and MatchedUser are the effective match (see the MatchStatus constants). Domain names
// the connection (its name is the AD domain).
type ADAccount struct {
	ID                         string       `json:"id"`
	AccountName                string       `json:"account_name"`
	AccountType                string       `json:"account_type,omitempty"`
	MatchStatus                string       `json:"match_status,omitempty"`
	LastRotationAt             *time.Time   `json:"last_rotation_at,omitempty"`
	BroughtUnderManagementAt   *time.Time   `json:"brought_under_management_at,omitempty"`
	ResourceGroup              *NamedObject `json:"resource_group,omitempty"`
	Project                    *NamedObject `json:"project,omitempty"`
	MatchedUser                *NamedObject `json:"matched_user,omitempty"`
	Domain                     *NamedObject `json:"domain,omitempty"`
	DistinguishedName          string       `json:"distinguished_name"`
	UPN                        string       `json:"upn,omitempty"`
	SID                        string       `json:"sid"`
	SAMAccountName             string       `json:"sam_account_name,omitempty"`
	FirstName                  string       `json:"first_name,omitempty"`
	LastName                   string       `json:"last_name,omitempty"`
	DisplayName                string       `json:"display_name,omitempty"`
	Email                      string       `json:"email,omitempty"`
	AccountStatusDetail        string       `json:"account_status_detail,omitempty"`
	AccountStatusDetailMessage string       `json:"account_status_detail_message,omitempty"`
}

// ADAccountDetails is an AD account with its password rotation and checkout details
// (ActiveDirectoryAccountWithPasswordAndCheckoutDetails, wire format), read from the account's
// credential and lease state. CheckoutStatus is checked_out while checked out, available when the
// account is managed, unavailable otherwise.
type ADAccountDetails struct {
	ADAccount
	NextScheduledPasswordRotationTimestamp   *time.Time `json:"next_scheduled_password_rotation_timestamp,omitempty"`
	NextScheduledPasswordRotationReason      string     `json:"next_scheduled_password_rotation_reason,omitempty"`
	CheckoutStatus                           string     `json:"checkout_status"`
	LastCheckoutUser                         string     `json:"last_checkout_user,omitempty"`
	CheckoutExpiryAt                         *time.Time `json:"checkout_expiry_at,omitempty"`
	PasswordChangeSuccessCount               int        `json:"password_change_success_count"`
	PasswordChangeErrorCount                 int        `json:"password_change_error_count"`
	PasswordChangeErrorCountSinceLastSuccess int        `json:"password_change_error_count_since_last_success"`
	LastPasswordChangeSuccessReportTimestamp *time.Time `json:"last_password_change_success_report_timestamp,omitempty"`
	LastPasswordChangeSystemTimestamp        *time.Time `json:"last_password_change_system_timestamp,omitempty"`
	LastPasswordChangeErrorReportTimestamp   *time.Time `json:"last_password_change_error_report_timestamp,omitempty"`
	LastPasswordChangeErrorSystemTimestamp   *time.Time `json:"last_password_change_error_system_timestamp,omitempty"`
	LastPasswordChangeErrorType              string     `json:"last_password_change_error_type,omitempty"`
	LastPasswordChangeErrorMetadata          string     `json:"last_password_change_error_metadata,omitempty"`
}

// ADAccountWithSettings is an AD account of a project with the project settings that apply to it
// (ActiveDirectoryAccountWithSettings, wire format): SettingCheckout when the project requires
// checkout for it, SettingRotationSchedule when periodic rotation selects it.
type ADAccountWithSettings struct {
	ADAccount
	AccountSettingsEnabled []string `json:"account_settings_enabled"`
}

// DiscoveredQuery filters and pages the per-connection account list.
// ContainsAccountNameOrAssignedOPAUser keeps accounts whose UPN, sAMAccountName or effective user's
// username contains it (case-insensitive). ManagedOnly keeps accounts a rule manages.
type DiscoveredQuery struct {
	ContainsAccountNameOrAssignedOPAUser string
	ManagedOnly                          bool
	Page                                 PageRequest
}

// AccountsQuery filters the team-wide and resource-group account lists. Contains keeps accounts
// whose account name, UPN or sAMAccountName contains it (case-insensitive); AccountType keeps SHARED
// or INDIVIDUAL accounts; ADConnectionIDs, when not empty, keeps accounts of those connections.
type AccountsQuery struct {
	Contains        string
	AccountType     string
	ADConnectionIDs []string
}

// connAccount returns an account of the connection, which must be p's team's.
func (e *Engine) connAccount(tx storage.ReadTx, p Principal, connID, accountID string) (*storage.Account, error) {
	if _, err := e.teamConnection(tx, p, connID); err != nil {
		return nil, err
	}
	a, err := storage.Accounts.Get(tx, accountID)
	if err != nil || a.ConnectionID != connID {
		return nil, notFoundf("AD account %q does not exist on AD connection %q", accountID, connID)
	}
	return a, nil
}

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// DiscoveredADAccounts lists the accounts of a connection as discovered by sync, managed or not
// (accounts gone from the directory are left out), paged by id. Needs resource_admin or
// security_admin. Errors: ErrNotFound for an unknown connection, ErrInvalid for bad paging,
// ErrForbidden. Safe for concurrent use.
//
// Cost: a seek of the connection's accounts in id order and one page, O(page + log N); the
// filters (managed only, the name filter, which may look up the matched user) are tested on the
// accounts the scan reaches from the cursor, until the page is full.
func (e *Engine) DiscoveredADAccounts(ctx context.Context, p Principal, connID string, q DiscoveredQuery) (Page[ADAccount], error) {
	if err := p.requireConnRead(); err != nil {
		return Page[ADAccount]{}, err
	}
	if err := q.Page.validate(); err != nil {
		return Page[ADAccount]{}, err
	}
	sub := strings.ToLower(q.ContainsAccountNameOrAssignedOPAUser)
	var out Page[ADAccount]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamConnection(tx, p, connID); err != nil {
			return err
		}
		n := newNamer(tx)
		src := pageSource[storage.Account]{table: storage.Accounts, index: storage.AccountsByConnection, args: []string{connID},
			in: func(a *storage.Account) bool { return a.ConnectionID == connID }, borrow: true,
			keep: func(a *storage.Account) bool {
				if a.Missing || (q.ManagedOnly && a.AccountType == "") {
					return false
				}
				if sub != "" && !containsFold(a.UPN, sub) && !containsFold(a.SAMAccountName, sub) {
					u := n.get(NamedUser, a.MatchedUserID)
					return u != nil && containsFold(u.Name, sub)
				}
				return true
			}}
		var err error
		out, err = rangePage(tx, src, q.Page, accountID, n.account)
		return err
	})
	return out, err
}

// accountID is an account record's id, its lists' cursor.
func accountID(a *storage.Account) string { return a.ID }

// GetADAccount returns an account of a connection with its rotation and checkout details. Needs
// resource_admin or security_admin, team-wide or delegated for the account's resource group.
// Errors: ErrNotFound for an unknown connection or account, ErrForbidden. Safe for concurrent use.
func (e *Engine) GetADAccount(ctx context.Context, p Principal, connID, accountID string) (ADAccountDetails, error) {
	if err := p.check(); err != nil {
		return ADAccountDetails{}, err
	}
	var out ADAccountDetails
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		a, err := e.connAccount(tx, p, connID, accountID)
		if err != nil {
			return err
		}
		if err := p.requireRGAdmin(a.ResourceGroupID); err != nil {
			return err
		}
		pr, _ := storage.Projects.Borrow(tx, a.ProjectID) // nil outside a project: no schedule
		out = newNamer(tx).details(a, pr, e.now())
		return nil
	})
	return out, err
}

func (q AccountsQuery) validate() (AccountsQuery, error) {
	if q.AccountType != "" {
		t, ok := normRuleType(q.AccountType)
		if !ok {
			return q, invalidf("ad_account_type must be SHARED or INDIVIDUAL, got %q", q.AccountType)
		}
		q.AccountType = t
	}
	q.Contains = strings.ToLower(q.Contains)
	return q, nil
}

func (q AccountsQuery) keep(a *storage.Account) bool {
	if a.Missing || (q.AccountType != "" && a.AccountType != q.AccountType) {
		return false
	}
	if len(q.ADConnectionIDs) > 0 && !slices.Contains(q.ADConnectionIDs, a.ConnectionID) {
		return false
	}
	return q.Contains == "" || containsFold(a.UPN, q.Contains) || containsFold(a.SAMAccountName, q.Contains)
}

// page returns the page of the team's accounts under index = key (in tells a record under it)
// that q keeps (see rangePage for the cost: a seek and one page, q's filters tested from the
// cursor until the page is full).
func (q AccountsQuery) page(tx storage.ReadTx, teamID string, index storage.IndexName[storage.Account], key string, in func(*storage.Account) bool, req PageRequest) (Page[ADAccount], error) {
	src := pageSource[storage.Account]{table: storage.Accounts, index: index, args: []string{key}, in: in, borrow: true,
		keep: func(a *storage.Account) bool { return a.TeamID == teamID && q.keep(a) }}
	return rangePage(tx, src, req, accountID, newNamer(tx).account)
}

// AllADAccounts returns a page of the AD accounts of every connection of the team (those gone
// from the directory left out), by id. Needs security_admin. Errors: ErrInvalid for a bad account
// type or bad paging, ErrForbidden. Safe for concurrent use.
//
// Cost: a seek of the team's accounts (or, filtered on one connection, that connection's) and one
// page, O(page + log N); the other filters are tested from the cursor until the page is full.
func (e *Engine) AllADAccounts(ctx context.Context, p Principal, q AccountsQuery, page PageRequest) (Page[ADAccount], error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Page[ADAccount]{}, err
	}
	q, err := q.validate()
	if err != nil {
		return Page[ADAccount]{}, err
	}
	var out Page[ADAccount]
	err = e.store.View(ctx, func(tx storage.ReadTx) error {
		index, key, in := storage.AccountsByTeam, p.TeamID, func(a *storage.Account) bool { return a.TeamID == p.TeamID }
		if len(q.ADConnectionIDs) == 1 { // that connection's accounts are an index of their own
			conn := q.ADConnectionIDs[0]
			index, key, in = storage.AccountsByConnection, conn, func(a *storage.Account) bool { return a.ConnectionID == conn }
		}
		var err error
		out, err = q.page(tx, p.TeamID, index, key, in, page)
		return err
	})
	return out, err
}

// ResourceGroupADAccounts returns a page of the AD accounts managed into a resource group, by id.
// Needs security_admin, or delegated_security_admin of the resource group. Errors: ErrNotFound for
// an unknown resource group, ErrInvalid for a bad account type or bad paging, ErrForbidden. Safe
// for concurrent use.
//
// Cost: a seek of the resource group's accounts and one page, O(page + log N); the filters are
// tested from the cursor until the page is full.
func (e *Engine) ResourceGroupADAccounts(ctx context.Context, p Principal, resourceGroupID string, q AccountsQuery, page PageRequest) (Page[ADAccount], error) {
	if err := p.check(); err != nil {
		return Page[ADAccount]{}, err
	}
	q, err := q.validate()
	if err != nil {
		return Page[ADAccount]{}, err
	}
	var out Page[ADAccount]
	err = e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		if err := p.requireIn(RoleSecurityAdmin, resourceGroupID); err != nil {
			return err
		}
		var err error
		out, err = q.page(tx, p.TeamID, storage.AccountsByResourceGroup, resourceGroupID,
			func(a *storage.Account) bool { return a.ResourceGroupID == resourceGroupID }, page)
		return err
	})
	return out, err
}

// ProjectADAccounts returns a page of the AD accounts managed into a project of a resource group,
// by id, with the project settings that apply to each. contains keeps accounts whose UPN contains
// it (case-insensitive). Needs resource_admin or security_admin, team-wide or delegated for the
// resource group. Errors: ErrNotFound for an unknown resource group or project, ErrInvalid for bad
// paging, ErrForbidden. Safe for concurrent use.
//
// Cost: a seek of the project's accounts and one page, O(page + log N); contains is tested from
// the cursor until the page is full.
func (e *Engine) ProjectADAccounts(ctx context.Context, p Principal, resourceGroupID, projectID, contains string, page PageRequest) (Page[ADAccountWithSettings], error) {
	if err := p.requireRGAdmin(resourceGroupID); err != nil {
		return Page[ADAccountWithSettings]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[ADAccountWithSettings]{}, err
	}
	sub := strings.ToLower(contains)
	var out Page[ADAccountWithSettings]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		n := newNamer(tx)
		src := pageSource[storage.Account]{table: storage.Accounts, index: storage.AccountsByProject, args: []string{projectID}, borrow: true,
			in: func(a *storage.Account) bool { return a.ProjectID == projectID },
			keep: func(a *storage.Account) bool {
				return a.TeamID == p.TeamID && !a.Missing && (sub == "" || containsFold(a.UPN, sub))
			}}
		out, err = rangePage(tx, src, page, accountID, func(a *storage.Account) ADAccountWithSettings {
			return ADAccountWithSettings{ADAccount: n.account(a), AccountSettingsEnabled: resourceSettingsEnabled(resource{ad: a}, pr)}
		})
		return err
	})
	return out, err
}

// ProjectADAccount returns an AD account of a project with its rotation and checkout details.
// Roles as ProjectADAccounts. Errors: ErrNotFound for an unknown resource group, project, or an
// account not in the project; ErrForbidden. Safe for concurrent use.
func (e *Engine) ProjectADAccount(ctx context.Context, p Principal, resourceGroupID, projectID, accountID string) (ADAccountDetails, error) {
	if err := p.requireRGAdmin(resourceGroupID); err != nil {
		return ADAccountDetails{}, err
	}
	var out ADAccountDetails
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		a, err := storage.Accounts.Get(tx, accountID)
		if err != nil || a.ProjectID != projectID || a.TeamID != p.TeamID {
			return notFoundf("AD account %q does not exist in project %q", accountID, projectID)
		}
		out = newNamer(tx).details(a, pr, e.now())
		return nil
	})
	return out, err
}

func tptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (n *namer) account(a *storage.Account) ADAccount {
	return ADAccount{
		ID: a.ID, AccountName: accountName(a), AccountType: a.AccountType, MatchStatus: a.MatchStatus,
		LastRotationAt: tptr(a.Credential.LastRotationAt), BroughtUnderManagementAt: tptr(a.BroughtUnderManagementAt),
		ResourceGroup: n.get(NamedResourceGroup, a.ResourceGroupID), Project: n.get(NamedProject, a.ProjectID),
		MatchedUser: n.get(NamedUser, a.MatchedUserID), Domain: n.get(NamedConnection, a.ConnectionID),
		DistinguishedName: a.DistinguishedName, UPN: a.UPN, SID: a.SID, SAMAccountName: a.SAMAccountName,
		FirstName: a.FirstName, LastName: a.LastName, DisplayName: a.DisplayName, Email: a.Email,
		AccountStatusDetail: a.StatusDetail, AccountStatusDetailMessage: a.StatusDetailMessage,
	}
}

// details is the admin view of a at now, with pr its project (nil when it has none): a checkout
// that has expired is over (expiry.go), and the next rotation is the one Tick would run
// (nextRotation).
func (n *namer) details(a *storage.Account, pr *storage.Project, now time.Time) ADAccountDetails {
	c, l := a.Credential, a.Lease
	next, reason := nextRotation(resource{ad: a}, pr, now)
	d := ADAccountDetails{
		ADAccount:                              n.account(a),
		NextScheduledPasswordRotationTimestamp: tptr(next), NextScheduledPasswordRotationReason: reason,
		PasswordChangeSuccessCount: c.SuccessCount, PasswordChangeErrorCount: c.ErrorCount,
		PasswordChangeErrorCountSinceLastSuccess: c.ErrorsSinceLastSuccess,
		LastPasswordChangeSuccessReportTimestamp: tptr(c.LastSuccessReportAt), LastPasswordChangeSystemTimestamp: tptr(c.LastSuccessSystemAt),
		LastPasswordChangeErrorReportTimestamp: tptr(c.LastErrorReportAt), LastPasswordChangeErrorSystemTimestamp: tptr(c.LastErrorSystemAt),
		LastPasswordChangeErrorType: c.LastErrorType, LastPasswordChangeErrorMetadata: c.LastErrorMetadata,
	}
	switch {
	case inForce(&l, now):
		d.CheckoutStatus, d.CheckoutExpiryAt = CheckoutCheckedOut, tptr(l.ExpiresAt)
	case a.AccountType != "":
		d.CheckoutStatus = CheckoutAvailable
	default:
		d.CheckoutStatus = CheckoutUnavailable
	}
	last := l.LastCheckoutUserID
	if inForce(&l, now) && l.UserID != "" {
		last = l.UserID
	}
	if u := n.get(NamedUser, last); u != nil && !u.Missing {
		d.LastCheckoutUser = u.Name
	}
	return d
}
