// Command opaserver runs the opa engine behind its REST API (package httpapi): a fake Okta
// Privileged Access / Advanced Server Access server for tests and demos.
//
//	go run ./cmd/opaserver                       # 127.0.0.1:8080, in memory, the demo fixture
//	go run ./cmd/opaserver -addr 127.0.0.1:0     # any free port
//	go run ./cmd/opaserver -fixtures my.json     # your fixture file (docs/fixtures.md)
//	go run ./cmd/opaserver -data ./opa-data      # durable file store in ./opa-data
//	go run ./cmd/opaserver -postgres "$DSN" -key-file kek   # a replica on a shared PostgreSQL store
//	go run ./cmd/opaserver -generate 100000      # plus 100k generated users, accounts, computers
//
// On start it prints the base URL, the team, the first service key (in the demo, an
// administrator's) and the key of a service user a security policy covers (the end user, the one
// that can reveal), saying what each is for, and a shell snippet that exchanges the first key for a
// bearer token and lists the team's AD connections.
//
// With -data the state survives restarts; the fixtures are loaded only into an empty store (later
// starts rebuild only the in-memory directories), all or nothing: a first start killed half-way
// leaves a marker, and the next start deletes what it wrote and loads the fixtures again (see
// firstStartMarker). The fixture's seed makes the ids of that first load deterministic in both
// modes; after a restart new ids are random, so they never collide with the seeded ones. The
// store's secrets are sealed with a 32-byte key-encryption key read from -key-file, or generated
// into DIR/kek (mode 0600, written atomically) on first start: convenient, but whoever can read
// the data directory can then read the sealed passwords, so give -key-file on a different volume
// when that matters.
//
// With -postgres DSN (or OPA_POSTGRES holding a DSN; never OPA_POSTGRES_DSN, the tests' server)
// the store is a PostgreSQL database that any number of replicas share, behind a load balancer
// (docs/scale-out.md): every replica is given the same -key-file, the fixture is loaded once per
// database (all or nothing, however many replicas start at once; later starts load nothing), and
// each replica builds the fixture's in-memory directories for itself. -postgres-schema picks the
// PostgreSQL schema (default "opa"). Controls are off by default, as with -data; with -controls
// the clock is still the system clock (replicas must agree on the time) and there is no reset.
//
// The test-fixture controls under /_fake/ (reset, clock, faults, request log) need no credentials.
// They are on by default in memory and off by default with -data (a durable server is more likely
// to be reachable by others); -controls or -controls=false decides explicitly, and the banner says
// which. With controls on, the engine's clock is an opa.ManualClock that follows the
// wall clock (it is advanced by the elapsed time every tick) and that /_fake/clock can set or move
// ahead. /_fake/reset is available only without -data.
//
// A connection of the fixture file with an "ldap" object (docs/fixtures.md) reaches a real LDAP/AD
// server through package directory/ldapdir, at its domain_controllers and bound as its service
// account; the other connections use the fixture's in-memory directories.
//
// The browser reveal demo (package webui) is served under /ui/. Its helper package is read from
// -reveal-package DIR (wasm/build.sh DIR), or else built on demand into the user cache directory
// when opaserver runs from a checkout with the go tool on PATH (`go run ./cmd/opaserver`): see
// uiMount.
//
// -cors-origin lets pages of other origins call the API from a browser (CORS): give each origin
// (repeat the flag, or separate them with commas), or * for any.
//
// The server limits every connection: -read-header-timeout (10 s), -read-timeout (30 s, head and
// body), -write-timeout (60 s), -idle-timeout (60 s, between keep-alive requests) and
// -max-header-bytes (64 KiB); bodies are capped at 1 MiB on every route. -h prints every flag.
//
// SIGINT or SIGTERM shuts down gracefully: in-flight requests finish (up to 10 s), then the store
// is closed.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/storage"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); errors.Is(err, errHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "opaserver:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx is done or a signal arrives.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	doc := opa.DemoFixture
	if f.fixtures != "" {
		if doc, err = os.ReadFile(f.fixtures); err != nil {
			return errors.Wrap(err, "reading the fixture file")
		}
	}
	fx, err := fixture.Parse(doc)
	if err != nil {
		return errors.Wrap(err, "fixture")
	}
	if f.generate != nil {
		if err := fx.AddGenerate(*f.generate); err != nil {
			return errors.Wrap(err, "-generate")
		}
	}

	var clock *opa.ManualClock
	if f.controls && f.postgres == "" { // replicas share the store, so they keep the system clock
		start := fx.Now
		if start.IsZero() {
			start = time.Now().UTC()
		}
		clock = opa.NewManualClock(start)
	}
	var engineClock opa.Clock = opa.SystemClock{}
	if clock != nil {
		engineClock = clock
	}

	var (
		store  storage.Storage
		engine *opa.Engine
		loaded *fixture.Loaded
		reset  func() (*opa.Engine, error)
	)
	// With the controls on, /_fake/conditions decides the policies' MFA and access request
	// conditions; without them no condition is ever met.
	engineOpts := []opa.Option{opa.WithLogger(log)}
	var approvals *httpapi.ConditionApprovals
	if f.controls {
		approvals = httpapi.NewConditionApprovals()
		engineOpts = append(engineOpts, opa.WithConditionDecider(approvals))
	}
	if f.postgres != "" {
		sh, err := openShared(ctx, f.postgres, f.schema, f.keyFile, fx, engineClock, log, engineOpts...)
		if err != nil {
			return err
		}
		defer sh.closeDirs(log)
		store, engine = sh.store, sh.engine
	} else if f.data != "" {
		d, err := openDurable(ctx, f.data, f.keyFile, fx, engineClock, log, engineOpts...)
		if err != nil {
			return err
		}
		defer d.closeDirs(log)
		store, engine = d.store, d.engine
	} else {
		build := func() (*opa.Engine, *fixture.Loaded, error) {
			if clock != nil {
				clock.Set(time.Now().UTC())
				if !fx.Now.IsZero() {
					clock.Set(fx.Now)
				}
			}
			return fixture.Build(ctx, fx, fixture.Options{Clock: engineClock, EngineOptions: engineOpts})
		}
		engine, loaded, err = build()
		if err != nil {
			return errors.Wrap(err, "loading the fixtures")
		}
		store = engine.Store()
		var mu sync.Mutex
		dirs := loaded.Directory
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			closeDirs(dirs, log)
		}()
		reset = func() (*opa.Engine, error) {
			e, l, err := build()
			if err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			closeDirs(dirs, log) // the LDAP connections of the engine being replaced
			dirs = l.Directory
			return e, nil
		}
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "error", err)
		}
	}()

	opts := []httpapi.Option{httpapi.WithLogger(log), httpapi.WithOktaTokens(oktaTokens(fx))}
	if f.controls {
		opts = append(opts, httpapi.WithControls(httpapi.Controls{Reset: reset, Clock: clock, Conditions: approvals}))
	}
	if f.cors != nil {
		opts = append(opts, httpapi.WithCORS(f.cors))
	}
	uiOpts, uiNote := uiMount(ctx, f.revealPkg, log)
	opts = append(opts, uiOpts...)
	handler := httpapi.New(engine, opts...)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return errors.Wrap(err, "listening")
	}
	srv := f.limits.server(handler)
	base := "http://" + ln.Addr().String()
	printBanner(stdout, base, fx, f, uiNote)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		tick(ctx, handler, clock, log)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		stop()
		<-tickDone
		return errors.Wrap(err, "serving")
	case <-ctx.Done():
	}
	_, _ = fmt.Fprintln(stdout, "shutting down") // informational; the server stops either way
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-tickDone
	if err != nil {
		return errors.Wrap(err, "shutting down")
	}
	return nil
}

// closeDirs closes the LDAP connections of a fixture's directory resolver.
func closeDirs(dirs *fixture.Resolver, log *slog.Logger) {
	if dirs == nil {
		return
	}
	if err := dirs.Close(); err != nil {
		log.Warn("closing the LDAP directories", "error", err)
	}
}

// tick runs the engine's time-driven work every second on whatever engine the handler serves now
// (it changes on /_fake/reset), first moving a manual clock on by the elapsed wall time.
func tick(ctx context.Context, h *httpapi.Handler, clock *opa.ManualClock, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if clock != nil {
				clock.Advance(now.Sub(last))
			}
			last = now
			if err := h.Engine().Tick(ctx); err != nil && ctx.Err() == nil {
				log.Warn("tick", "error", err)
			}
		}
	}
}

func oktaTokens(fx *fixture.File) map[string]httpapi.OktaToken {
	out := map[string]httpapi.OktaToken{}
	for _, t := range fx.Teams {
		for _, ot := range t.OktaAPITokens {
			out[ot.Token] = httpapi.OktaToken{Team: t.Name, User: ot.User}
		}
	}
	return out
}

// printBanner prints how to reach the server: base URL, team, the first service key (an
// administrator's in the demo) and a service key a security policy covers (the end user's), with
// what each is for, a shell snippet that works as printed, whether the unauthenticated controls
// are on, the CORS origins, and the reveal demo's URL with uiNote (where its helper comes from).
func printBanner(out io.Writer, base string, fx *fixture.File, f flags, uiNote string) {
	w := &strings.Builder{}
	team := fx.Teams[0]
	admin, _ := keyUser(team, func(fixture.User) bool { return true })
	fmt.Fprintf(w, "opaserver listening on %s\n", base)
	fmt.Fprintf(w, "base URL:   %s\n", base)
	fmt.Fprintf(w, "team:       %s\n", team.Name)
	var keyID, secret string
	if admin != nil {
		keyID, secret = admin.ServiceKeys[0].KeyID, admin.ServiceKeys[0].KeySecret
	}
	fmt.Fprintf(w, "key id:     %s\n", keyID)
	fmt.Fprintf(w, "key secret: %s\n", secret)
	if admin != nil {
		fmt.Fprintf(w, "            %s\n", describeKeyUser(team, admin))
	}
	if eu, ok := keyUser(team, func(u fixture.User) bool { return policyCovers(team, u) }); ok {
		k := eu.ServiceKeys[0]
		fmt.Fprintf(w, "end user:   %s, key id %s, key secret %s\n", eu.Username, k.KeyID, k.KeySecret)
		fmt.Fprintf(w, "            a security policy covers it: it lists, reveals and checks out accounts on the end-user routes (/v1/teams/%s/active_directory/…) and signs in to the /ui/ demo\n", team.Name)
	} else {
		fmt.Fprintln(w, "end user:   none: no security policy covers a service user with a key, so no key can reveal a password")
	}
	if f.postgres != "" {
		fmt.Fprintf(w, "store:      PostgreSQL, schema %s, shared with every replica on the database\n", f.schema)
	}
	if f.controls {
		fmt.Fprintf(w, "controls:   ON at %s/_fake/ (reset, clock, faults, request log, user tokens), UNAUTHENTICATED: anyone who can reach this address can use them (-controls=false turns them off)\n", base)
	} else {
		fmt.Fprintln(w, "controls:   off (-controls turns on the unauthenticated /_fake/ test controls)")
	}
	if len(f.corsOrigins) > 0 {
		fmt.Fprintf(w, "cors:       pages of %s may call the API from a browser\n", strings.Join(f.corsOrigins, ", "))
	}
	fmt.Fprintln(w, "try:")
	fmt.Fprintf(w, "  TOKEN=$(curl -s -X POST %s/v1/teams/%s/service_token -H 'Content-Type: application/json' -d '{\"key_id\":\"%s\",\"key_secret\":\"%s\"}' | sed -E 's/.*\"bearer_token\":\"([^\"]+)\".*/\\1/')\n",
		base, team.Name, keyID, secret)
	fmt.Fprintf(w, "  curl -s %s/v1/teams/%s/connections/active_directory -H \"Authorization: Bearer $TOKEN\"\n", base, team.Name)
	fmt.Fprintf(w, "browser reveal demo: %s/ui/ (%s)\n", base, uiNote)
	_, _ = io.WriteString(out, w.String()) // informational: a closed stdout must not stop the server
}

// keyUser returns the first enabled user of team with a service key for which ok holds.
func keyUser(team fixture.Team, ok func(fixture.User) bool) (*fixture.User, bool) {
	for i, u := range team.Users {
		if len(u.ServiceKeys) > 0 && !u.Disabled && ok(u) {
			return &team.Users[i], true
		}
	}
	return nil, false
}

// userRoles returns the roles u holds, directly and through its groups, in order, once each.
func userRoles(team fixture.Team, u *fixture.User) []string {
	var out []string
	add := func(rs []fixture.Role) {
		for _, r := range rs {
			if !slices.Contains(out, string(r.Role)) {
				out = append(out, string(r.Role))
			}
		}
	}
	add(u.Roles)
	for _, g := range team.Groups {
		if slices.Contains(u.Groups, g.Name) {
			add(g.Roles)
		}
	}
	return out
}

// policyCovers reports whether an active security policy of team names u or one of its groups.
func policyCovers(team fixture.Team, u fixture.User) bool {
	for _, p := range team.Policies {
		if !p.Active {
			continue
		}
		if slices.ContainsFunc(p.Users, func(n string) bool { return strings.EqualFold(n, u.Username) }) ||
			slices.ContainsFunc(p.Groups, func(g string) bool { return slices.Contains(u.Groups, g) }) {
			return true
		}
	}
	return false
}

// describeKeyUser says whose the banner's first key is and what it is good for.
func describeKeyUser(team fixture.Team, u *fixture.User) string {
	roles := userRoles(team, u)
	s := "service user " + u.Username
	if len(roles) > 0 {
		s += " (" + strings.Join(roles, ", ") + ")"
	}
	s += ": "
	if slices.ContainsFunc(roles, func(r string) bool { return r != string(opa.RoleEndUser) }) {
		s += "the admin API, and "
	}
	s += "the lines under \"try\""
	if !policyCovers(team, *u) {
		s += "; no security policy covers it, so it reveals nothing (the end user's key below does)"
	}
	return s
}
