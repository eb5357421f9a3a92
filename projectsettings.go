package opa

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/opakit/opa/storage"
)

// Periodic rotation limits of a project password policy.
const (
	MinPeriodicRotationSeconds = 3600
	MaxPeriodicRotationSeconds = 366 * 24 * 3600
)

// ProjectAccountRef names an account in a project's include or exclude list. For
// SettingsAD it is ActiveDirectorySettingNameObject: domain and account_sid (or account_name, or
// account_id). For SettingsUD it is ServiceAccountSettingNameObject: id, the UD account's id
// (account_id and account_name are accepted too). Missing, ServiceAccountUserName and
// SaasAppInstanceName are output only: Missing says the reference names no account of the project
// now; the reads fill in what they know of a referenced account (account_name and account_sid for
// AD; id and service_account_user_name for UD), keeping what was stored.
type ProjectAccountRef struct {
	ID                     string `json:"id,omitempty"`
	ServiceAccountUserName string `json:"service_account_user_name,omitempty"`
	SaasAppInstanceName    string `json:"saas_app_instance_name,omitempty"`
	Domain                 string `json:"domain,omitempty"`
	AccountSID             string `json:"account_sid,omitempty"`
	AccountName            string `json:"account_name,omitempty"`
	AccountID              string `json:"account_id,omitempty"`
	Missing                bool   `json:"missing"`
}

// ProjectCheckoutSettings is the wire shape of a project's AD or UD checkout settings
// (ActiveDirectoryCheckoutSettings / ResourceCheckoutSettings).
type ProjectCheckoutSettings struct {
	CheckoutRequired          bool                `json:"checkout_required"`
	CheckoutDurationInSeconds int                 `json:"checkout_duration_in_seconds"`
	IncludeList               []ProjectAccountRef `json:"include_list"`
	ExcludeList               []ProjectAccountRef `json:"exclude_list"`
}

// PasswordCharacterOptions is the "character_options" object of a password policy.
type PasswordCharacterOptions struct {
	UpperCase             bool     `json:"upper_case"`
	LowerCase             bool     `json:"lower_case"`
	Digits                bool     `json:"digits"`
	Punctuation           bool     `json:"punctuation"`
	ExcludeCertainSymbols []string `json:"exclude_certain_symbols"`
}

// ProjectPasswordPolicy is the wire shape of a project's AD or UD password policy
// (ActiveDirectoryPasswordPolicy). ModifiedAt is output only.
type ProjectPasswordPolicy struct {
	EnablePeriodicRotation              bool                     `json:"enable_periodic_rotation"`
	PeriodicRotationAccountSelectorMode string                   `json:"periodic_rotation_account_selector_mode,omitempty"`
	PeriodicRotationAccountIncludeList  []ProjectAccountRef      `json:"periodic_rotation_account_include_list"`
	PeriodicRotationAccountExcludeList  []ProjectAccountRef      `json:"periodic_rotation_account_exclude_list"`
	PeriodicRotationDurationInSeconds   int                      `json:"periodic_rotation_duration_in_seconds,omitempty"`
	CharacterOptions                    PasswordCharacterOptions `json:"character_options"`
	MinLengthInBytes                    int                      `json:"min_length_in_bytes"`
	MaxLengthInBytes                    int                      `json:"max_length_in_bytes"`
	ModifiedAt                          *time.Time               `json:"modified_at,omitempty"`
}

// Resource kinds of project settings.
const (
	SettingsAD = "active_directory"
	SettingsUD = "okta_universal_directory"
)

func refsToWire(refs []storage.AccountRef) []ProjectAccountRef {
	out := []ProjectAccountRef{}
	for _, r := range refs {
		out = append(out, ProjectAccountRef{Domain: r.Domain, AccountSID: r.AccountSID, AccountName: r.AccountName, AccountID: r.AccountID})
	}
	return out
}

// refsFromWire checks and converts list entries of kind: a UD entry's id is its account_id.
func refsFromWire(kind string, refs []ProjectAccountRef) ([]storage.AccountRef, error) {
	var out []storage.AccountRef
	for _, r := range refs {
		id := r.AccountID
		if kind == SettingsUD && id == "" {
			id = r.ID
		}
		if r.AccountSID == "" && r.AccountName == "" && id == "" {
			if kind == SettingsUD {
				return nil, invalidf("every list entry needs id, the id of an Okta Universal Directory account")
			}
			return nil, invalidf("every list entry needs account_sid, account_name or account_id")
		}
		out = append(out, storage.AccountRef{Domain: r.Domain, AccountSID: r.AccountSID, AccountName: r.AccountName, AccountID: id})
	}
	return out, nil
}

// decorateRefs sets Missing on references that name no account of the kind in the project and
// fills in, for the others, what the wire shape of kind shows of the account: domain, account_sid
// and account_name for AD; id and service_account_user_name for UD (whose entries then carry
// neither account_id nor, once resolved, account_name).
func decorateRefs(tx storage.ReadTx, pr *storage.Project, kind string, refs []ProjectAccountRef) {
	var rs []resource
	if kind == SettingsAD {
		accts, _ := storage.Accounts.List(tx, storage.AccountsByProject, pr.ID)
		for _, a := range accts {
			rs = append(rs, resource{ad: a})
		}
	} else {
		uds, _ := storage.UDAccounts.List(tx, storage.UDAccountsByProject, pr.ID)
		for _, a := range uds {
			rs = append(rs, resource{ud: a})
		}
	}
	for i, ref := range refs {
		sref := storage.AccountRef{Domain: ref.Domain, AccountSID: ref.AccountSID, AccountName: ref.AccountName, AccountID: ref.AccountID}
		j := slices.IndexFunc(rs, func(r resource) bool { return r.refMatches(sref) })
		refs[i].Missing = j < 0
		if kind == SettingsUD {
			refs[i].ID, refs[i].AccountID = ref.AccountID, ""
			if j >= 0 {
				refs[i].ID, refs[i].ServiceAccountUserName, refs[i].AccountName = rs[j].ud.ID, rs[j].ud.Username, ""
			}
			continue
		}
		if j >= 0 {
			a := rs[j].ad
			refs[i].Domain, refs[i].AccountSID = cmp.Or(ref.Domain, a.Domain), cmp.Or(ref.AccountSID, a.SID)
			refs[i].AccountName = cmp.Or(ref.AccountName, a.SAMAccountName)
		}
	}
}

func checkSettingsKind(kind string) error {
	if kind != SettingsAD && kind != SettingsUD {
		return invalidf("settings kind must be %s or %s", SettingsAD, SettingsUD)
	}
	return nil
}

// readProjectSettings is the skeleton of the settings reads: it checks p and kind, loads the
// project (any authenticated member of the team may read settings; DESIGN: they are not secret and
// end users' access methods already reveal them), and returns what view makes of the project's
// settings of kind, with the references of the lists view returns decorated (decorateRefs).
func readProjectSettings[T any](ctx context.Context, e *Engine, p Principal, resourceGroupID, projectID, kind string, view func(pr *storage.Project) (T, [][]ProjectAccountRef)) (T, error) {
	var out T
	if err := p.check(); err != nil {
		return out, err
	}
	if err := checkSettingsKind(kind); err != nil {
		return out, err
	}
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		var lists [][]ProjectAccountRef
		out, lists = view(pr)
		for _, refs := range lists {
			decorateRefs(tx, pr, kind, refs)
		}
		return nil
	})
	return out, err
}

// updateProjectSettings is the skeleton of the settings updates, after the caller has checked p,
// kind and the input: in one transaction it checks that p is a (delegated) security admin of the
// project, lets set change the project and stores it, and audits the change as what.
func (e *Engine) updateProjectSettings(ctx context.Context, p Principal, resourceGroupID, projectID, what string, set func(pr *storage.Project)) error {
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		if err := p.requireIn(RoleSecurityAdmin, pr.ResourceGroupID); err != nil {
			return err
		}
		set(pr)
		if err := storage.Projects.Update(tx, pr); err != nil {
			return err
		}
		return e.audit(tx, p, AuditPolicyChange, "project", pr.ID, "success", what)
	})
}

// checkSettingsInput checks p and kind before an update validates its input.
func checkSettingsInput(p Principal, kind string) error {
	if err := p.check(); err != nil {
		return err
	}
	return checkSettingsKind(kind)
}

// ProjectCheckoutSettings returns the project's checkout settings for kind (SettingsAD or
// SettingsUD). Any authenticated user of the team. ErrNotFound for an unknown project.
func (e *Engine) ProjectCheckoutSettings(ctx context.Context, p Principal, resourceGroupID, projectID, kind string) (ProjectCheckoutSettings, error) {
	return readProjectSettings(ctx, e, p, resourceGroupID, projectID, kind, func(pr *storage.Project) (ProjectCheckoutSettings, [][]ProjectAccountRef) {
		cs := pr.ADCheckout
		if kind == SettingsUD {
			cs = pr.UDCheckout
		}
		out := checkoutSettingsToWire(cs)
		return out, [][]ProjectAccountRef{out.IncludeList, out.ExcludeList}
	})
}

func checkoutSettingsToWire(cs storage.CheckoutSettings) ProjectCheckoutSettings {
	return ProjectCheckoutSettings{CheckoutRequired: cs.Required, CheckoutDurationInSeconds: cs.DurationSeconds,
		IncludeList: refsToWire(cs.IncludeList), ExcludeList: refsToWire(cs.ExcludeList)}
}

// UpdateProjectCheckoutSettings replaces the project's checkout settings for kind. Needs
// security_admin or delegated_security_admin of the resource group ("Only security admins can
// configure this setting"). ErrInvalid for a duration outside 900–86400 seconds or both an include
// and an exclude list. New settings apply to new checkouts; running ones keep their expiry.
func (e *Engine) UpdateProjectCheckoutSettings(ctx context.Context, p Principal, resourceGroupID, projectID, kind string, in ProjectCheckoutSettings) (ProjectCheckoutSettings, error) {
	if err := checkSettingsInput(p, kind); err != nil {
		return ProjectCheckoutSettings{}, err
	}
	if in.CheckoutDurationInSeconds < MinCheckoutSeconds || in.CheckoutDurationInSeconds > MaxCheckoutSeconds {
		return ProjectCheckoutSettings{}, invalidf("checkout_duration_in_seconds must be between %d and %d", MinCheckoutSeconds, MaxCheckoutSeconds)
	}
	if len(in.IncludeList) > 0 && len(in.ExcludeList) > 0 {
		return ProjectCheckoutSettings{}, invalidf("Only one of 'IncludeList' or 'ExcludeList' can be specified")
	}
	inc, err := refsFromWire(kind, in.IncludeList)
	if err != nil {
		return ProjectCheckoutSettings{}, err
	}
	exc, err := refsFromWire(kind, in.ExcludeList)
	if err != nil {
		return ProjectCheckoutSettings{}, err
	}
	cs := storage.CheckoutSettings{Required: in.CheckoutRequired, DurationSeconds: in.CheckoutDurationInSeconds, IncludeList: inc, ExcludeList: exc}
	err = e.updateProjectSettings(ctx, p, resourceGroupID, projectID, kind+" checkout settings", func(pr *storage.Project) {
		if kind == SettingsAD {
			pr.ADCheckout = cs
		} else {
			pr.UDCheckout = cs
		}
	})
	if err != nil {
		return ProjectCheckoutSettings{}, err
	}
	return e.ProjectCheckoutSettings(ctx, p, resourceGroupID, projectID, kind)
}

// ProjectPasswordPolicy returns the project's password policy for kind. Any authenticated user of
// the team. ErrNotFound for an unknown project.
func (e *Engine) ProjectPasswordPolicy(ctx context.Context, p Principal, resourceGroupID, projectID, kind string) (ProjectPasswordPolicy, error) {
	return readProjectSettings(ctx, e, p, resourceGroupID, projectID, kind, func(pr *storage.Project) (ProjectPasswordPolicy, [][]ProjectAccountRef) {
		pol := pr.ADPassword
		if kind == SettingsUD {
			pol = pr.UDPassword
		}
		out := passwordPolicyToWire(pol)
		return out, [][]ProjectAccountRef{out.PeriodicRotationAccountIncludeList, out.PeriodicRotationAccountExcludeList}
	})
}

func passwordPolicyToWire(pol storage.PasswordPolicy) ProjectPasswordPolicy {
	return ProjectPasswordPolicy{
		EnablePeriodicRotation: pol.EnablePeriodicRotation, PeriodicRotationAccountSelectorMode: pol.AccountSelectorMode,
		PeriodicRotationAccountIncludeList: refsToWire(pol.IncludeList), PeriodicRotationAccountExcludeList: refsToWire(pol.ExcludeList),
		PeriodicRotationDurationInSeconds: pol.PeriodicRotationDurationSeconds,
		CharacterOptions: PasswordCharacterOptions{UpperCase: pol.UpperCase, LowerCase: pol.LowerCase, Digits: pol.Digits,
			Punctuation: pol.Punctuation, ExcludeCertainSymbols: append([]string{}, pol.ExcludeCertainSymbols...)},
		MinLengthInBytes: pol.MinLength, MaxLengthInBytes: pol.MaxLength, ModifiedAt: optTime(pol.ModifiedAt),
	}
}

// UpdateProjectPasswordPolicy replaces the project's password policy for kind. Needs security_admin
// or delegated_security_admin of the resource group. ErrInvalid for: periodic rotation without a
// duration between MinPeriodicRotationSeconds and MaxPeriodicRotationSeconds, a selector other than
// ALL, INCLUDE or EXCLUDE (empty means ALL), lists that do not fit the selector, no character class,
// lengths outside MinPasswordLength–MaxPasswordLength or min > max. Accounts already scheduled keep
// their next rotation time; the next rotation reschedules them.
func (e *Engine) UpdateProjectPasswordPolicy(ctx context.Context, p Principal, resourceGroupID, projectID, kind string, in ProjectPasswordPolicy) (ProjectPasswordPolicy, error) {
	if err := checkSettingsInput(p, kind); err != nil {
		return ProjectPasswordPolicy{}, err
	}
	pol, err := passwordPolicyFromWire(kind, in, e.now())
	if err != nil {
		return ProjectPasswordPolicy{}, err
	}
	err = e.updateProjectSettings(ctx, p, resourceGroupID, projectID, kind+" password policy", func(pr *storage.Project) {
		if kind == SettingsAD {
			pr.ADPassword = pol
		} else {
			pr.UDPassword = pol
		}
	})
	if err != nil {
		return ProjectPasswordPolicy{}, err
	}
	return e.ProjectPasswordPolicy(ctx, p, resourceGroupID, projectID, kind)
}

// passwordPolicyFromWire validates a password policy in the wire shape and returns it as stored,
// modified at now. ErrInvalid as described on UpdateProjectPasswordPolicy.
func passwordPolicyFromWire(kind string, in ProjectPasswordPolicy, now time.Time) (storage.PasswordPolicy, error) {
	mode := in.PeriodicRotationAccountSelectorMode
	if mode == "" {
		mode = "ALL"
	}
	switch {
	case mode != "ALL" && mode != "INCLUDE" && mode != "EXCLUDE":
		return storage.PasswordPolicy{}, invalidf("periodic_rotation_account_selector_mode must be ALL, INCLUDE or EXCLUDE")
	case mode != "INCLUDE" && len(in.PeriodicRotationAccountIncludeList) > 0,
		mode != "EXCLUDE" && len(in.PeriodicRotationAccountExcludeList) > 0:
		return storage.PasswordPolicy{}, invalidf("the include list needs selector INCLUDE and the exclude list selector EXCLUDE")
	case in.EnablePeriodicRotation && (in.PeriodicRotationDurationInSeconds < MinPeriodicRotationSeconds || in.PeriodicRotationDurationInSeconds > MaxPeriodicRotationSeconds):
		return storage.PasswordPolicy{}, invalidf("periodic_rotation_duration_in_seconds must be between %d and %d", MinPeriodicRotationSeconds, MaxPeriodicRotationSeconds)
	}
	inc, err := refsFromWire(kind, in.PeriodicRotationAccountIncludeList)
	if err != nil {
		return storage.PasswordPolicy{}, err
	}
	exc, err := refsFromWire(kind, in.PeriodicRotationAccountExcludeList)
	if err != nil {
		return storage.PasswordPolicy{}, err
	}
	co := in.CharacterOptions
	pol := storage.PasswordPolicy{
		EnablePeriodicRotation: in.EnablePeriodicRotation, PeriodicRotationDurationSeconds: in.PeriodicRotationDurationInSeconds,
		AccountSelectorMode: mode, IncludeList: inc, ExcludeList: exc,
		UpperCase: co.UpperCase, LowerCase: co.LowerCase, Digits: co.Digits, Punctuation: co.Punctuation,
		ExcludeCertainSymbols: slices.Clone(co.ExcludeCertainSymbols), MinLength: in.MinLengthInBytes, MaxLength: in.MaxLengthInBytes,
		ModifiedAt: now,
	}
	if err := validatePasswordPolicy(pol); err != nil {
		return storage.PasswordPolicy{}, err
	}
	return pol, nil
}
