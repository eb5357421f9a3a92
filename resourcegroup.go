package opa

import (
	"context"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// ResourceGroup groups projects; delegated admins are scoped to one.
type ResourceGroup struct {
	ID          string    `json:"id"`
	TeamID      string    `json:"team_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

func resourceGroupOf(r *storage.ResourceGroup) ResourceGroup {
	return ResourceGroup{ID: r.ID, TeamID: r.TeamID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt}
}

// CreateResourceGroup creates a resource group. Needs resource_admin.
func (e *Engine) CreateResourceGroup(ctx context.Context, p Principal, name, description string) (ResourceGroup, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return ResourceGroup{}, err
	}
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return ResourceGroup{}, invalidf("resource group name must be 1-255 characters")
	}
	rg := storage.ResourceGroup{ID: e.newID(), TeamID: p.TeamID, Name: name, Description: description, CreatedAt: e.now()}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		return wrapConflict(storage.ResourceGroups.Insert(tx, &rg), "a resource group named %q already exists", name)
	})
	if err != nil {
		return ResourceGroup{}, err
	}
	return resourceGroupOf(&rg), nil
}

// ResourceGroups returns the resource groups of p's team.
func (e *Engine) ResourceGroups(ctx context.Context, p Principal) ([]ResourceGroup, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var out []ResourceGroup
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		rs, err := storage.ResourceGroups.List(tx, storage.ResourceGroupsByTeam, p.TeamID)
		for _, r := range rs {
			out = append(out, resourceGroupOf(r))
		}
		return err
	})
	return out, err
}

func (e *Engine) teamResourceGroup(tx storage.ReadTx, p Principal, id string) (*storage.ResourceGroup, error) {
	rg, err := storage.ResourceGroups.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "resource group %q does not exist", id)
	}
	if err := p.sameTeam(rg.TeamID, "resource group", id); err != nil {
		return nil, err
	}
	return rg, nil
}
