package opatest

import (
	"os"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// config is what the options set; Start reads it.
type config struct {
	fixture func() (*fixture.File, error) // nil: the demo fixture
	now     time.Time
	clock   *opa.ManualClock
	store   storage.Storage
	seed    *uint64
	key     []byte
	opts    []httpapi.Option
}

// Option configures NewServer and Start.
type Option func(*config)

// WithFixture loads f instead of the demo fixture. f is checked exactly as a JSON document is
// (fixture.Check): a bad field makes Start fail with an opa.ErrInvalid error naming its JSON
// path, as in "teams[0].users[1].email: not an email address". The server keeps its own copy, so
// changing f afterwards changes nothing, not even what Reset reloads.
func WithFixture(f fixture.File) Option {
	return func(c *config) { c.fixture = func() (*fixture.File, error) { return fixture.Check(f) } }
}

// WithFixtureJSON loads the fixture document doc (docs/fixtures.md) instead of the demo.
func WithFixtureJSON(doc []byte) Option {
	doc = append([]byte(nil), doc...)
	return func(c *config) { c.fixture = func() (*fixture.File, error) { return fixture.Parse(doc) } }
}

// WithFixtureFile loads the fixture document in the file at path instead of the demo. A file that
// cannot be read makes Start fail with that error.
func WithFixtureFile(path string) Option {
	return func(c *config) {
		c.fixture = func() (*fixture.File, error) {
			doc, err := os.ReadFile(path)
			if err != nil {
				return nil, errors.Wrap(err, "reading the fixture file")
			}
			f, err := fixture.Parse(doc)
			return f, errors.Wrapf(err, "%s", path)
		}
	}
}

// WithNow starts the clock at t (default: the WithClock clock's time, else the fixture's "now",
// else 2026-01-01T00:00:00Z). Reset sets the clock back to it.
func WithNow(t time.Time) Option { return func(c *config) { c.now = t } }

// WithClock makes clock the engine's clock (and Server.Clock), so that code outside the server
// can share it. The clock starts at its own time unless WithNow is given.
func WithClock(clock *opa.ManualClock) Option { return func(c *config) { c.clock = clock } }

// WithSeed makes generated ids deterministic with seed, overriding the fixture's "seed" (0: random
// ids whatever the fixture says).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = &seed } }

// WithStore runs the engine on store instead of a fresh in-memory store: the fixture is loaded
// into it, so it must be empty. The caller keeps it: Close does not close it. Reset, /_fake/reset
// and Restore need a fresh store and are not available on such a server (they fail with an
// opa.ErrNotFound error).
func WithStore(store storage.Storage) Option { return func(c *config) { c.store = store } }

// WithKey sets the 32-byte key-encryption key that seals the engine's secrets at rest (default: a
// random key per server). A snapshot is sealed with a key derived from it, so two servers with the
// same key and fixture can restore each other's snapshots. Start fails with an opa.ErrInvalid
// error for a key of another length.
func WithKey(key []byte) Option {
	key = append([]byte(nil), key...)
	return func(c *config) { c.key = key }
}

// WithHandlerOptions passes options to httpapi.New (after the ones the server sets: the fixture's
// Okta API tokens and the controls).
func WithHandlerOptions(opts ...httpapi.Option) Option {
	return func(c *config) { c.opts = append(c.opts, opts...) }
}

// defaultStart is the clock's start when nothing else gives one.
func defaultStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// checkKey refuses a key-encryption key of the wrong length.
func checkKey(key []byte) error {
	if len(key) != 32 {
		return errclass.Mark(errclass.Invalid, "opatest: WithKey: the key-encryption key must be 32 bytes, got %d", len(key))
	}
	return nil
}
