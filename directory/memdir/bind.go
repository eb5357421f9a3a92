package memdir

import (
	"context"
	"crypto/subtle"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// serviceAccounts are the accounts a Dir lets a connection bind as: lower-case username ->
// password. Guarded by its own mutex, so a bind never waits for a search.
type serviceAccounts struct {
	mu       sync.RWMutex
	accounts map[string]string
}

// WithServiceAccount lets connections bind as username (compared case-insensitively, as given:
// "svc-opa" and "svc-opa@corp.example.com" are different names) with password. Give it once per
// account. A directory made without any accepts only the anonymous bind (empty username and
// password).
func WithServiceAccount(username, password string) Option {
	return func(d *Dir) { d.SetServiceAccount(username, password) }
}

// SetServiceAccount adds a service account, or changes its password (as an administrator
// resetting it in AD would: connections bound with the old one fail from their next operation).
// Safe for concurrent use.
func (d *Dir) SetServiceAccount(username, password string) {
	d.service.mu.Lock()
	defer d.service.mu.Unlock()
	if d.service.accounts == nil {
		d.service.accounts = map[string]string{}
	}
	d.service.accounts[strings.ToLower(username)] = password
}

// checkBind returns nil when the directory accepts username and password: a service account's,
// or the empty pair when it has none. Otherwise an error marked directory.ErrCredentials and
// directory.ErrUnavailable (LDAP's invalidCredentials) that names the username, never the
// password. The password comparison takes the same time wherever the strings differ.
func (d *Dir) checkBind(username, password string) error {
	d.service.mu.RLock()
	want, ok := d.service.accounts[strings.ToLower(username)]
	none := len(d.service.accounts) == 0
	d.service.mu.RUnlock()
	if none && username == "" && password == "" {
		return nil
	}
	if ok && subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1 {
		return nil
	}
	err := errors.WithHint(errclass.Mark(directory.ErrCredentials, "invalid credentials: the directory refused the bind as %q", username),
		"check the connection's service account username and password")
	return errclass.Tag(err, directory.ErrUnavailable)
}

// Authenticate implements directory.Directory for the directory itself, which binds as nobody:
// it reports only the fault switches (and ctx). Connections reach the directory through BindAs,
// whose Authenticate checks their credentials.
func (d *Dir) Authenticate(ctx context.Context) error { return d.fault(ctx, false) }

// BindAs returns the directory as a connection bound as username with password sees it. Every
// operation of the result first checks the credentials against the directory's service accounts
// (WithServiceAccount), as an LDAP server checks a bind before it serves a connection, and fails
// with an error marked directory.ErrCredentials and directory.ErrUnavailable when they are wrong;
// then it is the Dir's own operation. Faults (SetNoAgent, SetAgentTimeout) come first: an agent
// that is down checks nothing. The result keeps the password for the checks and is safe for
// concurrent use.
func (d *Dir) BindAs(username, password string) directory.Directory {
	return &bound{dir: d, username: username, password: password}
}

// bound is a Dir seen through one bind.
type bound struct {
	dir      *Dir
	username string
	password string
}

// bind checks the faults, then the credentials.
func (b *bound) bind(ctx context.Context) error {
	if err := b.dir.fault(ctx, false); err != nil {
		return err
	}
	return b.dir.checkBind(b.username, b.password)
}

func (b *bound) Authenticate(ctx context.Context) error { return b.bind(ctx) }

func (b *bound) Search(ctx context.Context, req directory.SearchRequest) ([]*directory.Entry, error) {
	if err := b.bind(ctx); err != nil {
		return nil, err
	}
	return b.dir.Search(ctx, req)
}

// SearchPages is Dir.SearchPages after the bind check.
func (b *bound) SearchPages(ctx context.Context, req directory.SearchRequest, size int, page func([]*directory.Entry) error) error {
	if err := b.bind(ctx); err != nil {
		return err
	}
	return b.dir.SearchPages(ctx, req, size, page)
}

func (b *bound) SetPassword(ctx context.Context, dn, password string) error {
	if err := b.bind(ctx); err != nil {
		return err
	}
	return b.dir.SetPassword(ctx, dn, password)
}

func (b *bound) ModifyMembers(ctx context.Context, groupDN, attribute string, add bool, members []string) error {
	if err := b.bind(ctx); err != nil {
		return err
	}
	return b.dir.ModifyMembers(ctx, groupDN, attribute, add, members)
}
