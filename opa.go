// Package opa is an embeddable engine for the Active Directory side of Okta Privileged Access (OPA)
// and Advanced Server Access (ASA): AD connections, server and user sync jobs, AD account discovery,
// account rules and matching of accounts to users, security policies, checkout and check-in,
// password rotation, password reveal as a JWE encrypted to a key the client sends, Okta Universal
// Directory accounts and directory group-membership changes.
//
// An Engine runs on a storage.Storage (storage/memstore in memory, storage/filestore on disk). Every
// operation takes a context and the Principal it acts as, and the engine itself enforces the role the
// operation needs, so an embedding service gets the same authorization as the HTTP API in package
// httpapi. Errors carry one of the classes ErrNotFound, ErrConflict, ErrInvalid, ErrUnauthorized,
// ErrForbidden, ErrUnavailable, ErrTimeout and ErrCorrupt; match them with errors.Is.
//
// Roles (decided here; each Engine method's doc names the roles it needs, and principal.go holds the
// checks): pam_admin manages identities (users, groups, service keys); resource_admin manages
// connections, sync jobs, account rules, rule settings, resource groups and projects; security_admin
// manages security policies, project checkout and password settings, forced check-ins and the
// team-wide account lists; the delegated_ variants hold the same rights inside one resource group;
// end_user reaches only what a security policy grants.
package opa

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Engine is the domain engine. Create one with New. It is safe for concurrent use.
type Engine struct {
	store    storage.Storage
	clock    Clock
	ids      IDSource
	log      *slog.Logger
	seal     *sealer
	resolver DirectoryResolver
	random   io.Reader
	// conditions decides MFA and access request conditions (WithConditionDecider); nil: never met.
	conditions ConditionDecider

	tokenTTL time.Duration

	// leases coordinate this engine with the others on the store (lease.go): the sync runs of a
	// connection, the rotations of an account (so the sealed password always matches the last
	// password the directory accepted) and the Tick steps.
	leases *leases
	// vault caches the store's vault key (see VaultJWKS), loaded or made on first use.
	vault vaultKey
}

// Option configures an Engine.
type Option func(*config) error

type config struct {
	clock      Clock
	ids        IDSource
	log        *slog.Logger
	key        []byte
	resolver   DirectoryResolver
	random     io.Reader
	tokenTTL   time.Duration
	conditions ConditionDecider
	leaseTTL   time.Duration
}

// WithClock sets the clock the engine reads for every timestamp, expiry and schedule. Default: the
// system clock. Tests and the fake server use a *ManualClock.
func WithClock(c Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return invalidf("WithClock: nil clock")
		}
		cfg.clock = c
		return nil
	}
}

// WithIDSource sets where new object ids come from. Default: random UUIDv4.
func WithIDSource(s IDSource) Option {
	return func(cfg *config) error {
		if s == nil {
			return invalidf("WithIDSource: nil source")
		}
		cfg.ids = s
		return nil
	}
}

// WithSeed makes ids deterministic: UUIDv4-shaped ids drawn from a generator seeded with seed.
func WithSeed(seed uint64) Option {
	return func(cfg *config) error {
		cfg.ids = NewSeededIDs(seed)
		return nil
	}
}

// WithLogger sets the structured logger. Default: discard. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return invalidf("WithLogger: nil logger")
		}
		cfg.log = l
		return nil
	}
}

// WithKey sets the 32-byte key-encryption key that seals secrets at rest (AES-256-GCM). A durable
// store needs the same key on every open. Default: a random key, fine for in-memory stores only.
func WithKey(key []byte) Option {
	return func(cfg *config) error {
		if len(key) != 32 {
			return invalidf("WithKey: the key-encryption key must be 32 bytes, got %d", len(key))
		}
		cfg.key = append([]byte(nil), key...)
		return nil
	}
}

// WithDirectoryResolver sets how a connection reaches its directory (an in-memory directory, or
// LDAP through package directory/ldapdir). Default: none, and directory operations fail with
// ErrUnavailable ("no connected agent").
func WithDirectoryResolver(r DirectoryResolver) Option {
	return func(cfg *config) error {
		cfg.resolver = r
		return nil
	}
}

// WithRandom sets the source of randomness for generated passwords and secrets. Default:
// crypto/rand. Only tests should change it.
func WithRandom(r io.Reader) Option {
	return func(cfg *config) error {
		if r == nil {
			return invalidf("WithRandom: nil reader")
		}
		cfg.random = r
		return nil
	}
}

// WithTokenTTL sets how long bearer tokens from IssueToken live. Default: one hour.
func WithTokenTTL(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return invalidf("WithTokenTTL: the duration must be positive")
		}
		cfg.tokenTTL = d
		return nil
	}
}

// New returns an Engine over store. It returns an ErrInvalid error for a bad option.
func New(store storage.Storage, opts ...Option) (*Engine, error) {
	if store == nil {
		return nil, invalidf("opa.New: nil store")
	}
	cfg := config{
		clock:    SystemClock{},
		ids:      randomIDs{},
		log:      slog.New(slog.DiscardHandler),
		random:   rand.Reader,
		tokenTTL: time.Hour,
		leaseTTL: defaultLeaseTTL,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.key == nil {
		cfg.key = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, cfg.key); err != nil {
			return nil, errors.Wrap(err, "opa.New: generating a key-encryption key")
		}
	}
	s, err := newSealer(cfg.key)
	if err != nil {
		return nil, err
	}
	ls, err := newLeases(cfg.leaseTTL)
	if err != nil {
		return nil, err
	}
	return &Engine{
		leases:     ls,
		store:      store,
		clock:      cfg.clock,
		ids:        cfg.ids,
		log:        cfg.log,
		seal:       s,
		resolver:   cfg.resolver,
		random:     cfg.random,
		tokenTTL:   cfg.tokenTTL,
		conditions: cfg.conditions,
	}, nil
}

// Store returns the engine's storage.
func (e *Engine) Store() storage.Storage { return e.store }

// Clock returns the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// now returns the clock's time, in UTC, truncated to microseconds so that it survives JSON and SQL.
func (e *Engine) now() time.Time { return e.clock.Now().UTC().Truncate(time.Microsecond) }

func (e *Engine) newID() string { return e.ids.NewID() }

// Tick runs the time-driven work that is due at the clock's current time: scheduled sync jobs,
// periodic password rotations and the retries of failed post-check-in rotations, and the settling
// of expired checkouts that no write has settled yet (their check-in and rotation). Tick is not
// what makes a checkout expire: every read and decision treats a checkout as over from its expiry
// time whether or not Tick has run, and the next write to the account settles it if Tick has not
// (expiry.go). The server calls it periodically (see Run); tests call it after moving a
// ManualClock, or use opatest's Advance. Safe for concurrent use, with writes too: an expired
// checkout is settled exactly once.
func (e *Engine) Tick(ctx context.Context) error {
	var errs error
	for _, step := range e.tickSteps() {
		if err := step(ctx); err != nil {
			errs = errors.CombineErrors(errs, err)
		}
	}
	return errs
}

// tickSteps returns the parts of Tick in the order they run. A step's failure does not stop the
// later ones; Tick returns them all combined.
//
//  1. expireCheckouts (expiry.go) settles the checkouts whose time is up that no write settled yet:
//     checks them in (system_checkout_expired) and rotates their passwords.
//  2. checkInLostAll (lostaccess.go) checks in the checkouts whose holders lost access
//     (system_user_lost_access) and rotates their passwords.
//  3. rotateDue (rotation.go) rotates the passwords periodic rotation selects and retries the
//     pending post-check-in rotations, so it sees the rotations steps 1 and 2 left pending.
//  4. runDueSyncJobs (scheduler.go) runs the active sync jobs that are due.
func (e *Engine) tickSteps() []func(context.Context) error {
	return []func(context.Context) error{e.expireCheckouts, e.checkInLostAll, e.rotateDue, e.runDueSyncJobs}
}

// Run calls Tick every interval until ctx is done. Errors are logged, not returned.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Tick(ctx); err != nil {
				e.log.Warn("tick", "error", err)
			}
		}
	}
}
