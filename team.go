package opa

import (
	"context"
	"regexp"

	"github.com/opakit/opa/storage"
)

var teamNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// CreateTeam creates a team. It is an operation of the embedding program, not of a principal.
// Errors: ErrInvalid for a bad name, ErrConflict if the name is taken (case-insensitively).
func (e *Engine) CreateTeam(ctx context.Context, name string) (storage.Team, error) {
	if !teamNameRE.MatchString(name) {
		return storage.Team{}, invalidf("team name %q must be 1-255 letters, digits, '.', '_' or '-'", name)
	}
	t := storage.Team{ID: e.newID(), Name: name, CreatedAt: e.now()}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		return wrapConflict(storage.Teams.Insert(tx, &t), "a team named %q already exists", name)
	})
	return t, err
}

// Team returns the team with the name (case-insensitive). ErrNotFound if there is none.
func (e *Engine) Team(ctx context.Context, name string) (storage.Team, error) {
	var t *storage.Team
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		t, err = storage.Teams.First(tx, storage.TeamsByName, name)
		return err
	})
	if err != nil {
		return storage.Team{}, wrapNotFound(err, "team %q does not exist", name)
	}
	return *t, nil
}
