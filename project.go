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
	CreatedAt       time.Time               `json:"created_at"`
}

func projectOf(pr *storage.Project) Project {
	return Project{
		ID: pr.ID, TeamID: pr.TeamID, ResourceGroupID: pr.ResourceGroupID, Name: pr.Name,
		ADCheckout: checkoutSettingsToWire(pr.ADCheckout), ADPassword: passwordPolicyToWire(pr.ADPassword),
		UDCheckout: checkoutSettingsToWire(pr.UDCheckout), UDPassword: passwordPolicyToWire(pr.UDPassword),
		CreatedAt: pr.CreatedAt,
	}
}

// CreateProject creates a project in a resource group, with checkout off and the default password
// policy. Needs resource_admin, or delegated_resource_admin of that resource group.
func (e *Engine) CreateProject(ctx context.Context, p Principal, resourceGroupID, name string) (Project, error) {
	if err := p.check(); err != nil {
		return Project{}, err
	}
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return Project{}, invalidf("project name must be 1-255 characters")
	}
	pr := storage.Project{
		ID: e.newID(), TeamID: p.TeamID, ResourceGroupID: resourceGroupID, Name: name,
		ADCheckout: defaultCheckoutSettings(), UDCheckout: defaultCheckoutSettings(),
		ADPassword: defaultPasswordPolicy(), UDPassword: defaultPasswordPolicy(), CreatedAt: e.now(),
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if _, err := e.teamResourceGroup(tx, p, resourceGroupID); err != nil {
			return err
		}
		if err := p.requireIn(RoleResourceAdmin, resourceGroupID); err != nil {
			return err
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

// Projects returns the projects of a resource group of p's team.
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
			out = append(out, projectOf(pr))
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
