package opatest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opakit/opa/internal/errclass"
)

// Client returns an HTTP client that calls the server as user, a username of the fixture (a
// person or a service user; the first team that has it, in fixture order), adding
// "Authorization: Bearer <token>" to every request. The token is renewed when it expires on the
// fake clock (an hour after it was issued) or a reset or restore drops it, and a request that
// meets a 401 because its token was dropped while it ran is sent again once (when its body can be
// replayed, as http.NewRequest's bodies can). A 401 for any other reason, an injected one included,
// is returned as it is.
//
// A service user with a service key in the fixture gets its tokens from the service token exchange
// (made in Go: it is not in the request log); any other user gets the controls' user tokens
// (httpapi.Controller.IssueUserToken). A user the fixture does not have, or one that cannot
// authenticate (disabled), makes every request fail with an error saying so. The client is safe
// for concurrent use; clients of one user share their token.
func (s *Server) Client(user string) *http.Client {
	return &http.Client{Transport: &authTransport{src: s.source(user), base: s.base}}
}

// source returns the token source of the fixture user user, or one that fails with the reason.
func (s *Server) source(user string) *tokenSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts, ok := s.sources[user]; ok {
		return ts
	}
	ts := &tokenSource{s: s}
	found := false
	for _, t := range s.fx.Teams {
		for _, u := range t.Users {
			if !strings.EqualFold(u.Username, user) {
				continue
			}
			ts.team, ts.user, found = t.Name, u.Username, true
			if len(u.ServiceKeys) > 0 {
				ts.keyID, ts.keySecret = u.ServiceKeys[0].KeyID, u.ServiceKeys[0].KeySecret
			}
			break
		}
		if found {
			break
		}
	}
	if !found {
		ts.err = errclass.Mark(errclass.NotFound, "opatest: the fixture has no user %q", user)
	}
	if s.sources == nil {
		s.sources = map[string]*tokenSource{}
	}
	s.sources[user] = ts
	return ts
}

// tokenSource keeps one user's current bearer token.
type tokenSource struct {
	s          *Server
	team, user string
	keyID      string // with keySecret: a service key; empty: the controls' user tokens
	keySecret  string
	err        error // set: the user cannot get tokens at all

	mu      sync.Mutex
	tok     string
	expires time.Time
	gen     uint64 // the state the token was issued in
}

// token returns a token valid now, issuing a new one when there is none yet, it expired on the fake
// clock, or the state it was issued in was replaced.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	if ts.err != nil {
		return "", ts.err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	st := ts.s.cur.Load()
	if ts.tok != "" && ts.gen == st.gen && ts.s.Clock.Now().Before(ts.expires) {
		return ts.tok, nil
	}
	var err error
	if ts.keyID != "" {
		tok, ierr := st.engine.IssueToken(ctx, ts.team, ts.keyID, ts.keySecret)
		ts.tok, ts.expires, err = tok.BearerToken, tok.ExpiresAt, ierr
	} else {
		tok, ierr := ts.s.ctl.IssueUserToken(ctx, ts.team, ts.user)
		ts.tok, ts.expires, err = tok.BearerToken, tok.ExpiresAt, ierr
	}
	if err != nil {
		ts.tok = ""
		return "", err
	}
	ts.gen = st.gen
	return ts.tok, nil
}

// dropped reports whether tok was issued in a state that has been replaced since.
func (ts *tokenSource) dropped(tok string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.tok == tok && ts.gen != ts.s.cur.Load().gen
}

// authTransport adds src's bearer token to each request (none when src is nil).
type authTransport struct {
	src  *tokenSource
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.src == nil {
		return t.base.RoundTrip(req)
	}
	tok, err := t.src.token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !t.src.dropped(tok) {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // the body cannot be sent again
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if tok, err = t.src.token(req.Context()); err != nil {
		return nil, err
	}
	r = req.Clone(req.Context())
	if req.GetBody != nil {
		if r.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}

// closeBody closes a request's body, as a RoundTripper must even when it fails.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
