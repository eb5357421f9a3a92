// Package opatest starts a fake OPA/ASA API server for Go tests: an httptest.Server running package
// httpapi over a fresh in-memory engine loaded with fixtures (the demo fixture by default), with
// the test-fixture controls enabled and a bearer token already exchanged.
package opatest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
)

// Server is a running fake server. Its exported fields are read-only.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Team is the name of the fixture's first team.
	Team string
	// KeyID and KeySecret are the first service key of that team.
	KeyID     string
	KeySecret string
	// Token is a bearer token already exchanged for that key.
	Token string
	// Engine is the engine behind the server (replaced by /_fake/reset; use Handler.Engine then).
	Engine *opa.Engine
	// Handler is the HTTP API handler.
	Handler *httpapi.Handler
	// Clock is the engine's clock; it moves only when told to.
	Clock *opa.ManualClock
	// Loaded describes what the fixtures created (ids by name, directories).
	Loaded *fixture.Loaded
	// HTTP is the test server.
	HTTP *httptest.Server

	closeOnce sync.Once
}

type config struct {
	doc  []byte
	now  time.Time
	opts []httpapi.Option
}

// Option configures NewServer.
type Option func(*config)

// WithFixture loads the fixture document (docs/fixtures.md) instead of the demo.
func WithFixture(doc []byte) Option { return func(c *config) { c.doc = doc } }

// WithNow starts the clock at t (default: the fixture's "now", else 2026-01-01T00:00:00Z).
func WithNow(t time.Time) Option { return func(c *config) { c.now = t } }

// WithHandlerOptions passes options to httpapi.New.
func WithHandlerOptions(opts ...httpapi.Option) Option {
	return func(c *config) { c.opts = append(c.opts, opts...) }
}

// NewServer starts a server and registers its shutdown (Close) with t.Cleanup. It fails the test
// on any setup error. Safe to call from parallel tests: every server has its own engine. Use it at
// the start of a test:
//
//	func TestMyClient(t *testing.T) {
//		srv := opatest.NewServer(t)
//		resp, err := srv.Do("GET", srv.TeamURL("/connections/active_directory"), nil)
//		…
//	}
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server as NewServer does, for code that has no testing.TB: an Example, a
// TestMain, a program. The caller must call Close. It returns an error marked opa.ErrInvalid for a
// bad fixture document, or the error that loading the fixtures or the token exchange met. Safe for
// concurrent use: every server has its own engine.
func Start(opts ...Option) (*Server, error) {
	cfg := config{doc: opa.DemoFixture}
	for _, o := range opts {
		o(&cfg)
	}
	fx, err := fixture.Parse(cfg.doc)
	if err != nil {
		return nil, errors.Wrap(err, "opatest: fixture")
	}
	start := cfg.now
	if start.IsZero() {
		start = fx.Now
	}
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	clock := opa.NewManualClock(start)
	ctx := context.Background()
	build := func() (*opa.Engine, *fixture.Loaded, error) {
		clock.Set(start)
		return fixture.Build(ctx, fx, fixture.Options{Clock: clock})
	}
	e, loaded, err := build()
	if err != nil {
		return nil, errors.Wrap(err, "opatest: loading fixtures")
	}
	tokens := map[string]httpapi.OktaToken{}
	for _, tm := range fx.Teams {
		for _, ot := range tm.OktaAPITokens {
			tokens[ot.Token] = httpapi.OktaToken{Team: tm.Name, User: ot.User}
		}
	}
	hopts := append([]httpapi.Option{
		httpapi.WithOktaTokens(tokens),
		httpapi.WithControls(httpapi.Controls{Clock: clock, Reset: func() (*opa.Engine, error) {
			e, _, err := build()
			return e, err
		}}),
	}, cfg.opts...)
	h := httpapi.New(e, hopts...)
	ts := httptest.NewServer(h)
	s := &Server{URL: ts.URL, Team: fx.Teams[0].Name, Engine: e, Handler: h, Clock: clock, Loaded: loaded, HTTP: ts}
	if lt := loaded.Team(s.Team); lt != nil && len(lt.ServiceKeys) > 0 {
		s.KeyID, s.KeySecret = lt.ServiceKeys[0].KeyID, lt.ServiceKeys[0].KeySecret
		s.Token, err = s.ExchangeToken(s.KeyID, s.KeySecret)
		if err != nil {
			s.Close()
			return nil, errors.Wrap(err, "opatest: token exchange")
		}
	}
	return s, nil
}

// Close shuts the server down: it closes the test server, waiting for the requests in flight, and
// the fixtures' directory resolver. Later calls do nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.HTTP.Close()
		if s.Loaded.Directory != nil {
			_ = s.Loaded.Directory.Close() // in-memory and LDAP directories; nothing to report to a test
		}
	})
}

// ExchangeToken calls POST /v1/teams/{team}/service_token and returns the bearer token.
func (s *Server) ExchangeToken(keyID, keySecret string) (string, error) {
	body, _ := json.Marshal(map[string]string{"key_id": keyID, "key_secret": keySecret})
	resp, err := http.Post(s.URL+"/v1/teams/"+s.Team+"/service_token", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read in full below; a close error changes nothing
	var out struct {
		BearerToken string `json:"bearer_token"`
		Message     string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &httpError{Status: resp.StatusCode, Message: out.Message}
	}
	return out.BearerToken, nil
}

type httpError struct {
	Status  int
	Message string
}

func (e *httpError) Error() string { return http.StatusText(e.Status) + ": " + e.Message }

// TeamURL returns the base URL of the team's /v1 API plus path, e.g.
// TeamURL("/connections/active_directory").
func (s *Server) TeamURL(path string) string { return s.URL + "/v1/teams/" + s.Team + path }

// Do sends a request with the server's bearer token; body (if not nil) is encoded as JSON.
func (s *Server) Do(method, url string, body any) (*http.Response, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}
