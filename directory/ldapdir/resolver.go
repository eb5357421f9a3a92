package ldapdir

import (
	"context"
	"slices"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// Resolver builds and caches one Directory per connection, so a connection's pool of LDAP
// connections outlives single engine calls. It implements directory.Resolver and is safe for
// concurrent use.
type Resolver struct {
	opts []Option

	mu     sync.Mutex
	dirs   map[string]*resolved
	closed bool
}

type resolved struct {
	dir  *Directory
	conn directory.Connection
}

var _ directory.Resolver = (*Resolver)(nil)

// NewResolver returns a Resolver that builds directories with opts (CA pool, StartTLS, pool size,
// timeouts, port, …). Errors: ErrInvalid for a bad option.
func NewResolver(opts ...Option) (*Resolver, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Resolver{opts: opts, dirs: map[string]*resolved{}}, nil
}

// Directory returns the Directory of conn, building it on first use and again when the
// connection's domain controllers or service account change (the old one is closed). It does not
// contact the server. The team is not consulted: the directory is whatever conn's domain
// controllers serve, and the bind with conn's service account (checked by the server on every
// new connection, and by Directory.Authenticate) is what keeps a team to the directories it holds
// credentials for. Errors: ErrUnavailable when conn has no domain controllers or the resolver is
// closed, ErrInvalid for a malformed domain controller address.
func (r *Resolver) Directory(_ context.Context, _ directory.Team, conn directory.Connection) (directory.Directory, error) {
	if len(conn.DomainControllers) == 0 {
		return nil, errclass.Tag(errors.Newf("connection %q has no domain controllers to reach", conn.ID), directory.ErrUnavailable)
	}
	key := conn.ID
	if key == "" {
		key = conn.Domain
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errclass.Tag(errors.New("ldap resolver closed"), directory.ErrUnavailable)
	}
	if old, ok := r.dirs[key]; ok {
		if sameEndpoint(old.conn, conn) && old.dir.password == conn.ServiceAccountPassword {
			return old.dir, nil
		}
		_ = old.dir.Close()
		delete(r.dirs, key)
	}
	d, err := New(conn, r.opts...)
	if err != nil {
		return nil, err
	}
	kept := conn
	kept.ServiceAccountPassword = "" // the directory holds it; keep no second copy
	r.dirs[key] = &resolved{dir: d, conn: kept}
	return d, nil
}

func sameEndpoint(a, b directory.Connection) bool {
	return a.Domain == b.Domain && slices.Equal(a.DomainControllers, b.DomainControllers) &&
		a.ServiceAccountUsername == b.ServiceAccountUsername
}

// Close closes every directory it built; later calls to Directory fail with ErrUnavailable.
// Safe for concurrent use.
func (r *Resolver) Close() error {
	r.mu.Lock()
	dirs := r.dirs
	r.dirs, r.closed = nil, true
	r.mu.Unlock()
	for _, d := range dirs {
		_ = d.dir.Close()
	}
	return nil
}
