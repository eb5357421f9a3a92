package opa

import (
	"context"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// Project belongs to a resource group and holds the checkout settings and password policies of its
// AD and Universal Directory accounts (see ProjectCheckoutSettings and ProjectPasswordPolicy).
type Project struct {
	ID              string                  `json:"id"`
	TeamID          string                  `json:"team_id"`
	ResourceGroupID string                  `json:"resource_group_id"`
	Name            string                  `json:"name"`
	ADCheckout      ProjectCheckoutSettings `json:"ad_checkout"`
	ADPassword      ProjectPasswordPolicy   `json:"ad_password"`
	UDCheckout      ProjectCheckoutSettings `json:"ud_checkout"`
	UDPassword      ProjectPasswordPolicy   `json:"ud_password"`
	// GatewaySelector is comma-separated key=value gateway labels ("" when unset).
	GatewaySelector string `json:"gateway_selector,omitempty"`
	// SSHCertificateType is one of SSHCertificateTypes (DefaultSSHCertificateType when unset).
	SSHCertificateType string `json:"ssh_certificate_type"`
	// ServerAccountManagement is the API's server_account_management (TF's account_discovery).
	ServerAccountManagement bool      `json:"server_account_management"`
	CreatedAt               time.Time `json:"created_at"`
	// DeletedAt is when the project was deleted (a soft delete); zero for a live project.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

func projectOf(pr *storage.Project) Project {
	out := Project{
		ID: pr.ID, TeamID: pr.TeamID, ResourceGroupID: pr.ResourceGroupID, Name: pr.Name,
		ADCheckout: checkoutSettingsToWire(pr.ADCheckout), ADPassword: passwordPolicyToWire(pr.ADPassword),
		UDCheckout: checkoutSettingsToWire(pr.UDCheckout), UDPassword: passwordPolicyToWire(pr.UDPassword),
		GatewaySelector: pr.GatewaySelector, SSHCertificateType: pr.SSHCertificateType,
		ServerAccountManagement: pr.ServerAccountManagement, CreatedAt: pr.CreatedAt, DeletedAt: pr.DeletedAt,
	}
	if out.SSHCertificateType == "" {
		out.SSHCertificateType = DefaultSSHCertificateType
	}
	return out
}

// ProjectInput holds the server-access settings of a resource-group project to create or
// change. A nil field is left as it is (on create: unset, DefaultSSHCertificateType, false).
type ProjectInput struct {
	// Name is the project's name on create; on update it must be empty or the current name
	// (projects are not renamed).
	Name                    string
	GatewaySelector         *string
	SSHCertificateType      *string
	ServerAccountManagement *bool
}

func (in ProjectInput) apply(pr *storage.Project) error {
	if err := applyServerAccess(pr, in.GatewaySelector, in.SSHCertificateType); err != nil {
		return err
	}
	if in.ServerAccountManagement != nil {
		pr.ServerAccountManagement = *in.ServerAccountManagement
	}
	return nil
}

// CreateProject creates a project in a resource group, with checkout off and the default password
// policy. Needs resource_admin, or delegated_resource_admin of that resource group. Errors as
// CreateProjectWith.
func (e *Engine) CreateProject(ctx context.Context, p Principal, resourceGroupID, name string) (Project, error) {
	return e.CreateProjectWith(ctx, p, resourceGroupID, ProjectInput{Name: name})
}

// CreateProjectWith creates a project in a resource group with in's server-access settings,
// checkout off and the default password policy. A deleted project of the same name in the
// resource group is replaced. Needs resource_admin, or delegated_resource_admin of that resource
// group. Errors: ErrNotFound for an unknown resource group (or another team's); ErrInvalid for a
// bad name, gateway selector or ssh_certificate_type (SSHCertificateTypes); ErrConflict when a
// live project of the resource group has the name (case-insensitive). Nothing changes on error.
// Safe for concurrent use.
func (e *Engine) CreateProjectWith(ctx context.Context, p Principal, resourceGroupID string, in ProjectInput) (Project, error) {
	if err := p.check(); err != nil {
		return Project{}, err
	}
	name := in.Name
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return Project{}, invalidf("project name must be 1-255 characters")
	}
	pr := storage.Project{
		ID: e.newID(), TeamID: p.TeamID, ResourceGroupID: resourceGroupID, Name: name,
		ADCheckout: defaultCheckoutSettings(), UDCheckout: defaultCheckoutSettings(),
		ADPassword: defaultPasswordPolicy(), UDPassword: defaultPasswordPolicy(), CreatedAt: e.now(),
		SSHCertificateType: DefaultSSHCertificateType,
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		if err := p.requireIn(RoleResourceAdmin, resourceGroupID); err != nil {
			return err
		}
		if err := in.apply(&pr); err != nil {
			return err
		}
		if old, err := storage.Projects.First(tx, storage.ProjectsByName, resourceGroupID, name); err == nil && !old.DeletedAt.IsZero() {
			if err := e.purgeProject(tx, old); err != nil {
				return err
			}
		}
		return wrapConflict(storage.Projects.Insert(tx, &pr), "a project named %q already exists in the resource group", name)
	})
	if err != nil {
		return Project{}, err
	}
	return projectOf(&pr), nil
}

// DefaultCheckoutSettings returns the checkout settings of a new project: checkout not required,
// 30 minutes (OPA's default maximum).
func DefaultCheckoutSettings() ProjectCheckoutSettings {
	return checkoutSettingsToWire(defaultCheckoutSettings())
}

func defaultCheckoutSettings() storage.CheckoutSettings {
	return storage.CheckoutSettings{Required: false, DurationSeconds: 1800}
}

// DefaultPasswordPolicy returns the password policy of a new project: no periodic rotation; 32
// characters of upper, lower, digits and punctuation.
func DefaultPasswordPolicy() ProjectPasswordPolicy {
	return passwordPolicyToWire(defaultPasswordPolicy())
}

func defaultPasswordPolicy() storage.PasswordPolicy {
	return storage.PasswordPolicy{
		AccountSelectorMode: "ALL", UpperCase: true, LowerCase: true, Digits: true, Punctuation: true,
		MinLength: 32, MaxLength: 32,
	}
}

// Projects returns the live projects of a resource group of p's team (deleted ones are left out),
// for any authenticated principal of the team (the embedding program's and fixtures' view;
// ListProjects is the paged, authorized list). ErrNotFound for an unknown resource group.
func (e *Engine) Projects(ctx context.Context, p Principal, resourceGroupID string) ([]Project, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var out []Project
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		ps, err := storage.Projects.List(tx, storage.ProjectsByResourceGroup, resourceGroupID)
		for _, pr := range ps {
			if pr.DeletedAt.IsZero() {
				out = append(out, projectOf(pr))
			}
		}
		return err
	})
	return out, err
}

// teamProject returns the project, checking that it is p's team's and, when resourceGroupID is not
// empty, that it belongs to that resource group.
func (e *Engine) teamProject(tx storage.ReadTx, p Principal, resourceGroupID, projectID string) (*storage.Project, error) {
	pr, err := storage.Projects.Get(tx, projectID)
	if err != nil {
		return nil, wrapNotFound(err, "project %q does not exist", projectID)
	}
	if err := p.sameTeam(pr.TeamID, "project", projectID); err != nil {
		return nil, err
	}
	if !pr.DeletedAt.IsZero() {
		return nil, notFoundf("project %q does not exist", projectID)
	}
	if resourceGroupID != "" && pr.ResourceGroupID != resourceGroupID {
		return nil, notFoundf("project %q does not exist in resource group %q", projectID, resourceGroupID)
	}
	return pr, nil
}

// ResourceGroupProject returns a project of a resource group of p's team, deleted or not (a
// deleted one has DeletedAt set). Needs resource_admin or security_admin, team-wide or delegated
// for the resource group. Errors: ErrNotFound for an unknown resource group or project, or a
// project of another resource group or team. Safe for concurrent use.
func (e *Engine) ResourceGroupProject(ctx context.Context, p Principal, resourceGroupID, projectID string) (Project, error) {
	if err := p.check(); err != nil {
		return Project{}, err
	}
	var out Project
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		if err := p.requireRGAdmin(resourceGroupID); err != nil {
			return err
		}
		pr, err := storage.Projects.Get(tx, projectID)
		if err != nil || pr.TeamID != p.TeamID || pr.ResourceGroupID != resourceGroupID {
			return notFoundf("project %q does not exist in resource group %q", projectID, resourceGroupID)
		}
		out = projectOf(pr)
		return nil
	})
	return out, err
}

// ListProjects returns one page of the live projects of a resource group of p's team, in id
// order. Needs resource_admin or security_admin, team-wide or delegated for the resource group.
// Errors: ErrNotFound for an unknown resource group, ErrInvalid for a bad page request. Cost: one
// seek and one page plus the deleted projects passed over. Safe for concurrent use.
func (e *Engine) ListProjects(ctx context.Context, p Principal, resourceGroupID string, page PageRequest) (Page[Project], error) {
	if err := p.check(); err != nil {
		return Page[Project]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[Project]{}, err
	}
	var out Page[Project]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		if err := p.requireRGAdmin(resourceGroupID); err != nil {
			return err
		}
		src := pageSource[storage.Project]{table: storage.Projects, index: storage.ProjectsByResourceGroup, args: []string{resourceGroupID},
			in:   func(pr *storage.Project) bool { return pr.ResourceGroupID == resourceGroupID },
			keep: func(pr *storage.Project) bool { return pr.DeletedAt.IsZero() }}
		var err error
		out, err = rangePage(tx, src, page, func(pr *storage.Project) string { return pr.ID }, projectOf)
		return err
	})
	return out, err
}

// UpdateProject changes the settings of in that are not nil (a merge: the others stay). Needs
// resource_admin, or delegated_resource_admin of the resource group. Errors: ErrNotFound for an
// unknown or deleted project (or one of another resource group); ErrInvalid for a bad setting or
// a rename. Nothing changes on error. Safe for concurrent use.
func (e *Engine) UpdateProject(ctx context.Context, p Principal, resourceGroupID, projectID string, in ProjectInput) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		if err := p.requireIn(RoleResourceAdmin, pr.ResourceGroupID); err != nil {
			return err
		}
		if in.Name != "" && !strings.EqualFold(in.Name, pr.Name) {
			return invalidf("projects cannot be renamed")
		}
		if err := in.apply(pr); err != nil {
			return err
		}
		return storage.Projects.Update(tx, pr)
	})
}

// DeleteProject soft-deletes a project: it stays readable (ResourceGroupProject) with DeletedAt
// set, leaves the list, and its checkout and password settings go with it; its name can be used
// again. Needs resource_admin, or delegated_resource_admin of the resource group. Errors:
// ErrNotFound for an unknown or already deleted project; ErrConflict while the project is in use
// (AD or UD accounts or servers are in it, or an account rule or server sync job assigns to it).
// Nothing changes on error. Safe for concurrent use.
func (e *Engine) DeleteProject(ctx context.Context, p Principal, resourceGroupID, projectID string) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		if err := p.requireIn(RoleResourceAdmin, pr.ResourceGroupID); err != nil {
			return err
		}
		if err := projectInUse(tx, p.TeamID, pr); err != nil {
			return err
		}
		pr.DeletedAt = e.now()
		return storage.Projects.Update(tx, pr)
	})
}

// projectInUse returns ErrConflict if accounts, UD accounts or servers are in the project, or an
// account rule or server sync job of the team assigns to it. It costs O(the team's connections,
// rules and jobs).
func projectInUse(tx storage.ReadTx, teamID string, pr *storage.Project) error {
	if _, err := storage.Accounts.First(tx, storage.AccountsByProject, pr.ID); err == nil {
		return conflictf("project %q holds AD accounts; change the account rules first", pr.Name)
	}
	if _, err := storage.UDAccounts.First(tx, storage.UDAccountsByProject, pr.ID); err == nil {
		return conflictf("project %q holds Universal Directory accounts", pr.Name)
	}
	if _, err := storage.Servers.First(tx, storage.ServersByProject, pr.ID); err == nil {
		return conflictf("project %q holds servers; change the server sync jobs first", pr.Name)
	}
	conns, err := storage.Connections.BorrowList(tx, storage.ConnectionsByTeam, teamID)
	if err != nil {
		return err
	}
	for _, c := range conns {
		rules, err := storage.Rules.BorrowList(tx, storage.RulesByConnection, c.ID)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.ProjectID == pr.ID {
				return conflictf("project %q is assigned accounts by the account rule %q; change the rule first", pr.Name, r.ID)
			}
		}
	}
	return projectInSyncJobs(tx, teamID, pr)
}
