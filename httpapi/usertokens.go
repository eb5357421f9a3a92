package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// defaultUserTokenTTL is how long a user token lives when Controls.TokenTTL is zero: the engine's
// default token lifetime.
const defaultUserTokenTTL = time.Hour

// userTokens are the bearer tokens the controls issue for any user of a team, service user or
// not (Controller.IssueUserToken), so that a test can call the API as a person, which the service
// token exchange cannot do. They live in the handler's memory only, as hashes, and are accepted
// wherever a service token is, until they expire on the engine's clock or the controls reset. It
// is safe for concurrent use.
type userTokens struct {
	mu     sync.Mutex
	byHash map[string]userToken
}

type userToken struct {
	team    string // as the engine spells it
	userID  string
	expires time.Time
}

func tokenHash(bearer string) string {
	h := sha256.Sum256([]byte(bearer))
	return hex.EncodeToString(h[:])
}

// issue makes a token for user (an id or a username) of team, valid for ttl from now. Errors: those
// of opa.Engine.PrincipalForUser (ErrNotFound, ErrUnauthorized for a disabled user).
func (u *userTokens) issue(ctx context.Context, e *opa.Engine, team, user string, now time.Time, ttl time.Duration) (opa.IssuedToken, error) {
	p, err := e.PrincipalForUser(ctx, team, user)
	if err != nil {
		return opa.IssuedToken{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return opa.IssuedToken{}, errors.Wrap(err, "reading randomness")
	}
	bearer := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(ttl)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byHash == nil {
		u.byHash = map[string]userToken{}
	}
	for h, t := range u.byHash {
		if !now.Before(t.expires) {
			delete(u.byHash, h) // expired tokens never come back, so the map holds live ones only
		}
	}
	u.byHash[tokenHash(bearer)] = userToken{team: p.TeamName, userID: p.UserID, expires: exp}
	return opa.IssuedToken{BearerToken: bearer, ExpiresAt: exp, TeamName: p.TeamName}, nil
}

// lookup returns the live token for bearer, if any.
func (u *userTokens) lookup(bearer string, now time.Time) (userToken, bool) {
	if bearer == "" || len(bearer) > 4096 {
		return userToken{}, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.byHash[tokenHash(bearer)]
	if !ok || !now.Before(t.expires) {
		return userToken{}, false
	}
	return t, true
}

// principal resolves bearer to its user's current principal when it is a live user token of team
// (any team when team is ""). Every failure is the same ErrUnauthorized error.
func (u *userTokens) principal(ctx context.Context, e *opa.Engine, team, bearer string, now time.Time) (opa.Principal, error) {
	fail := errclass.Mark(errclass.Unauthorized, "the bearer token is missing, expired or not valid for this team")
	t, ok := u.lookup(bearer, now)
	if !ok || (team != "" && !strings.EqualFold(t.team, team)) {
		return opa.Principal{}, fail
	}
	p, err := e.PrincipalForUser(ctx, t.team, t.userID)
	if err != nil {
		return opa.Principal{}, fail
	}
	return p, nil
}

func (u *userTokens) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byHash = nil
}
