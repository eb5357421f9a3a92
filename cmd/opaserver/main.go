// Command opaserver runs the opa engine behind its REST API (package httpapi): a fake Okta
// Privileged Access / Advanced Server Access server for tests and demos.
//
//	go run ./cmd/opaserver                       # 127.0.0.1:8080, in memory, the demo fixture
//	go run ./cmd/opaserver -addr 127.0.0.1:0     # any free port
//	go run ./cmd/opaserver -fixtures my.json     # your fixture file (docs/fixtures.md)
//	go run ./cmd/opaserver -data ./opa-data      # durable file store in ./opa-data
//
// On start it prints the base URL, the team, a service key id and secret, and a shell snippet that
// exchanges the key for a bearer token and lists the team's AD connections.
//
// With -data the state survives restarts; the fixtures are loaded only into an empty store (later
// starts rebuild only the in-memory directories). The store's secrets are sealed with a 32-byte
// key-encryption key read from -key-file, or generated into DIR/kek (mode 0600) on first start:
// convenient, but whoever can read the data directory can then read the sealed passwords, so give
// -key-file on a different volume when that matters.
//
// The test-fixture controls under /_fake/ (reset, clock, faults, request log) are on unless
// -controls=false. With controls on, the engine's clock is an opa.ManualClock that follows the
// wall clock (it is advanced by the elapsed time every tick) and that /_fake/clock can set or move
// ahead. /_fake/reset is available only without -data.
//
// A connection of the fixture file with an "ldap" object (docs/fixtures.md) reaches a real LDAP/AD
// server through package directory/ldapdir, at its domain_controllers and bound as its service
// account; the other connections use the fixture's in-memory directories.
//
// The browser reveal demo (package webui) is served under /ui/, its WASM assets read from -wasm-dir
// (build them with wasm/build.sh).
//
// SIGINT or SIGTERM shuts down gracefully: in-flight requests finish (up to 10 s), then the store
// is closed.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "opaserver:", err)
		os.Exit(1)
	}
}

type flags struct {
	addr     string
	data     string
	keyFile  string
	fixtures string
	controls bool
	verbose  bool
	wasmDir  string
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("opaserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free port)")
	fs.StringVar(&f.data, "data", "", "data directory for the durable file store (default: in memory)")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the 32-byte key-encryption key (raw or 64 hex digits); default with -data: DIR/kek, generated on first start")
	fs.StringVar(&f.fixtures, "fixtures", "", "fixture file to load instead of the embedded demo (docs/fixtures.md)")
	fs.BoolVar(&f.controls, "controls", true, "serve the test-fixture controls under /_fake/")
	fs.StringVar(&f.wasmDir, "wasm-dir", "wasm", "directory with the reveal demo's WASM assets (wasm/build.sh), served under /ui/")
	fs.BoolVar(&f.verbose, "v", false, "log every request failure in detail")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, errors.Newf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return f, nil
}

// run starts the server and blocks until ctx is done or a signal arrives.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
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

	var clock *opa.ManualClock
	if f.controls {
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
	if f.data != "" {
		key, err := loadKey(f.data, f.keyFile)
		if err != nil {
			return err
		}
		fstore, err := filestore.Open(f.data)
		if err != nil {
			return errors.Wrap(err, "opening the data directory")
		}
		store = fstore
		resolver := memdir.NewResolver()
		dirs, err := fixture.NewResolver(fx, resolver)
		if err != nil {
			_ = store.Close()
			return errors.Wrap(err, "fixture")
		}
		defer closeDirs(dirs, log)
		engine, err = opa.New(store, opa.WithClock(engineClock), opa.WithDirectoryResolver(dirs), opa.WithKey(key), opa.WithLogger(log))
		if err != nil {
			_ = store.Close()
			return err
		}
		if _, err := engine.Team(ctx, fx.Teams[0].Name); err == nil {
			if _, err := fixture.LoadDirectories(fx, engineClock, resolver); err != nil {
				_ = store.Close()
				return err
			}
		} else if loaded, err = fixture.Load(ctx, engine, resolver, fx); err != nil {
			_ = store.Close()
			return errors.Wrap(err, "loading the fixtures")
		}
	} else {
		build := func() (*opa.Engine, *fixture.Loaded, error) {
			if clock != nil {
				clock.Set(time.Now().UTC())
				if !fx.Now.IsZero() {
					clock.Set(fx.Now)
				}
			}
			return fixture.Build(ctx, fx, fixture.Options{Clock: engineClock, EngineOptions: []opa.Option{opa.WithLogger(log)}})
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
		opts = append(opts, httpapi.WithControls(httpapi.Controls{Reset: reset, Clock: clock}))
	}
	opts = append(opts, uiMount(f.wasmDir)...)
	handler := httpapi.New(engine, opts...)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return errors.Wrap(err, "listening")
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	printBanner(stdout, base, fx, loaded)

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

// printBanner prints how to reach the server: base URL, team, the first service key, and a shell
// snippet that works as printed.
func printBanner(out io.Writer, base string, fx *fixture.File, _ *fixture.Loaded) {
	w := &strings.Builder{}
	team := fx.Teams[0]
	var keyID, secret string
	for _, u := range team.Users {
		if len(u.ServiceKeys) > 0 {
			keyID, secret = u.ServiceKeys[0].KeyID, u.ServiceKeys[0].KeySecret
			break
		}
	}
	fmt.Fprintf(w, "opaserver listening on %s\n", base)
	fmt.Fprintf(w, "base URL:   %s\n", base)
	fmt.Fprintf(w, "team:       %s\n", team.Name)
	fmt.Fprintf(w, "key id:     %s\n", keyID)
	fmt.Fprintf(w, "key secret: %s\n", secret)
	fmt.Fprintln(w, "try:")
	fmt.Fprintf(w, "  TOKEN=$(curl -s -X POST %s/v1/teams/%s/service_token -H 'Content-Type: application/json' -d '{\"key_id\":\"%s\",\"key_secret\":\"%s\"}' | sed -E 's/.*\"bearer_token\":\"([^\"]+)\".*/\\1/')\n",
		base, team.Name, keyID, secret)
	fmt.Fprintf(w, "  curl -s %s/v1/teams/%s/connections/active_directory -H \"Authorization: Bearer $TOKEN\"\n", base, team.Name)
	fmt.Fprintf(w, "browser reveal demo: %s/ui/ (after wasm/build.sh)\n", base)
	_, _ = io.WriteString(out, w.String()) // informational: a closed stdout must not stop the server
}

// loadKey reads the key-encryption key from keyFile, or from DIR/kek, generating that file (mode
// 0600) when absent.
func loadKey(dir, keyFile string) ([]byte, error) {
	generate := false
	if keyFile == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, errors.Wrap(err, "creating the data directory")
		}
		keyFile = filepath.Join(dir, "kek")
		if _, err := os.Stat(keyFile); os.IsNotExist(err) {
			generate = true
		}
	}
	if generate {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, errors.Wrap(err, "generating a key-encryption key")
		}
		if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("%x\n", key)), 0o600); err != nil {
			return nil, errors.Wrap(err, "writing the key-encryption key")
		}
		return key, nil
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, errors.Wrap(err, "reading the key-encryption key")
	}
	return parseKey(b)
}

func parseKey(b []byte) ([]byte, error) {
	if len(b) == 32 {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if len(s) == 64 {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("the key file must hold 32 raw bytes or 64 hex digits")
}
