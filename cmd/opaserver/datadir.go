package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

// firstStartMarker names the file that marks a first start in progress in a data directory.
//
// The fixture is loaded into the durable store by many engine calls, each its own transaction, so
// a first start killed half-way would leave part of the fixture. Loading is made all-or-nothing
// with this marker instead: it is created and synced before the fixture's first write and removed
// (and the removal synced) after the last one, which the store has synced. A start that finds the
// marker knows the previous first start was interrupted: it deletes the store's files, keeps the
// key-encryption key, and loads the whole fixture again. A start that finds no marker and an empty
// store is a first start; no marker and a store holding a team means the fixture is all there.
const firstStartMarker = "first-start.incomplete"

// durable is an engine over the file store of a data directory.
type durable struct {
	store  *filestore.Store
	engine *opa.Engine
	dirs   *fixture.Resolver
}

// closeDirs closes the LDAP directories; the caller closes the store.
func (d *durable) closeDirs(log *slog.Logger) { closeDirs(d.dirs, log) }

// openDurable opens the store in dir with the fixture loaded, completely: on the first start (or
// after an interrupted one) it loads fx, with fx's seed for the generated ids; on later starts it
// only rebuilds fx's in-memory directories. Later starts use random ids, so that objects created
// after a restart never collide with the ones the seed gave before. extra are engine options given
// after the ones openDurable sets (the logger among them).
func openDurable(ctx context.Context, dir, keyFile string, fx *fixture.File, clock opa.Clock, log *slog.Logger, extra ...opa.Option) (*durable, error) {
	key, err := loadKey(dir, keyFile)
	if err != nil {
		return nil, err
	}
	marker := filepath.Join(dir, firstStartMarker)
	_, err = os.Stat(marker)
	interrupted := err == nil
	if interrupted {
		log.Warn("the previous first start with this data directory was interrupted; loading the fixture again from scratch", "dir", dir)
	}
	store, err := filestore.Open(dir)
	if err != nil {
		return nil, errors.Wrap(err, "opening the data directory")
	}
	fresh := interrupted
	if interrupted {
		// The store's files go while no store holds them; the marker stays until the load is done.
		if err := store.Close(); err != nil {
			return nil, errors.Wrap(err, "closing the data directory")
		}
		if err := removeStoreFiles(dir); err != nil {
			return nil, err
		}
		if store, err = filestore.Open(dir); err != nil {
			return nil, errors.Wrap(err, "opening the data directory")
		}
	} else {
		empty, err := isEmpty(ctx, store)
		if err != nil {
			_ = store.Close()
			return nil, err
		}
		if fresh = empty; fresh {
			if err := writeSynced(marker, []byte("opaserver: a first start is loading the fixture into this directory\n")); err != nil {
				_ = store.Close()
				return nil, errors.Wrap(err, "marking the first start")
			}
		}
	}

	resolver := memdir.NewResolver()
	dirs, err := fixture.NewResolver(fx, resolver)
	if err != nil {
		_ = store.Close()
		return nil, errors.Wrap(err, "fixture")
	}
	d := &durable{store: store, dirs: dirs}
	fail := func(err error) (*durable, error) {
		d.closeDirs(log)
		_ = store.Close()
		return nil, err
	}
	opts := []opa.Option{opa.WithClock(clock), opa.WithDirectoryResolver(dirs), opa.WithKey(key), opa.WithLogger(log)}
	if fresh && fx.Seed != 0 {
		opts = append(opts, opa.WithSeed(fx.Seed))
	}
	opts = append(opts, extra...)
	if d.engine, err = opa.New(store, opts...); err != nil {
		return fail(err)
	}
	if !fresh {
		if _, err := fixture.LoadDirectories(fx, clock, resolver); err != nil {
			return fail(err)
		}
		return d, nil
	}
	if _, err := fixture.Load(ctx, d.engine, resolver, fx); err != nil {
		return fail(errors.Wrap(err, "loading the fixtures (the next start loads them again from scratch)"))
	}
	if err := removeSynced(marker); err != nil {
		return fail(errors.Wrap(err, "unmarking the first start"))
	}
	return d, nil
}

// isEmpty reports whether the store holds no team.
func isEmpty(ctx context.Context, st storage.Storage) (bool, error) {
	var n int
	err := st.View(ctx, func(tx storage.ReadTx) error {
		ts, err := storage.Teams.List(tx, "id")
		n = len(ts)
		return err
	})
	return n == 0, errors.Wrap(err, "reading the data directory")
}

// removeStoreFiles deletes the file store's data files in dir (the names the filestore package
// documents: wal-*.log, snap-*.snap, snap-*.tmp), leaving everything else (the key, the marker,
// LOCK) in place, and syncs the directory.
func removeStoreFiles(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return errors.Wrap(err, "listing the data directory")
	}
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && (strings.HasPrefix(n, "wal-") && strings.HasSuffix(n, ".log") ||
			strings.HasPrefix(n, "snap-") && (strings.HasSuffix(n, ".snap") || strings.HasSuffix(n, ".tmp"))) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return errors.Wrap(err, "removing the interrupted first start's data")
			}
		}
	}
	return syncDir(dir)
}

// writeSynced writes data to path atomically and durably: a temporary file, fsync, rename, fsync
// of the directory. A crash leaves either no file or the whole one.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// removeSynced removes path and syncs its directory.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errors.Wrap(err, "syncing the data directory")
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return errors.Wrap(err, "syncing the data directory")
}

// loadKey reads the key-encryption key from keyFile, or from DIR/kek, generating that file (mode
// 0600, written atomically) when absent.
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
		if err := writeSynced(keyFile, []byte(fmt.Sprintf("%x\n", key))); err != nil {
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
