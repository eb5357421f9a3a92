package opa

import (
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// resource is a managed account of either kind, seen through what checkout, rotation and reveal
// share. Exactly one of ad and ud is set; both point at copies read in the current transaction.
type resource struct {
	ad *storage.Account
	ud *storage.UDAccount
}

// loadResource reads the resource of the type with the id, in teamID's team (empty teamID: any).
func loadResource(tx storage.ReadTx, teamID, resourceType, id string) (resource, error) {
	switch resourceType {
	case ResourceTypeADAccount:
		a, err := storage.Accounts.Get(tx, id)
		if err != nil || (teamID != "" && a.TeamID != teamID) {
			return resource{}, notFoundf("AD account %q does not exist", id)
		}
		return resource{ad: a}, nil
	case ResourceTypeUDAccount:
		a, err := storage.UDAccounts.Get(tx, id)
		if err != nil || (teamID != "" && a.TeamID != teamID) {
			return resource{}, notFoundf("Okta Universal Directory account %q does not exist", id)
		}
		return resource{ud: a}, nil
	}
	return resource{}, invalidf("resource_type must be %s or %s", ResourceTypeADAccount, ResourceTypeUDAccount)
}

func (r resource) reload(tx storage.ReadTx) (resource, error) {
	return loadResource(tx, "", r.kind(), r.id())
}

func (r resource) kind() string {
	if r.ad != nil {
		return ResourceTypeADAccount
	}
	return ResourceTypeUDAccount
}

func (r resource) id() string {
	if r.ad != nil {
		return r.ad.ID
	}
	return r.ud.ID
}

func (r resource) teamID() string {
	if r.ad != nil {
		return r.ad.TeamID
	}
	return r.ud.TeamID
}

// name is the account's user name: the AD UPN (or sAMAccountName), the UD username.
func (r resource) name() string {
	if r.ad != nil {
		if r.ad.UPN != "" {
			return r.ad.UPN
		}
		return r.ad.SAMAccountName
	}
	return r.ud.Username
}

func (r resource) projectID() string {
	if r.ad != nil {
		return r.ad.ProjectID
	}
	return r.ud.ProjectID
}

func (r resource) resourceGroupID() string {
	if r.ad != nil {
		return r.ad.ResourceGroupID
	}
	return r.ud.ResourceGroupID
}

func (r resource) cred() *storage.CredentialState {
	if r.ad != nil {
		return &r.ad.Credential
	}
	return &r.ud.Credential
}

func (r resource) lease() *storage.LeaseState {
	if r.ad != nil {
		return &r.ad.Lease
	}
	return &r.ud.Lease
}

func (r resource) statusDetail() string {
	if r.ad != nil {
		return r.ad.StatusDetail
	}
	return r.ud.StatusDetail
}

func (r resource) setStatusDetail(s string) {
	if r.ad != nil {
		r.ad.StatusDetail = s
		return
	}
	r.ud.StatusDetail = s
	switch s {
	case StatusRotationFailed:
		r.ud.Status = udStatusError
	case StatusRotated:
		r.ud.Status = udStatusNoIssues
	}
}

func (r resource) purpose() string {
	if r.ad != nil {
		return purposeAccountPassword
	}
	return purposeUDAccountPassword
}

func (r resource) save(tx storage.WriteTx, now time.Time) error {
	if r.ad != nil {
		r.ad.UpdatedAt = now
		return storage.Accounts.Update(tx, r.ad)
	}
	r.ud.UpdatedAt = now
	return storage.UDAccounts.Update(tx, r.ud)
}

// settings returns the project's checkout settings and password policy for the resource's kind.
func (r resource) settings(pr *storage.Project) (storage.CheckoutSettings, storage.PasswordPolicy) {
	if r.ad != nil {
		return pr.ADCheckout, pr.ADPassword
	}
	return pr.UDCheckout, pr.UDPassword
}

// refMatches reports whether a project include/exclude list entry names the resource: by id, by
// SID, or by account name (sAMAccountName, UPN, UD username or name; case-insensitive), within the
// entry's domain when it has one.
func (r resource) refMatches(ref storage.AccountRef) bool {
	if ref.AccountID != "" && ref.AccountID == r.id() {
		return true
	}
	if r.ad != nil {
		if ref.Domain != "" && !strings.EqualFold(ref.Domain, r.ad.Domain) {
			return false
		}
		if ref.AccountSID != "" {
			return strings.EqualFold(ref.AccountSID, r.ad.SID) // SIDs are case-insensitive, as in the accounts' index
		}
		return ref.AccountName != "" && (strings.EqualFold(ref.AccountName, r.ad.SAMAccountName) || strings.EqualFold(ref.AccountName, r.ad.UPN))
	}
	return ref.AccountName != "" && (strings.EqualFold(ref.AccountName, r.ud.Username) || strings.EqualFold(ref.AccountName, r.ud.Name))
}

// inLists applies an include/exclude pair: a non-empty include list must name the resource, an
// exclude list must not.
func (r resource) inLists(include, exclude []storage.AccountRef) bool {
	if len(include) > 0 {
		for _, ref := range include {
			if r.refMatches(ref) {
				return true
			}
		}
		return false
	}
	for _, ref := range exclude {
		if r.refMatches(ref) {
			return false
		}
	}
	return true
}

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

// resourceSettingsEnabled returns which project settings apply to r (account_settings_enabled):
// SettingCheckout when the project requires checkout for it, SettingRotationSchedule when
// periodic rotation selects it. It reads the settings exactly as checkout and rotation do.
func resourceSettingsEnabled(r resource, pr *storage.Project) []string {
	out := []string{}
	cs, pol := r.settings(pr)
	if cs.Required && r.inLists(cs.IncludeList, cs.ExcludeList) {
		out = append(out, SettingCheckout)
	}
	if periodicSelected(r, pol) {
		out = append(out, SettingRotationSchedule)
	}
	return out
}
