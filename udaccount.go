package opa

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// Statuses of a UD account (ServiceAccountStatus) that the engine sets.
const (
	udStatusNoIssues  = "NO_ISSUES"
	udStatusUnsecured = "UNSECURED"
	udStatusError     = "ERROR"
)

// OktaUniversalDirectoryAccount is the admin view of a Universal Directory service account.
type OktaUniversalDirectoryAccount struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Username        string    `json:"username"`
	Description     string    `json:"description,omitempty"`
	Status          string    `json:"status"`
	StatusDetail    string    `json:"status_detail"`
	SyncStatus      string    `json:"sync_status"`
	LCMSyncPossible bool      `json:"lcm_sync_possible"`
	OktaUserID      string    `json:"okta_user_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// OktaUniversalDirectoryAccountWithSettings is an item of the per-project UD account list.
type OktaUniversalDirectoryAccountWithSettings struct {
	OktaUniversalDirectoryAccount
	AccountSettingsEnabled            []string   `json:"account_settings_enabled"`
	LastPasswordChangeSystemTimestamp *time.Time `json:"last_password_change_system_timestamp,omitempty"`
}

// PasswordChangeDetails are the password_change_* fields shared by the admin account details.
type PasswordChangeDetails struct {
	LastPasswordChangeSuccessReportTimestamp *time.Time `json:"last_password_change_success_report_timestamp,omitempty"`
	LastPasswordChangeSystemTimestamp        *time.Time `json:"last_password_change_system_timestamp,omitempty"`
	LastPasswordChangeErrorReportTimestamp   *time.Time `json:"last_password_change_error_report_timestamp,omitempty"`
	LastPasswordChangeErrorSystemTimestamp   *time.Time `json:"last_password_change_error_system_timestamp,omitempty"`
	LastPasswordChangeErrorType              string     `json:"last_password_change_error_type,omitempty"`
	LastPasswordChangeErrorMetadata          string     `json:"last_password_change_error_metadata,omitempty"`
	PasswordChangeSuccessCount               int        `json:"password_change_success_count"`
	PasswordChangeErrorCount                 int        `json:"password_change_error_count"`
	PasswordChangeErrorCountSinceLastSuccess int        `json:"password_change_error_count_since_last_success"`
}

// OktaUniversalDirectoryAccountDetails is the admin detail of a UD account in a project.
type OktaUniversalDirectoryAccountDetails struct {
	ID                                     string     `json:"id"`
	TeamID                                 string     `json:"team_id"`
	ProjectID                              string     `json:"project_id"`
	AccountName                            string     `json:"account_name"`
	Username                               string     `json:"username"`
	CreatedAt                              time.Time  `json:"created_at"`
	NextScheduledPasswordRotationTimestamp *time.Time `json:"next_scheduled_password_rotation_timestamp,omitempty"`
	NextScheduledPasswordRotationReason    string     `json:"next_scheduled_password_rotation_reason,omitempty"`
	CheckoutEnabled                        bool       `json:"checkout_enabled"`
	CheckoutStatus                         string     `json:"checkout_status"`
	LastCheckoutUser                       string     `json:"last_checkout_user,omitempty"`
	CheckoutExpiryAt                       *time.Time `json:"checkout_expiry_at,omitempty"`
	PasswordChangeDetails
}

// ServiceAccountEndUser is a UD account as an end user sees it.
type ServiceAccountEndUser struct {
	Account         EndUserServiceAccount  `json:"account"`
	CheckoutDetails EndUserCheckoutDetails `json:"checkout_details"`
}

// EndUserServiceAccount is the "account" object of ServiceAccountEndUser. availability_status is
// lower case (ResourceAvailabilityStatus).
type EndUserServiceAccount struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	Username            string `json:"username"`
	LCMSyncPossible     bool   `json:"lcm_sync_possible"`
	AvailabilityStatus  string `json:"availability_status"`
	AccountStatus       string `json:"account_status"`
	AccountStatusDetail string `json:"account_status_detail"`
}

// UDAccountInput describes a UD account to create. Password, when set, is its current password
// (vaulted); otherwise the account has none (MISSING_PASSWORD) and its first reveal sets one.
type UDAccountInput struct {
	Name        string
	Username    string
	Description string
	OktaUserID  string
	Password    string
}

// CreateUDAccount adds a Universal Directory account to a project. DESIGN: accounts come from Okta
// in the real service; here creating one is an administrative or fixture operation that needs
// resource_admin or security_admin (or their delegated variants for the project's resource group).
// Errors: ErrNotFound (project), ErrForbidden, ErrInvalid (name or username empty or longer than
// 255, password longer than 255 bytes or not UTF-8). The password is sealed and never returned.
func (e *Engine) CreateUDAccount(ctx context.Context, p Principal, resourceGroupID, projectID string, in UDAccountInput) (OktaUniversalDirectoryAccount, error) {
	if err := p.check(); err != nil {
		return OktaUniversalDirectoryAccount{}, err
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 255 || strings.TrimSpace(in.Username) == "" || len(in.Username) > 255 {
		return OktaUniversalDirectoryAccount{}, invalidf("name and username must be 1-255 characters")
	}
	if err := checkPassword(in.Password); in.Password != "" && err != nil {
		return OktaUniversalDirectoryAccount{}, err
	}
	now := e.now()
	a := storage.UDAccount{ID: e.newID(), TeamID: p.TeamID, ProjectID: projectID, Name: in.Name, Username: in.Username,
		Description: in.Description, OktaUserID: in.OktaUserID, Status: udStatusUnsecured, StatusDetail: StatusMissingPassword,
		SyncStatus: "NOT_SYNCED", CreatedAt: now, UpdatedAt: now}
	if in.Password != "" {
		a.Credential.Password = e.seal.seal(in.Password, purposeUDAccountPassword, a.ID)
		a.Status, a.StatusDetail = udStatusNoIssues, StatusVaulted
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		if err := p.requireRGAdmin(pr.ResourceGroupID); err != nil {
			return err
		}
		a.ResourceGroupID = pr.ResourceGroupID
		return storage.UDAccounts.Insert(tx, &a)
	})
	if err != nil {
		return OktaUniversalDirectoryAccount{}, err
	}
	return udAdminView(&a), nil
}

func checkPassword(pw string) error {
	if pw == "" || len(pw) > MaxPasswordLength || !utf8.ValidString(pw) {
		return invalidf("a password must be 1-%d bytes of UTF-8", MaxPasswordLength)
	}
	return nil
}

func udAdminView(a *storage.UDAccount) OktaUniversalDirectoryAccount {
	return OktaUniversalDirectoryAccount{ID: a.ID, Name: a.Name, Username: a.Username, Description: a.Description,
		Status: a.Status, StatusDetail: a.StatusDetail, SyncStatus: a.SyncStatus, LCMSyncPossible: a.LCMSyncPossible,
		OktaUserID: a.OktaUserID, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func udContains(a *storage.UDAccount, contains string) bool {
	c := strings.ToLower(contains)
	return c == "" || strings.Contains(strings.ToLower(a.Name), c) || strings.Contains(strings.ToLower(a.Username), c)
}

// AllUDAccounts returns a page of the team's UD accounts whose name or username contains
// contains (case-insensitive), ordered by id. Needs security_admin. ErrInvalid for bad paging.
//
// Cost: a seek of the team's UD accounts and one page, O(page + log N); contains is tested from
// the cursor until the page is full.
func (e *Engine) AllUDAccounts(ctx context.Context, p Principal, contains string, page PageRequest) (Page[OktaUniversalDirectoryAccount], error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return Page[OktaUniversalDirectoryAccount]{}, err
	}
	return e.listUD(ctx, func(storage.ReadTx) error { return nil }, storage.UDAccountsByTeam, p.TeamID,
		func(a *storage.UDAccount) bool { return a.TeamID == p.TeamID }, p.TeamID, contains, page)
}

// ResourceGroupUDAccounts returns a page of the UD accounts of a resource group, filtered like
// AllUDAccounts. Needs security_admin or delegated_security_admin of the group. ErrNotFound for an
// unknown group, ErrInvalid for bad paging.
//
// Cost: a seek of the resource group's UD accounts and one page, O(page + log N); contains is
// tested from the cursor until the page is full.
func (e *Engine) ResourceGroupUDAccounts(ctx context.Context, p Principal, resourceGroupID, contains string, page PageRequest) (Page[OktaUniversalDirectoryAccount], error) {
	if err := p.check(); err != nil {
		return Page[OktaUniversalDirectoryAccount]{}, err
	}
	check := func(tx storage.ReadTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		return p.requireIn(RoleSecurityAdmin, resourceGroupID)
	}
	return e.listUD(ctx, check, storage.UDAccountsByResourceGroup, resourceGroupID,
		func(a *storage.UDAccount) bool { return a.ResourceGroupID == resourceGroupID }, p.TeamID, contains, page)
}

// listUD returns the page of the team's UD accounts under index = arg (in tells a record under
// it) that contain contains, after check passes in the same transaction.
func (e *Engine) listUD(ctx context.Context, check func(storage.ReadTx) error, index storage.IndexName[storage.UDAccount], arg string,
	in func(*storage.UDAccount) bool, teamID, contains string, page PageRequest) (Page[OktaUniversalDirectoryAccount], error) {
	var out Page[OktaUniversalDirectoryAccount]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if err := check(tx); err != nil {
			return err
		}
		src := pageSource[storage.UDAccount]{table: storage.UDAccounts, index: index, args: []string{arg}, in: in,
			keep: func(a *storage.UDAccount) bool { return a.TeamID == teamID && udContains(a, contains) }}
		var err error
		out, err = rangePage(tx, src, page, udAccountID, udAdminView)
		return err
	})
	return out, err
}

// udAccountID is a UD account record's id, its lists' cursor.
func udAccountID(a *storage.UDAccount) string { return a.ID }

// ProjectUDAccounts returns a page of the UD accounts of a project with the settings that apply
// to each. Needs resource_admin or security_admin (or delegated, for the group). ErrNotFound for
// an unknown project, ErrInvalid for bad paging.
//
// Cost: a seek of the project's UD accounts and one page, O(page + log N); contains is tested
// from the cursor until the page is full.
func (e *Engine) ProjectUDAccounts(ctx context.Context, p Principal, resourceGroupID, projectID, contains string, page PageRequest) (Page[OktaUniversalDirectoryAccountWithSettings], error) {
	var out Page[OktaUniversalDirectoryAccountWithSettings]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.requireProjectAdmin(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		src := pageSource[storage.UDAccount]{table: storage.UDAccounts, index: storage.UDAccountsByProject, args: []string{pr.ID},
			in:   func(a *storage.UDAccount) bool { return a.ProjectID == pr.ID },
			keep: func(a *storage.UDAccount) bool { return udContains(a, contains) }}
		out, err = rangePage(tx, src, page, udAccountID, func(a *storage.UDAccount) OktaUniversalDirectoryAccountWithSettings {
			return OktaUniversalDirectoryAccountWithSettings{OktaUniversalDirectoryAccount: udAdminView(a),
				AccountSettingsEnabled: resourceSettingsEnabled(resource{ud: a}, pr), LastPasswordChangeSystemTimestamp: optTime(a.Credential.LastSuccessSystemAt)}
		})
		return err
	})
	return out, err
}

// ProjectUDAccount returns the details of a UD account of the project: checkout state and
// password rotation history. Permissions as ProjectUDAccounts; ErrNotFound for an account outside
// the project.
func (e *Engine) ProjectUDAccount(ctx context.Context, p Principal, resourceGroupID, projectID, accountID string) (OktaUniversalDirectoryAccountDetails, error) {
	var out OktaUniversalDirectoryAccountDetails
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.requireProjectAdmin(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		a, err := storage.UDAccounts.Get(tx, accountID)
		if err != nil || a.ProjectID != pr.ID {
			return notFoundf("Okta Universal Directory account %q does not exist in the project", accountID)
		}
		r := resource{ud: a}
		c := a.Credential
		now := e.now()
		next, reason := nextRotation(r, pr, now)
		out = OktaUniversalDirectoryAccountDetails{ID: a.ID, TeamID: a.TeamID, ProjectID: a.ProjectID, AccountName: a.Name,
			Username: a.Username, CreatedAt: a.CreatedAt, NextScheduledPasswordRotationTimestamp: optTime(next),
			NextScheduledPasswordRotationReason: reason, CheckoutEnabled: pr.UDCheckout.Required && r.inLists(pr.UDCheckout.IncludeList, pr.UDCheckout.ExcludeList),
			CheckoutStatus: lowerAvailability(availabilityFor(r, "", now)), PasswordChangeDetails: passwordChangeDetails(c)}
		if inForce(&a.Lease, now) {
			out.CheckoutStatus, out.CheckoutExpiryAt = leaseCheckedOut, optTime(a.Lease.ExpiresAt)
		}
		if id := a.Lease.LastCheckoutUserID; id != "" {
			if u, err := storage.Users.Get(tx, id); err == nil {
				out.LastCheckoutUser = u.Username
			}
		}
		return nil
	})
	return out, err
}

func passwordChangeDetails(c storage.CredentialState) PasswordChangeDetails {
	return PasswordChangeDetails{
		LastPasswordChangeSuccessReportTimestamp: optTime(c.LastSuccessReportAt), LastPasswordChangeSystemTimestamp: optTime(c.LastSuccessSystemAt),
		LastPasswordChangeErrorReportTimestamp: optTime(c.LastErrorReportAt), LastPasswordChangeErrorSystemTimestamp: optTime(c.LastErrorSystemAt),
		LastPasswordChangeErrorType: c.LastErrorType, LastPasswordChangeErrorMetadata: c.LastErrorMetadata,
		PasswordChangeSuccessCount: c.SuccessCount, PasswordChangeErrorCount: c.ErrorCount, PasswordChangeErrorCountSinceLastSuccess: c.ErrorsSinceLastSuccess,
	}
}

// udAccount finds the UD account if p's policies grant anything on it.
func (e *Engine) udAccount(id string) accessFinder {
	return func(tx storage.ReadTx, p Principal, set *policySet) (accessView, error) {
		return e.visibleUDVia(storage.UDAccounts.Get, tx, p, set, id)
	}
}

// visibleUDVia returns the UD account if p's policies grant anything on it, reading it with get
// (see visibleADVia).
func (e *Engine) visibleUDVia(get func(storage.ReadTx, string) (*storage.UDAccount, error), tx storage.ReadTx, p Principal, set *policySet, id string) (accessView, error) {
	a, err := get(tx, id)
	if err != nil || a.TeamID != p.TeamID {
		return accessView{}, notFoundf("Okta Universal Directory account %q does not exist", id)
	}
	return e.viewOf(tx, set, resource{ud: a})
}

func (v accessView) serviceAccountEndUser(userID string) ServiceAccountEndUser {
	a := v.r.ud
	return ServiceAccountEndUser{
		Account: EndUserServiceAccount{ID: a.ID, Name: a.Name, Username: a.Username, LCMSyncPossible: a.LCMSyncPossible,
			AvailabilityStatus: lowerAvailability(availabilityFor(v.r, userID, v.now)), AccountStatus: a.Status, AccountStatusDetail: a.StatusDetail},
		CheckoutDetails: v.checkoutDetails(userID),
	}
}

// UDAccountsEndUser returns the UD accounts p's policies grant access to, whose name or username
// contains contains, paged by account id (count, offset, prev, descending). ErrInvalid for bad
// paging. Any authenticated user.
//
// Cost: a seek of the team's UD accounts and one page, O(page + log N); the policies' grant and
// contains are tested from the cursor until the page is full.
func (e *Engine) UDAccountsEndUser(ctx context.Context, p Principal, contains string, page PageRequest) (Page[ServiceAccountEndUser], error) {
	if err := page.validate(); err != nil {
		return Page[ServiceAccountEndUser]{}, err
	}
	var out Page[ServiceAccountEndUser]
	err := e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		src := pageSource[storage.UDAccount]{table: storage.UDAccounts, index: storage.UDAccountsByTeam, args: []string{p.TeamID},
			in: func(a *storage.UDAccount) bool { return a.TeamID == p.TeamID },
			keep: func(a *storage.UDAccount) bool {
				if !udContains(a, contains) {
					return false
				}
				_, err := e.viewOf(tx, set, resource{ud: a})
				return err == nil
			}}
		var err error
		out, err = rangePage(tx, src, page, udAccountID, func(a *storage.UDAccount) ServiceAccountEndUser {
			v, _ := e.viewOf(tx, set, resource{ud: a}) // keep accepted it
			return v.serviceAccountEndUser(p.UserID)
		})
		return err
	})
	return out, err
}

// UDAccountEndUser returns one UD account p's policies grant access to; ErrNotFound otherwise.
func (e *Engine) UDAccountEndUser(ctx context.Context, p Principal, accountID string) (ServiceAccountEndUser, error) {
	var out ServiceAccountEndUser
	err := e.withAccess(ctx, p, e.udAccount(accountID), func(_ storage.ReadTx, v accessView) error {
		out = v.serviceAccountEndUser(p.UserID)
		return nil
	})
	return out, err
}

// UDAccountUAMs returns p's user access methods for the UD account; ErrNotFound when p has none.
func (e *Engine) UDAccountUAMs(ctx context.Context, p Principal, accountID string) ([]UserAccessMethod, error) {
	return e.accessMethods(ctx, p, e.udAccount(accountID), "")
}

// RevealUDAccountPassword is RevealADAccountPassword for a Universal Directory account, with the
// same checks, checkout and audit. A UD password has no directory: it is only stored.
func (e *Engine) RevealUDAccountPassword(ctx context.Context, p Principal, accountID string, req RevealRequest) (RevealResponse, error) {
	return e.reveal(ctx, p, req, func(tx storage.ReadTx, set *policySet) (accessView, error) {
		return e.visibleUDVia(storage.UDAccounts.Borrow, tx, p, set, accountID)
	})
}

// RotateUDAccountPassword rotates a UD account's password through an access method granting
// rotate_password.
//
// DESIGN: req.PasswordJWE, when present, is the new password encrypted to the engine's vault key
// (VaultJWKS) as a JWE in the compact or the JSON serialization (RFC 7516 §7.1, §7.2; ECDH-ES
// with or without key wrapping, A256GCM; revealjwe.DecryptAny): the Okta SDK's APIClient.Encrypt
// produces the JSON one. When absent the engine generates a password under the project's
// UD password policy. Errors: as RotateADAccountPassword, plus ErrInvalid when password_jwe does not
// decrypt with the vault key or its plaintext is not 1–255 bytes of UTF-8.
func (e *Engine) RotateUDAccountPassword(ctx context.Context, p Principal, accountID string, req RotateRequest) error {
	if err := p.check(); err != nil {
		return err
	}
	var pw string
	if req.PasswordJWE != "" {
		key, err := e.vaultKey(ctx)
		if err != nil {
			return err
		}
		pt, err := revealjwe.DecryptAny(req.PasswordJWE, key)
		if err != nil {
			return invalidf("password_jwe does not decrypt with the vault key")
		}
		pw = string(pt)
		if err := checkPassword(pw); err != nil {
			return err
		}
	}
	if err := e.authorizeRotate(ctx, p, e.udAccount(accountID), req.UserAccessMethod); err != nil {
		return err
	}
	if err := e.settleIfExpired(ctx, ResourceTypeUDAccount, accountID); err != nil {
		return err
	}
	return e.rotate(ctx, p, ResourceTypeUDAccount, accountID, rotationReasonOnDemand, pw)
}
