package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
	"github.com/opakit/opa/storage/pgstore"
)

// postgresEnv is the environment variable -postgres defaults from, when it holds a DSN.
//
// DESIGN: the tests' switch OPA_POSTGRES=1 (package internal/pgtest: start a throwaway cluster)
// and their OPA_POSTGRES_DSN (run the tests against that server) keep their meaning: opaserver
// never reads OPA_POSTGRES_DSN, so a shell set up for the PostgreSQL tests does not turn every
// opaserver it starts (the command's own tests among them) into a replica of the test database,
// and it reads OPA_POSTGRES only when the value is a DSN (a postgres:// or postgresql:// URL, or
// a key=value string), never "1" or "true".
const postgresEnv = "OPA_POSTGRES"

// postgresDSN returns the DSN -postgres gives, or else the one OPA_POSTGRES holds, or "".
func postgresDSN(flag string) string {
	if flag != "" {
		return flag
	}
	v := strings.TrimSpace(os.Getenv(postgresEnv))
	if isDSN(v) {
		return v
	}
	return ""
}

// isDSN reports whether v looks like a PostgreSQL connection string rather than a switch.
func isDSN(v string) bool {
	return strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") || strings.Contains(v, "=")
}

// shared is an engine over a PostgreSQL store that other replicas share.
type shared struct {
	store  *pgstore.Store
	engine *opa.Engine
	dirs   *fixture.Resolver
}

func (s *shared) closeDirs(log *slog.Logger) { closeDirs(s.dirs, log) }

// openShared opens the store in the database dsn (PostgreSQL schema ns) with the fixture loaded
// once per database (loadOnce) and returns an engine on it with this process's in-memory
// directories of the fixture. The key-encryption key comes from keyFile, which every replica must
// be given: there is no data directory to keep a generated one in.
func openShared(ctx context.Context, dsn, ns, keyFile string, fx *fixture.File, clock opa.Clock, log *slog.Logger, extra ...opa.Option) (*shared, error) {
	if keyFile == "" {
		return nil, errors.New("-postgres needs -key-file: every replica on the database must seal secrets with the same key-encryption key")
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, errors.Wrap(err, "reading the key-encryption key")
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, err
	}
	store, err := pgstore.Open(ctx, dsn, pgstore.WithNamespace(ns))
	if err != nil {
		return nil, errors.Wrap(err, "opening the PostgreSQL store")
	}
	loaded, err := loadOnce(ctx, store, fx, key, clock)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	if loaded {
		log.Info("loaded the fixture into the database", "schema", ns)
	}
	resolver := memdir.NewResolver()
	dirs, err := fixture.NewResolver(fx, resolver)
	if err != nil {
		_ = store.Close()
		return nil, errors.Wrap(err, "fixture")
	}
	s := &shared{store: store, dirs: dirs}
	if _, err := fixture.LoadDirectories(fx, clock, resolver); err != nil {
		s.closeDirs(log)
		_ = store.Close()
		return nil, err
	}
	opts := append([]opa.Option{opa.WithClock(clock), opa.WithDirectoryResolver(dirs), opa.WithKey(key), opa.WithLogger(log)}, extra...)
	if s.engine, err = opa.New(store, opts...); err != nil {
		s.closeDirs(log)
		_ = store.Close()
		return nil, err
	}
	return s, nil
}

// errLoaded ends loadOnce's transaction when the database already holds the fixture.
var errLoaded = errors.New("the database already holds a team")

// loadOnce loads fx into store unless the store already holds a team, all or nothing, and
// reports whether it did. DESIGN: the fixture is first built in memory (fixture.Build on a
// memstore, with the fixture's seed and the replicas' key-encryption key), then every record is
// copied into the shared store in one write transaction that first checks the store holds no
// team. So a first start killed half-way leaves nothing, and of several replicas starting at once
// on an empty database exactly one commits its copy: the store's serializability makes the
// others' transactions conflict and run again, and then they find the team and load nothing.
func loadOnce(ctx context.Context, store storage.Storage, fx *fixture.File, key []byte, clock opa.Clock) (bool, error) {
	empty, err := isEmpty(ctx, store)
	if err != nil || !empty {
		return false, err
	}
	mem := memstore.New()
	_, l, err := fixture.Build(ctx, fx, fixture.Options{Clock: clock, Store: mem, EngineOptions: []opa.Option{opa.WithKey(key)}})
	if err != nil {
		return false, errors.Wrap(err, "loading the fixtures")
	}
	if err := l.Directory.Close(); err != nil {
		return false, errors.Wrap(err, "loading the fixtures")
	}
	tables := map[string][]any{}
	err = mem.View(ctx, func(tx storage.ReadTx) error {
		for _, ts := range storage.Schema {
			if ts.Name == storage.Leases.Name() {
				continue // held by the building engine only
			}
			recs, err := tx.List(ts.Name, "id")
			if err != nil {
				return err
			}
			tables[ts.Name] = recs
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	err = store.Update(ctx, func(tx storage.WriteTx) error {
		teams, err := storage.Teams.List(tx, "id")
		if err != nil {
			return err
		}
		if len(teams) > 0 {
			return errLoaded
		}
		for _, ts := range storage.Schema {
			for _, rec := range tables[ts.Name] {
				if err := tx.Insert(ts.Name, rec); err != nil {
					return errors.Wrapf(err, "copying a record of %s", ts.Name)
				}
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errLoaded):
		return false, nil
	case errors.Is(err, storage.ErrConflict):
		// A unique constraint against another replica's copy that committed first.
		if empty, eerr := isEmpty(ctx, store); eerr == nil && !empty {
			return false, nil
		}
	}
	if err != nil {
		return false, errors.Wrap(err, "loading the fixtures into the database")
	}
	return true, nil
}
