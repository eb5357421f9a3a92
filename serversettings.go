package opa

import (
	"context"
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// ServerCheckoutSettings is a project's checkout settings for its server accounts
// (ResourceCheckoutSettings, docs/wire.md#server-settings): the lists hold server account names,
// and an empty list is omitted, as the SDK's model omits it (the provider's tests compare a read
// list with nil). The engine manages no server accounts: the settings are kept and served, and
// affect nothing else.
type ServerCheckoutSettings struct {
	CheckoutRequired          bool     `json:"checkout_required"`
	CheckoutDurationInSeconds int      `json:"checkout_duration_in_seconds"`
	IncludeList               []string `json:"include_list,omitempty"`
	ExcludeList               []string `json:"exclude_list,omitempty"`
}

// ServerPasswordSettings is a project's password policy for its server accounts (the provider's
// PasswordSettings, the SDK's PasswordPolicy): PeriodicRotationDurationInSeconds is always present
// (0 when unset) and there is no modified_at, as the provider's client compares the whole object.
type ServerPasswordSettings struct {
	EnablePeriodicRotation            bool                     `json:"enable_periodic_rotation"`
	PeriodicRotationDurationInSeconds int                      `json:"periodic_rotation_duration_in_seconds"`
	MinLengthInBytes                  int                      `json:"min_length_in_bytes"`
	MaxLengthInBytes                  int                      `json:"max_length_in_bytes"`
	CharacterOptions                  PasswordCharacterOptions `json:"character_options"`
	ManagedPrivilegedAccountsConfig   []string                 `json:"managed_privileged_accounts_config"`
}

// maxServerAccountNames bounds each list of server account names.
const maxServerAccountNames = 1000

// ServerCheckoutSettings returns the project's server checkout settings (checkout not required,
// 30 minutes, until set). Any authenticated user of the team. ErrNotFound for an unknown project.
func (e *Engine) ServerCheckoutSettings(ctx context.Context, p Principal, resourceGroupID, projectID string) (ServerCheckoutSettings, error) {
	return readProjectSettings(ctx, e, p, resourceGroupID, projectID, SettingsAD, func(pr *storage.Project) (ServerCheckoutSettings, [][]ProjectAccountRef) {
		cs := pr.ServerCheckout
		if cs.DurationSeconds == 0 {
			cs = defaultCheckoutSettings()
		}
		return ServerCheckoutSettings{CheckoutRequired: cs.Required, CheckoutDurationInSeconds: cs.DurationSeconds,
			IncludeList: refNames(cs.IncludeList), ExcludeList: refNames(cs.ExcludeList)}, nil
	})
}

// UpdateServerCheckoutSettings replaces the project's server checkout settings. Needs
// security_admin or delegated_security_admin of the resource group. ErrInvalid for a duration
// outside 900–86400 seconds, both an include and an exclude list ("Only one of 'IncludeList' or
// 'ExcludeList' can be specified"), or an empty or over-long account name.
func (e *Engine) UpdateServerCheckoutSettings(ctx context.Context, p Principal, resourceGroupID, projectID string, in ServerCheckoutSettings) (ServerCheckoutSettings, error) {
	if err := p.check(); err != nil {
		return ServerCheckoutSettings{}, err
	}
	if in.CheckoutDurationInSeconds < MinCheckoutSeconds || in.CheckoutDurationInSeconds > MaxCheckoutSeconds {
		return ServerCheckoutSettings{}, invalidf("checkout_duration_in_seconds must be between %d and %d", MinCheckoutSeconds, MaxCheckoutSeconds)
	}
	if len(in.IncludeList) > 0 && len(in.ExcludeList) > 0 {
		return ServerCheckoutSettings{}, invalidf("Only one of 'IncludeList' or 'ExcludeList' can be specified")
	}
	inc, err := namedRefs("include_list", in.IncludeList)
	if err != nil {
		return ServerCheckoutSettings{}, err
	}
	exc, err := namedRefs("exclude_list", in.ExcludeList)
	if err != nil {
		return ServerCheckoutSettings{}, err
	}
	cs := storage.CheckoutSettings{Required: in.CheckoutRequired, DurationSeconds: in.CheckoutDurationInSeconds, IncludeList: inc, ExcludeList: exc}
	err = e.updateProjectSettings(ctx, p, resourceGroupID, projectID, "server checkout settings", func(pr *storage.Project) { pr.ServerCheckout = cs })
	if err != nil {
		return ServerCheckoutSettings{}, err
	}
	return e.ServerCheckoutSettings(ctx, p, resourceGroupID, projectID)
}

// ServerPasswordSettings returns the project's server password policy (DefaultPasswordPolicy with
// no managed accounts until set). Any authenticated user of the team. ErrNotFound for an unknown
// project.
func (e *Engine) ServerPasswordSettings(ctx context.Context, p Principal, resourceGroupID, projectID string) (ServerPasswordSettings, error) {
	return readProjectSettings(ctx, e, p, resourceGroupID, projectID, SettingsAD, func(pr *storage.Project) (ServerPasswordSettings, [][]ProjectAccountRef) {
		pol := pr.ServerPassword
		if pol.MaxLength == 0 {
			pol = defaultPasswordPolicy()
		}
		return ServerPasswordSettings{
			EnablePeriodicRotation: pol.EnablePeriodicRotation, PeriodicRotationDurationInSeconds: pol.PeriodicRotationDurationSeconds,
			MinLengthInBytes: pol.MinLength, MaxLengthInBytes: pol.MaxLength,
			CharacterOptions: PasswordCharacterOptions{UpperCase: pol.UpperCase, LowerCase: pol.LowerCase, Digits: pol.Digits,
				Punctuation: pol.Punctuation, ExcludeCertainSymbols: append([]string{}, pol.ExcludeCertainSymbols...)},
			ManagedPrivilegedAccountsConfig: append([]string{}, pol.ManagedAccounts...),
		}, nil
	})
}

// UpdateServerPasswordSettings replaces the project's server password policy (a missing duration
// becomes 0). Needs security_admin or delegated_security_admin of the resource group. ErrInvalid as
// UpdateProjectPasswordPolicy, and for an empty, over-long or repeated account name.
func (e *Engine) UpdateServerPasswordSettings(ctx context.Context, p Principal, resourceGroupID, projectID string, in ServerPasswordSettings) (ServerPasswordSettings, error) {
	if err := p.check(); err != nil {
		return ServerPasswordSettings{}, err
	}
	pol, err := passwordPolicyFromWire(SettingsAD, ProjectPasswordPolicy{
		EnablePeriodicRotation: in.EnablePeriodicRotation, PeriodicRotationDurationInSeconds: in.PeriodicRotationDurationInSeconds,
		CharacterOptions: in.CharacterOptions, MinLengthInBytes: in.MinLengthInBytes, MaxLengthInBytes: in.MaxLengthInBytes,
	}, e.now())
	if err != nil {
		return ServerPasswordSettings{}, err
	}
	if in.PeriodicRotationDurationInSeconds < 0 {
		return ServerPasswordSettings{}, invalidf("periodic_rotation_duration_in_seconds must not be negative")
	}
	refs, err := namedRefs("managed_privileged_accounts_config", in.ManagedPrivilegedAccountsConfig)
	if err != nil {
		return ServerPasswordSettings{}, err
	}
	pol.ManagedAccounts = refNames(refs)
	err = e.updateProjectSettings(ctx, p, resourceGroupID, projectID, "server password policy", func(pr *storage.Project) { pr.ServerPassword = pol })
	if err != nil {
		return ServerPasswordSettings{}, err
	}
	return e.ServerPasswordSettings(ctx, p, resourceGroupID, projectID)
}

// namedRefs checks a list of server account names (non-empty, at most 255 characters, no
// repeats, at most maxServerAccountNames) and returns them as references by name.
func namedRefs(field string, names []string) ([]storage.AccountRef, error) {
	if len(names) > maxServerAccountNames {
		return nil, invalidf("%s has more than %d entries", field, maxServerAccountNames)
	}
	var out []storage.AccountRef
	for i, n := range names {
		if strings.TrimSpace(n) == "" || len(n) > 255 {
			return nil, invalidf("%s entries are account names of 1-255 characters", field)
		}
		if slices.Contains(names[:i], n) {
			return nil, invalidf("%s names %q twice", field, n)
		}
		out = append(out, storage.AccountRef{AccountName: n})
	}
	return out, nil
}

func refNames(refs []storage.AccountRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.AccountName)
	}
	return out
}
