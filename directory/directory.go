// Package directory defines what the opa engine needs from an Active Directory or LDAP server
// reached through a gateway or agent: search, set a password, change group membership. Package
// directory/memdir implements it in memory for tests and fixtures; directory/ldapdir over LDAP.
package directory

import (
	"context"

	"github.com/opakit/opa/internal/errclass"
)

// Error classes a Directory returns. They are the same values as opa.ErrUnavailable and so on.
var (
	// ErrUnavailable: no agent is connected (the Okta API answers 502 "There are no connected
	// agents."), or no domain controller could be reached.
	ErrUnavailable = errclass.Unavailable
	// ErrTimeout: the agent or server did not answer in time (504 "Timed out waiting for agent").
	ErrTimeout = errclass.Timeout
	// ErrNotFound: no such object (a base DN, a group or a member that does not exist).
	ErrNotFound = errclass.NotFound
	// ErrInvalid: a malformed filter, DN or argument.
	ErrInvalid = errclass.Invalid
	// ErrConstraint: the directory refused a password (AD's constraint violation: password policy).
	// Implementations mark such errors with both ErrConstraint and ErrInvalid.
	ErrConstraint = errclass.Mark(errclass.Invalid, "password does not meet the directory's policy")
	// ErrCredentials: the directory refused the connection's service account (LDAP's
	// invalidCredentials on bind). Implementations mark such errors with both ErrCredentials and
	// ErrUnavailable: an agent that cannot bind serves nothing. The engine turns it into ErrInvalid
	// where the request carries the credentials (creating or changing a connection).
	ErrCredentials = errclass.Mark(errclass.Unavailable, "the directory refused the service account's credentials")
)

// Scope of a search.
type Scope int

// Search scopes, as in RFC 4511.
const (
	ScopeSubtree    Scope = iota // the base and everything below it (the default)
	ScopeOneLevel                // the base's immediate children
	ScopeBaseObject              // the base only
)

// SearchRequest asks for the entries under BaseDN that match Filter (RFC 4515 syntax; empty means
// "(objectClass=*)"). Attributes limits the attributes returned (nil: all).
type SearchRequest struct {
	BaseDN     string
	Scope      Scope
	Filter     string
	Attributes []string
	// SizeLimit caps the number of entries (0: no cap beyond the server's own paging).
	SizeLimit int
}

// Entry is a directory object. Attribute names keep the directory's case; look them up with Get,
// which ignores case. objectSid is given in string form (S-1-5-21-…) and objectGUID in the
// canonical GUID form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), decoded from AD's binary layout.
type Entry struct {
	DN         string
	Attributes map[string][]string
}

// Get returns the first value of the named attribute (case-insensitive), or "".
func (e *Entry) Get(name string) string {
	if v := e.GetAll(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// GetAll returns every value of the named attribute (case-insensitive).
func (e *Entry) GetAll(name string) []string {
	if v, ok := e.Attributes[name]; ok {
		return v
	}
	for k, v := range e.Attributes {
		if equalFold(k, name) {
			return v
		}
	}
	return nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Directory is an AD or LDAP server as one connection's service account sees it. Implementations
// must be safe for concurrent use and must honour ctx cancellation (returning an ErrTimeout error
// when ctx's deadline passes).
type Directory interface {
	// Authenticate checks that the directory accepts the connection's service account (an LDAP
	// bind with its username and password). Errors: ErrCredentials (with ErrUnavailable) when
	// the directory refuses them; ErrUnavailable when it cannot be reached; ErrTimeout.
	Authenticate(ctx context.Context) error
	// Search returns the matching entries, all pages of them.
	Search(ctx context.Context, req SearchRequest) ([]*Entry, error)
	// SetPassword sets the password of the account with the DN. A password the directory's policy
	// refuses returns an ErrConstraint error.
	SetPassword(ctx context.Context, dn, password string) error
	// ModifyMembers adds (add=true) or removes members of the group with groupDN through the named
	// attribute ("member" in AD, e.g. "uniqueMember" in LDAP). Members are DNs. Unknown group or
	// member: ErrNotFound.
	ModifyMembers(ctx context.Context, groupDN, attribute string, add bool, members []string) error
}

// PageSearcher is implemented by a Directory that can hand over a search's entries a page at a
// time, so that a reader of a large directory holds one page of entries rather than all of them.
// SearchPages runs req and calls page with the entries Search would return, in the same order, at
// most size at a time (size < 1: one call with every entry; no call when nothing matches). page
// owns each slice it gets. An error from page stops the search and is returned as is; the other
// errors are Search's. page must not change the directory.
type PageSearcher interface {
	SearchPages(ctx context.Context, req SearchRequest, size int, page func([]*Entry) error) error
}

// SearchPages runs req on dir and calls page with its entries, at most size at a time: through
// dir's own SearchPages when it is a PageSearcher (then only one page of entries is in memory at
// once), otherwise by cutting Search's result into pages. Errors are as PageSearcher's.
func SearchPages(ctx context.Context, dir Directory, req SearchRequest, size int, page func([]*Entry) error) error {
	if ps, ok := dir.(PageSearcher); ok {
		return ps.SearchPages(ctx, req, size, page)
	}
	entries, err := dir.Search(ctx, req)
	if err != nil {
		return err
	}
	if size < 1 {
		size = len(entries)
	}
	for len(entries) > 0 {
		n := min(size, len(entries))
		if err := page(entries[:n:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// Team is the team a connection belongs to: its id and its name (unique, compared
// case-insensitively, never renamed).
type Team struct {
	ID   string
	Name string
}

// Connection is what a resolver knows about the connection whose directory it returns.
type Connection struct {
	ID                     string
	Domain                 string
	AppInstanceID          string
	DomainControllers      []string
	ServiceAccountUsername string
	// ServiceAccountPassword is the opened secret. Resolvers must not log or keep it beyond the
	// directory they build.
	ServiceAccountPassword string
}

// Resolver returns the directory behind a connection of a team. A resolver serves each team only
// the directories that are that team's: a connection of one team must never reach another team's
// directory, whatever domain, domain controllers or credentials it names, and the answer for
// another team's domain must be the one for a domain nobody serves (ErrUnavailable), so that it
// says nothing about other teams. The directory returned acts with conn's service account
// (Directory.Authenticate checks it). Errors: ErrUnavailable when no agent of the team serves the
// connection. Implementations must be safe for concurrent use.
type Resolver interface {
	Directory(ctx context.Context, team Team, conn Connection) (Directory, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, team Team, conn Connection) (Directory, error)

// Directory calls f.
func (f ResolverFunc) Directory(ctx context.Context, team Team, conn Connection) (Directory, error) {
	return f(ctx, team, conn)
}
