package main

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/storage/pgstore"
)

// errHelp is what parseFlags returns for -h or -help, after printing the usage to stdout.
var errHelp = errors.New("help requested")

type flags struct {
	addr string
	data string
	// postgres is the DSN of a shared PostgreSQL store (-postgres, or OPA_POSTGRES holding a
	// DSN); schema its PostgreSQL schema (-postgres-schema).
	postgres string
	schema   string
	keyFile  string
	fixtures string
	// generate is the -generate section added to the fixture's first team (nil: none).
	generate  *fixture.Generate
	controls  bool
	verbose   bool
	revealPkg string
	limits    limits
	// corsOrigins are the -cors-origin values, split at commas; cors is their policy (nil: none).
	corsOrigins originList
	cors        *httpapi.CORSPolicy
}

// originList is a flag.Value collecting origins from repeated flags and comma-separated lists.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*o = append(*o, s)
		}
	}
	return nil
}

// parseGenerate reads a -generate value: a count N (N users, N accounts and N computers) or
// comma-separated users=, accounts=, computers= and seed= settings. The seed defaults to 1.
func parseGenerate(v string) (*fixture.Generate, error) {
	g := &fixture.Generate{Seed: 1}
	if n, err := strconv.Atoi(v); err == nil {
		g.Users, g.Accounts, g.Computers = n, n, n
		return g, nil
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.ParseUint(val, 10, 64)
		if !ok || err != nil {
			return nil, errors.Newf("%q: want N or users=N,accounts=N,computers=N,seed=S", v)
		}
		switch k {
		case "users":
			g.Users = int(min(n, fixture.MaxGenerated+1))
		case "accounts":
			g.Accounts = int(min(n, fixture.MaxGenerated+1))
		case "computers":
			g.Computers = int(min(n, fixture.MaxGenerated+1))
		case "seed":
			g.Seed = n
		default:
			return nil, errors.Newf("%q: unknown setting %q (users, accounts, computers, seed)", v, k)
		}
	}
	return g, nil
}

// limits are the HTTP server's connection limits. A zero duration turns that timeout off.
type limits struct {
	readHeader     time.Duration
	read           time.Duration
	write          time.Duration
	idle           time.Duration
	maxHeaderBytes int
}

// Default limits: a slow or idle client holds a connection for at most a few tens of seconds, and
// a request head is at most 64 KiB (net/http's own default is 1 MiB). Bodies are capped at 1 MiB
// by the handler on every route.
func defaultLimits() limits {
	return limits{
		readHeader:     10 * time.Second,
		read:           30 * time.Second,
		write:          60 * time.Second,
		idle:           60 * time.Second,
		maxHeaderBytes: 64 << 10,
	}
}

// server returns the http.Server for handler with these limits.
func (l limits) server(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
	}
}

// parseFlags parses the command line. -h and -help print the usage to stdout and return errHelp;
// a bad flag prints the error and the usage to stderr.
func parseFlags(args []string, stdout, stderr io.Writer) (flags, error) {
	def := defaultLimits()
	f := flags{limits: def}
	var usage bytes.Buffer
	fs := flag.NewFlagSet("opaserver", flag.ContinueOnError)
	fs.SetOutput(&usage)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free port)")
	fs.StringVar(&f.data, "data", "", "data directory for the durable file store (default: in memory)")
	fs.StringVar(&f.postgres, "postgres", "", "PostgreSQL connection string (URL or key=value) of a store shared by every replica of the server (docs/scale-out.md); default: $OPA_POSTGRES when it holds a DSN")
	fs.StringVar(&f.schema, "postgres-schema", pgstore.DefaultNamespace, "PostgreSQL schema of the shared store, so several stores can share one database")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the 32-byte key-encryption key (raw or 64 hex digits); default with -data: DIR/kek, generated on first start")
	fs.StringVar(&f.fixtures, "fixtures", "", "fixture file to load instead of the embedded demo (docs/fixtures.md)")
	fs.Func("generate", "add generated data to the fixture's first team (docs/fixtures.md, Generate): N users, accounts and computers, or users=N,accounts=N,computers=N,seed=S (seed default 1)", func(v string) error {
		g, err := parseGenerate(v)
		f.generate = g
		return err
	})
	fs.BoolVar(&f.controls, "controls", true, "serve the unauthenticated test-fixture controls under /_fake/ (default: on in memory, off with -data)")
	fs.StringVar(&f.revealPkg, "reveal-package", "", "directory with the built browser reveal helper package (wasm/build.sh DIR) for the demo under /ui/ (default: built on demand from the working directory's checkout into the user cache directory)")
	fs.BoolVar(&f.verbose, "v", false, "log every request failure in detail")
	fs.Var(&f.corsOrigins, "cors-origin", "origin whose pages may call the API from a browser (CORS), e.g. http://localhost:5173; repeat it or separate origins with commas; * allows any origin (default: none)")
	fs.DurationVar(&f.limits.readHeader, "read-header-timeout", def.readHeader, "time to read a request's head (0: no limit)")
	fs.DurationVar(&f.limits.read, "read-timeout", def.read, "time to read a whole request, head and body (0: no limit)")
	fs.DurationVar(&f.limits.write, "write-timeout", def.write, "time from the end of a request's head to the end of its response (0: no limit); injected fault latency extends it")
	fs.DurationVar(&f.limits.idle, "idle-timeout", def.idle, "time a keep-alive connection may wait for its next request (0: the read timeout)")
	fs.IntVar(&f.limits.maxHeaderBytes, "max-header-bytes", def.maxHeaderBytes, "largest request head in bytes (request line and headers)")
	fs.Usage = func() {
		usage.WriteString("Usage: opaserver [flags]\n\nRuns a fake Okta Privileged Access / Advanced Server Access server.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = stdout.Write(usage.Bytes())
		return f, errHelp
	}
	if err != nil {
		_, _ = stderr.Write(usage.Bytes())
		return f, err
	}
	if fs.NArg() > 0 {
		return f, errors.Newf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	f.postgres = postgresDSN(f.postgres)
	if f.data != "" && f.postgres != "" {
		return f, errors.New("-data and -postgres are two stores: give one")
	}
	if (f.data != "" || f.postgres != "") && !explicit["controls"] {
		f.controls = false // a durable server gets the unauthenticated controls only when asked
	}
	l := f.limits
	if l.readHeader < 0 || l.read < 0 || l.write < 0 || l.idle < 0 {
		return f, errors.New("the timeouts must not be negative")
	}
	if l.maxHeaderBytes < 1024 {
		return f, errors.New("-max-header-bytes must be at least 1024")
	}
	if len(f.corsOrigins) > 0 {
		p, err := httpapi.NewCORSPolicy(f.corsOrigins...)
		if err != nil {
			return f, errors.Wrap(err, "-cors-origin")
		}
		f.cors = p
	}
	return f, nil
}
