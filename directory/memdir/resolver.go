package memdir

import (
	"context"
	"strings"
	"sync"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// Resolver serves in-memory directories by team and domain; it implements directory.Resolver. A
// directory is registered for one team (by name, compared case-insensitively, as team names are)
// and one domain (case-insensitive), and only that team's connections of that domain reach it,
// bound with their own service account (Dir.BindAs): the directory checks those credentials on
// every operation. A connection of any other team, or of a domain the team has no directory for,
// gets directory.ErrUnavailable ("no connected agents"), the same answer whether or not another
// team has a directory of that domain. Safe for concurrent use.
type Resolver struct {
	mu   sync.RWMutex
	dirs map[resolverKey]*Dir
}

type resolverKey struct{ team, domain string }

func keyOf(team, domain string) resolverKey {
	return resolverKey{strings.ToLower(team), strings.ToLower(strings.TrimSuffix(domain, "."))}
}

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver { return &Resolver{dirs: map[resolverKey]*Dir{}} }

// Set serves d to team's connections of domain (nil removes it). team is the team's name.
func (r *Resolver) Set(team, domain string, d *Dir) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d == nil {
		delete(r.dirs, keyOf(team, domain))
		return
	}
	r.dirs[keyOf(team, domain)] = d
}

// Directory implements directory.Resolver: team's directory of conn's domain, bound as conn's
// service account. Errors: directory.ErrUnavailable when the team has no directory of the domain.
func (r *Resolver) Directory(_ context.Context, team directory.Team, conn directory.Connection) (directory.Directory, error) {
	r.mu.RLock()
	d, ok := r.dirs[keyOf(team.Name, conn.Domain)]
	r.mu.RUnlock()
	if !ok || team.Name == "" {
		return nil, errclass.Mark(directory.ErrUnavailable, "there are no connected agents for domain %q", conn.Domain)
	}
	return d.BindAs(conn.ServiceAccountUsername, conn.ServiceAccountPassword), nil
}

var _ directory.Resolver = (*Resolver)(nil)
