package opa

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// User statuses. A deleted user is never removed: it stays readable with status UserDeleted.
const (
	UserActive   = "ACTIVE"
	UserDisabled = "DISABLED"
	UserDeleted  = "DELETED"
)

var usernameRE = regexp.MustCompile(`^[^\s/\\]{1,255}$`)

// User is a person or service user of a team. Status is UserActive, UserDisabled or UserDeleted
// (then DeletedAt is set).
type User struct {
	ID          string      `json:"id"`
	TeamID      string      `json:"team_id"`
	Username    string      `json:"username"`
	FirstName   string      `json:"first_name,omitempty"`
	LastName    string      `json:"last_name,omitempty"`
	DisplayName string      `json:"display_name,omitempty"`
	Email       string      `json:"email,omitempty"`
	Status      string      `json:"status"`
	ServiceUser bool        `json:"service_user,omitempty"`
	GroupIDs    []string    `json:"group_ids,omitempty"`
	Roles       []RoleGrant `json:"roles,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	DeletedAt   time.Time   `json:"deleted_at,omitzero"`
}

func userOf(u *storage.User) User {
	return User{
		ID: u.ID, TeamID: u.TeamID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		DisplayName: u.DisplayName, Email: u.Email, Status: u.Status, ServiceUser: u.ServiceUser,
		GroupIDs: slices.Clone(u.GroupIDs), Roles: grantsOf(u.Roles), CreatedAt: u.CreatedAt,
		DeletedAt: u.DeletedAt,
	}
}

// Group is a named set of users of a team; its roles apply to every member. A deleted group
// (DeleteGroup) has DeletedAt set, no roles and no members.
type Group struct {
	ID        string      `json:"id"`
	TeamID    string      `json:"team_id"`
	Name      string      `json:"name"`
	Roles     []RoleGrant `json:"roles,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	DeletedAt time.Time   `json:"deleted_at,omitzero"`
}

func groupOf(g *storage.Group) Group {
	return Group{ID: g.ID, TeamID: g.TeamID, Name: g.Name, Roles: grantsOf(g.Roles), CreatedAt: g.CreatedAt, DeletedAt: g.DeletedAt}
}

// UserInput describes a user to create.
type UserInput struct {
	Username    string
	FirstName   string
	LastName    string
	DisplayName string
	Email       string
	ServiceUser bool
	GroupIDs    []string
	Roles       []RoleGrant
}

// CreateUser creates a user of p's team. Needs pam_admin. Errors: ErrInvalid (bad username, email,
// role, unknown group or resource group), ErrConflict (username taken, case-insensitively).
func (e *Engine) CreateUser(ctx context.Context, p Principal, in UserInput) (User, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return User{}, err
	}
	if !usernameRE.MatchString(in.Username) {
		return User{}, invalidf("username must be 1-255 characters without spaces or slashes")
	}
	if in.Email != "" {
		if _, err := mail.ParseAddress(in.Email); err != nil {
			return User{}, invalidf("email %q is not an email address", in.Email)
		}
	}
	if in.DisplayName == "" {
		in.DisplayName = strings.TrimSpace(in.FirstName + " " + in.LastName)
	}
	u := storage.User{
		ID: e.newID(), TeamID: p.TeamID, Username: in.Username, FirstName: in.FirstName,
		LastName: in.LastName, DisplayName: in.DisplayName, Email: in.Email, Status: UserActive,
		ServiceUser: in.ServiceUser, GroupIDs: slices.Clone(in.GroupIDs), Roles: storedGrants(in.Roles),
		CreatedAt: e.now(),
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := e.checkGrants(tx, p.TeamID, u.Roles); err != nil {
			return err
		}
		for _, gid := range u.GroupIDs {
			g, err := storage.Groups.Get(tx, gid)
			if err != nil || g.TeamID != p.TeamID {
				return invalidf("group %q does not exist", gid)
			}
		}
		return wrapConflict(storage.Users.Insert(tx, &u), "a user named %q already exists", in.Username)
	})
	if err != nil {
		return User{}, err
	}
	return userOf(&u), nil
}

func (e *Engine) checkGrants(tx storage.ReadTx, teamID string, grants []storage.RoleGrant) error {
	for _, g := range grants {
		r := Role(g.Role)
		if !r.Valid() {
			return invalidf("unknown role %q", g.Role)
		}
		if r.Delegated() != (g.ResourceGroupID != "") {
			return invalidf("role %q needs a resource group exactly when it is a delegated role", g.Role)
		}
		if g.ResourceGroupID != "" {
			rg, err := storage.ResourceGroups.Get(tx, g.ResourceGroupID)
			if err != nil || rg.TeamID != teamID {
				return invalidf("resource group %q does not exist", g.ResourceGroupID)
			}
		}
	}
	return nil
}

// GroupInput describes a group to create.
type GroupInput struct {
	Name  string
	Roles []RoleGrant
}

// CreateGroup creates a group of p's team. A deleted group of the same name is replaced. Needs
// pam_admin. Errors: ErrInvalid, ErrConflict (a live group has the name).
func (e *Engine) CreateGroup(ctx context.Context, p Principal, in GroupInput) (Group, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return Group{}, err
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 255 {
		return Group{}, invalidf("group name must be 1-255 characters")
	}
	g := storage.Group{ID: e.newID(), TeamID: p.TeamID, Name: in.Name, Roles: storedGrants(in.Roles), CreatedAt: e.now()}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := e.checkGrants(tx, p.TeamID, g.Roles); err != nil {
			return err
		}
		if err := purgeDeletedGroup(tx, p.TeamID, in.Name); err != nil {
			return err
		}
		return wrapConflict(storage.Groups.Insert(tx, &g), "a group named %q already exists", in.Name)
	})
	if err != nil {
		return Group{}, err
	}
	return groupOf(&g), nil
}

// SetUserGroups replaces the groups of a user. Needs pam_admin. ErrNotFound for an unknown user,
// ErrInvalid for an unknown group. Checkouts the user loses access to are checked in by the
// system (system_user_lost_access, lostaccess.go).
func (e *Engine) SetUserGroups(ctx context.Context, p Principal, userID string, groupIDs []string) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	return e.afterUsersChanged(ctx, p.TeamID, []string{userID}, e.store.Update(ctx, func(tx storage.WriteTx) error {
		u, err := e.teamUser(tx, p, userID)
		if err != nil {
			return err
		}
		for _, gid := range groupIDs {
			g, err := storage.Groups.Get(tx, gid)
			if err != nil || g.TeamID != p.TeamID {
				return invalidf("group %q does not exist", gid)
			}
		}
		u.GroupIDs = slices.Clone(groupIDs)
		return storage.Users.Update(tx, u)
	}))
}

// SetUserStatus sets a user ACTIVE or DISABLED. A disabled user's tokens stop working, and the
// user's checkouts are checked in by the system (system_user_lost_access, lostaccess.go). Needs
// pam_admin.
func (e *Engine) SetUserStatus(ctx context.Context, p Principal, userID, status string) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	if status != UserActive && status != UserDisabled {
		return invalidf("status must be %s or %s", UserActive, UserDisabled)
	}
	return e.afterUsersChanged(ctx, p.TeamID, []string{userID}, e.store.Update(ctx, func(tx storage.WriteTx) error {
		u, err := e.teamUser(tx, p, userID)
		if err != nil {
			return err
		}
		u.Status = status
		return storage.Users.Update(tx, u)
	}))
}

// User returns a user of p's team. Any authenticated principal of the team may read users.
func (e *Engine) User(ctx context.Context, p Principal, userID string) (User, error) {
	if err := p.check(); err != nil {
		return User{}, err
	}
	var u *storage.User
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		u, err = e.teamUser(tx, p, userID)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return userOf(u), nil
}

// Users returns the users of p's team.
func (e *Engine) Users(ctx context.Context, p Principal) ([]User, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var out []User
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		us, err := storage.Users.List(tx, storage.UsersByTeam, p.TeamID)
		for _, u := range us {
			out = append(out, userOf(u))
		}
		return err
	})
	return out, err
}

func (e *Engine) teamUser(tx storage.ReadTx, p Principal, userID string) (*storage.User, error) {
	u, err := storage.Users.Get(tx, userID)
	if err != nil {
		return nil, wrapNotFound(err, "user %q does not exist", userID)
	}
	if err := p.sameTeam(u.TeamID, "user", userID); err != nil {
		return nil, err
	}
	return u, nil
}

// ServiceKeyCredentials is a new service key. The secret is shown once: only its hash is kept.
type ServiceKeyCredentials struct {
	KeyID     string
	KeySecret string
}

// CreateServiceKey creates a key id / key secret pair for a service user. Needs pam_admin.
// ErrNotFound for an unknown user, ErrInvalid if the user is not a service user.
func (e *Engine) CreateServiceKey(ctx context.Context, p Principal, userID string) (ServiceKeyCredentials, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return ServiceKeyCredentials{}, err
	}
	secret, err := e.randomToken(32)
	if err != nil {
		return ServiceKeyCredentials{}, err
	}
	creds := ServiceKeyCredentials{KeyID: e.newID(), KeySecret: secret}
	err = e.AddServiceKey(ctx, p, userID, creds)
	return creds, err
}

// AddServiceKey registers a key id / key secret pair chosen by the caller (fixtures use it to have
// known credentials). Needs pam_admin. ErrInvalid for a key id that is not a UUID or an empty or
// over-long secret; ErrConflict if the key id exists.
func (e *Engine) AddServiceKey(ctx context.Context, p Principal, userID string, creds ServiceKeyCredentials) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	if !uuidRE.MatchString(creds.KeyID) {
		return invalidf("key_id must be a UUID")
	}
	if creds.KeySecret == "" || len(creds.KeySecret) > 512 {
		return invalidf("key_secret must be 1-512 characters")
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		u, err := e.teamUser(tx, p, userID)
		if err != nil {
			return err
		}
		if !u.ServiceUser {
			return invalidf("user %q is not a service user", u.Username)
		}
		k := storage.ServiceKey{ID: creds.KeyID, TeamID: p.TeamID, UserID: userID, SecretHash: hashSecret(creds.KeySecret), CreatedAt: e.now()}
		return wrapConflict(storage.ServiceKeys.Insert(tx, &k), "the service key already exists")
	})
}

var uuidRE = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte("opa service key\x00" + s))
	return h[:]
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func (e *Engine) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.random, b); err != nil {
		return "", errors.Wrap(err, "reading randomness")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// IssuedToken is a bearer token from IssueToken.
type IssuedToken struct {
	BearerToken string
	ExpiresAt   time.Time
	TeamName    string
}

// IssueToken exchanges a service key for a bearer token of the team, valid for the engine's token
// lifetime. Every failure (unknown team, unknown key, wrong secret, key of another team, disabled
// user) is the same ErrUnauthorized error, so the endpoint reveals nothing. The secret is compared
// as a hash, in constant time.
func (e *Engine) IssueToken(ctx context.Context, teamName, keyID, keySecret string) (IssuedToken, error) {
	fail := unauthorizedf("the key id or key secret is not valid for this team")
	team, err := e.Team(ctx, teamName)
	if err != nil {
		return IssuedToken{}, fail
	}
	bearer, err := e.randomToken(32)
	if err != nil {
		return IssuedToken{}, err
	}
	now := e.now()
	tok := storage.Token{ID: hashToken(bearer), TeamID: team.ID, KeyID: keyID, CreatedAt: now, ExpiresAt: now.Add(e.tokenTTL)}
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		k, err := storage.ServiceKeys.Get(tx, keyID)
		if err != nil || k.TeamID != team.ID || subtle.ConstantTimeCompare(k.SecretHash, hashSecret(keySecret)) != 1 {
			return fail
		}
		if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
			return fail
		}
		u, err := storage.Users.Get(tx, k.UserID)
		if err != nil || u.Status != UserActive {
			return fail
		}
		tok.UserID = u.ID
		// DESIGN: last_used is kept to the minute. A key used again within a minute of its
		// recorded use is not written (nor are the user's expired tokens pruned, which reads
		// all of them), so concurrent exchanges with one key, from the replicas of a client or
		// through the replicas of this server, each insert a token and conflict on nothing.
		if k.LastUsedAt.IsZero() || now.Sub(k.LastUsedAt) >= keyUseGranularity || now.Before(k.LastUsedAt) {
			k.LastUsedAt = now
			if err := storage.ServiceKeys.Update(tx, k); err != nil {
				return err
			}
			e.pruneTokens(tx, u.ID, now)
		}
		return storage.Tokens.Insert(tx, &tok)
	})
	if err != nil {
		return IssuedToken{}, err
	}
	return IssuedToken{BearerToken: bearer, ExpiresAt: tok.ExpiresAt, TeamName: team.Name}, nil
}

// keyUseGranularity is how stale a service key's LastUsedAt may get before an exchange records
// its use again (and prunes the user's expired tokens).
const keyUseGranularity = time.Minute

// pruneTokens deletes a user's expired tokens so the table does not grow without bound.
func (e *Engine) pruneTokens(tx storage.WriteTx, userID string, now time.Time) {
	toks, err := storage.Tokens.List(tx, storage.TokensByUser, userID)
	if err != nil {
		return
	}
	for _, t := range toks {
		if !now.Before(t.ExpiresAt) {
			_ = storage.Tokens.Delete(tx, t.ID)
		}
	}
}

// Authenticate resolves a bearer token of the team to a Principal with the user's current roles.
// ErrUnauthorized for an unknown, expired or other team's token, or a disabled user.
func (e *Engine) Authenticate(ctx context.Context, teamName, bearer string) (Principal, error) {
	fail := unauthorizedf("the bearer token is missing, expired or not valid for this team")
	if bearer == "" || len(bearer) > 4096 {
		return Principal{}, fail
	}
	var p Principal
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		tok, err := storage.Tokens.Get(tx, hashToken(bearer))
		if err != nil || !e.now().Before(tok.ExpiresAt) {
			return fail
		}
		team, err := storage.Teams.Get(tx, tok.TeamID)
		if err != nil || !strings.EqualFold(team.Name, teamName) {
			return fail
		}
		p, err = e.principalOf(tx, team, tok.UserID)
		if err != nil {
			return fail
		}
		return nil
	})
	return p, err
}

// PrincipalForUser returns the principal of a user (by id or username) of the named team, for an
// embedding program that authenticates users itself. ErrNotFound for an unknown team or user,
// ErrUnauthorized for a disabled user.
func (e *Engine) PrincipalForUser(ctx context.Context, teamName, user string) (Principal, error) {
	var p Principal
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		team, err := storage.Teams.First(tx, storage.TeamsByName, teamName)
		if err != nil {
			return wrapNotFound(err, "team %q does not exist", teamName)
		}
		u, err := storage.Users.Get(tx, user)
		if err != nil || u.TeamID != team.ID {
			u, err = storage.Users.First(tx, storage.UsersByUsername, team.ID, user)
			if err != nil {
				return wrapNotFound(err, "user %q does not exist", user)
			}
		}
		p, err = e.principalOf(tx, team, u.ID)
		return err
	})
	return p, err
}

func (e *Engine) principalOf(tx storage.ReadTx, team *storage.Team, userID string) (Principal, error) {
	u, err := storage.Users.Get(tx, userID)
	if err != nil {
		return Principal{}, err
	}
	if u.Status != UserActive {
		return Principal{}, unauthorizedf("user %q is disabled", u.Username)
	}
	p := Principal{TeamID: team.ID, TeamName: team.Name, UserID: u.ID, Username: u.Username,
		GroupIDs: slices.Clone(u.GroupIDs), Roles: grantsOf(u.Roles)}
	for _, gid := range u.GroupIDs {
		g, err := storage.Groups.Get(tx, gid)
		if err != nil || !g.DeletedAt.IsZero() {
			continue // a deleted group grants nothing
		}
		p.Roles = append(p.Roles, grantsOf(g.Roles)...)
	}
	return p, nil
}
