// Package opatest starts a fake OPA/ASA API server for Go tests: an httptest.Server running package
// httpapi over a fresh in-memory engine loaded with a fixture (the demo fixture by default, or one
// built from Go values with WithFixture), with the test-fixture controls enabled.
//
// The server's controls are Go methods as well as the /_fake/ routes, one implementation behind
// both (httpapi.Controller): Advance and SetNow move the fake clock and run what became due, Reset
// reloads the fixture, Fault injects failures, Requests and AssertRequested read the redacted
// request log, Snapshot and Restore save and bring back the whole fake. Client and Do call the API
// as any fixture user with a bearer token that is renewed when it expires (after an hour of fake
// time) or when a reset drops it. docs/opatest.md is the guide.
//
// Every server has its own engine, store, clock and directories, so parallel tests do not see each
// other.
package opatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// Server is a running fake server. Its exported fields do not change while it runs; the state a
// reset or a restore replaces (the engine, what the fixture loaded, the directories, tokens) is
// reached through methods, which always reflect the current state. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Team is the name of the fixture's first team.
	Team string
	// KeyID and KeySecret are the first service key of that team (empty when it has none).
	KeyID     string
	KeySecret string
	// Handler is the HTTP API handler.
	Handler *httpapi.Handler
	// Clock is the engine's clock; it moves only when told to (Advance, SetNow, /_fake/clock, or
	// its own methods, which do not run the work that became due: scheduled syncs and periodic
	// rotations wait for the next Advance; a checkout is over at its expiry all the same, and the
	// next write to the account checks it in and rotates it).
	Clock *opa.ManualClock
	// HTTP is the test server.
	HTTP *httptest.Server
	// Conditions decides the MFA and access request conditions of security policies: every one is
	// unmet until a test approves it, here or through /_fake/conditions (both the same list).
	Conditions *httpapi.ConditionApprovals

	tb       testing.TB    // nil from Start
	fx       *fixture.File // with the seed WithSeed gave
	digest   string        // fixtureDigest(fx)
	key      []byte
	ownStore bool // the store came from WithStore: no reset or restore
	ctl      *httpapi.Controller
	base     http.RoundTripper // HTTP's transport

	mu  sync.Mutex // serializes replacing cur
	cur atomic.Pointer[state]

	def     *tokenSource            // the first service key's, for Do and Token
	client  *http.Client            // Do's
	sources map[string]*tokenSource // Client's, by username as given; under mu

	closeOnce sync.Once
}

// state is what a reset or a restore replaces.
type state struct {
	gen    uint64 // increases with every replacement
	engine *opa.Engine
	loaded *fixture.Loaded
	ids    *seededIDs // nil: random ids
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
	s.tb = t
	t.Cleanup(s.Close)
	return s
}

// Start starts a server as NewServer does, for code that has no testing.TB: an Example, a
// TestMain, a program. The caller must call Close. It returns an error marked opa.ErrInvalid for a
// bad fixture or option, or the error that reading the fixture file or loading the fixture met.
// Safe for concurrent use: every server has its own engine.
func Start(opts ...Option) (*Server, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	fx, err := cfg.load()
	if err != nil {
		return nil, errors.Wrap(err, "opatest: fixture")
	}
	if cfg.seed != nil {
		fx.Seed = *cfg.seed // fx is the server's own copy
	}
	s := &Server{fx: fx, digest: fixtureDigest(fx), key: cfg.key, ownStore: cfg.store != nil, Team: fx.Teams[0].Name,
		Conditions: httpapi.NewConditionApprovals()}
	if s.key == nil {
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key) // crypto/rand.Read never fails
	} else if err := checkKey(s.key); err != nil {
		return nil, err
	}
	s.Clock = cfg.clock
	if s.Clock == nil {
		s.Clock = opa.NewManualClock(defaultStart())
		if !fx.Now.IsZero() {
			s.Clock.Set(fx.Now)
		}
	}
	if !cfg.now.IsZero() {
		s.Clock.Set(cfg.now)
	}
	start := s.Clock.Now()

	store := cfg.store
	if store == nil {
		store = memstore.New()
	}
	st, err := s.build(store)
	if err != nil {
		return nil, errors.Wrap(err, "opatest: loading the fixture")
	}
	s.cur.Store(st)

	controls := httpapi.Controls{Clock: s.Clock, Conditions: s.Conditions}
	if !s.ownStore {
		controls.Reset = func() (*opa.Engine, error) {
			s.Clock.Set(start)
			st, err := s.build(memstore.New())
			if err != nil {
				return nil, err
			}
			s.replace(st)
			return st.engine, nil
		}
	}
	hopts := append([]httpapi.Option{httpapi.WithOktaTokens(oktaTokens(fx)), httpapi.WithControls(controls)}, cfg.opts...)
	s.Handler = httpapi.New(st.engine, hopts...)
	s.ctl = s.Handler.Controller()
	s.HTTP = httptest.NewServer(s.Handler)
	s.URL = s.HTTP.URL
	s.base = s.HTTP.Client().Transport
	if lt := st.loaded.Team(s.Team); lt != nil && len(lt.ServiceKeys) > 0 {
		s.KeyID, s.KeySecret = lt.ServiceKeys[0].KeyID, lt.ServiceKeys[0].KeySecret
		s.def = &tokenSource{s: s, team: s.Team, keyID: s.KeyID, keySecret: s.KeySecret}
	}
	s.client = &http.Client{Transport: &authTransport{src: s.def, base: s.base}}
	return s, nil
}

// load returns the configured fixture, checked.
func (c *config) load() (*fixture.File, error) {
	if c.fixture == nil {
		return fixture.Parse(opa.DemoFixture)
	}
	return c.fixture()
}

// build loads the fixture into a fresh engine on store.
func (s *Server) build(store storage.Storage) (*state, error) {
	ids := newSeededIDs(s.fx.Seed, 0)
	eopts := []opa.Option{opa.WithKey(s.key), opa.WithConditionDecider(s.Conditions)}
	if ids != nil {
		eopts = append(eopts, opa.WithIDSource(ids)) // after fixture.Build's WithSeed, so it wins
	}
	e, loaded, err := fixture.Build(context.Background(), s.fx, fixture.Options{Clock: s.Clock, Store: store, EngineOptions: eopts})
	if err != nil {
		return nil, err
	}
	return &state{engine: e, loaded: loaded, ids: ids}, nil
}

// replace makes st the current state and closes the replaced state's LDAP directories. It runs
// inside httpapi.Controller.Replace (Reset's too), which then serves st.engine.
func (s *Server) replace(st *state) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	st.gen = old.gen + 1
	s.cur.Store(st)
	closeDirectories(old.loaded)
}

func closeDirectories(l *fixture.Loaded) {
	if l.Directory != nil {
		_ = l.Directory.Close() // in-memory and LDAP directories; nothing to report to a test
	}
}

func oktaTokens(fx *fixture.File) map[string]httpapi.OktaToken {
	tokens := map[string]httpapi.OktaToken{}
	for _, tm := range fx.Teams {
		for _, ot := range tm.OktaAPITokens {
			tokens[ot.Token] = httpapi.OktaToken{Team: tm.Name, User: ot.User}
		}
	}
	return tokens
}

// Close shuts the server down: it closes the test server, waiting for the requests in flight, the
// fixture's directory resolver and the store (unless it came from WithStore). Later calls do
// nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.HTTP.Close()
		st := s.cur.Load()
		closeDirectories(st.loaded)
		if !s.ownStore {
			_ = st.engine.Store().Close() // an in-memory store; nothing to report to a test
		}
	})
}

// Engine returns the engine the server runs now (a reset or a restore replaces it).
func (s *Server) Engine() *opa.Engine { return s.cur.Load().engine }

// Loaded returns what the fixture created in the current engine: per team, the ids by name and
// the service keys, and the in-memory directories. After a reset the ids are the new engine's
// (the same ones when the fixture has a seed); after a restore, the snapshot's.
func (s *Server) Loaded() *fixture.Loaded { return s.cur.Load().loaded }

// Directory returns the current in-memory directory of domain (case-insensitive), or nil when the
// fixture gives the domain none.
func (s *Server) Directory(domain string) *memdir.Dir {
	return s.cur.Load().loaded.Directories[strings.ToLower(domain)]
}

// Directories returns the current in-memory directories by lower-case domain, in a map of its own.
func (s *Server) Directories() map[string]*memdir.Dir {
	return maps.Clone(s.cur.Load().loaded.Directories)
}

// OktaID returns the Okta id (00g… for a group, 00u… for a user) that groups/modify
// (POST /api/v1/directories/{appInstanceId}/groups/modify) accepts for the directory object ref
// names (a DN, objectSid or objectGUID) in the directory of the connection for domain: the id the
// fixture's okta_ids assign, else the stable derived one (opa.Engine.DirectoryOktaID). Errors:
// opa.ErrNotFound when no team of the fixture has a connection for domain, or ref names no group
// or user there; opa.ErrUnavailable when the directory cannot be reached. Safe for concurrent use.
func (s *Server) OktaID(domain, ref string) (string, error) {
	st := s.cur.Load()
	for _, lt := range st.loaded.Teams {
		if id, ok := lt.Connections[strings.ToLower(domain)]; ok {
			return st.engine.DirectoryOktaID(context.Background(), opa.SystemPrincipal(opa.Team{ID: lt.ID, Name: lt.Name}), id, ref)
		}
	}
	return "", errclass.Mark(opa.ErrNotFound, "no team of the fixture has a connection for domain %q", domain)
}

// Token returns a bearer token of the first service key of the first team, valid now: the same
// one until it expires on the fake clock (an hour after it was issued) or a reset or restore drops
// it, then a new one. It returns "" when the team has no service key, or when issuing failed.
func (s *Server) Token() string {
	if s.def == nil {
		return ""
	}
	tok, err := s.def.token(context.Background())
	if err != nil {
		return ""
	}
	return tok
}

// ExchangeToken calls POST /v1/teams/{team}/service_token with the key and returns the bearer
// token. The request goes through the API like a client's (it is recorded, and the failed-login
// limiter counts it); Token and Client get their tokens without a request.
func (s *Server) ExchangeToken(keyID, keySecret string) (string, error) {
	body, _ := json.Marshal(map[string]string{"key_id": keyID, "key_secret": keySecret})
	resp, err := s.HTTP.Client().Post(s.URL+"/v1/teams/"+s.Team+"/service_token", "application/json", bytes.NewReader(body))
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

// Do sends a request as the first service key's user with a current bearer token (see Token;
// none when the team has no service key); body (if not nil) is encoded as JSON. A request that
// meets a 401 because a reset or restore dropped its token while it ran is sent again once with a
// new token.
func (s *Server) Do(method, url string, body any) (*http.Response, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.client.Do(req)
}

// notAvailable is the error of Reset and Restore on a server that runs on a store of the caller's.
func notAvailable(what string) error {
	return errclass.Mark(errclass.NotFound, "opatest: %s is not available: the server runs on the store given WithStore", what)
}
