package opa

import (
	"context"
	"regexp"
	"time"

	"github.com/opakit/opa/storage"
)

// Team is a tenant: every other object belongs to one team.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func teamOf(t *storage.Team) Team { return Team{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt} }

var teamNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// CreateTeam creates a team. It is an operation of the embedding program, not of a principal.
// Errors: ErrInvalid for a bad name, ErrConflict if the name is taken (case-insensitively).
func (e *Engine) CreateTeam(ctx context.Context, name string) (Team, error) {
	if !teamNameRE.MatchString(name) {
		return Team{}, invalidf("team name %q must be 1-255 letters, digits, '.', '_' or '-'", name)
	}
	t := storage.Team{ID: e.newID(), Name: name, CreatedAt: e.now()}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		return wrapConflict(storage.Teams.Insert(tx, &t), "a team named %q already exists", name)
	})
	if err != nil {
		return Team{}, err
	}
	return teamOf(&t), nil
}

// Team returns the team with the name (case-insensitive). ErrNotFound if there is none.
func (e *Engine) Team(ctx context.Context, name string) (Team, error) {
	var t *storage.Team
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		t, err = storage.Teams.First(tx, storage.TeamsByName, name)
		return err
	})
	if err != nil {
		return Team{}, wrapNotFound(err, "team %q does not exist", name)
	}
	return teamOf(t), nil
}
