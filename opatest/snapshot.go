package opatest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// A snapshot is snapshotMagic, a GCM nonce, and the JSON of a snapshotBody sealed with
// AES-256-GCM under a key derived from the server's key-encryption key (HKDF-SHA256), with the
// magic as additional data. Sealed, it keeps the directories' passwords and the fixture's service
// key secrets it carries out of sight of whoever holds the bytes, and a snapshot of another server
// (another key), or a damaged one, fails to open instead of restoring garbage.
const snapshotMagic = "opatest snapshot v1\n"

// snapshotBody is the fake's state.
type snapshotBody struct {
	Fixture     string                       `json:"fixture"` // fixtureDigest of the server's fixture
	Clock       time.Time                    `json:"clock"`
	Seed        uint64                       `json:"seed"`
	IDs         uint64                       `json:"ids"` // ids the seeded source gave
	Tables      map[string][]json.RawMessage `json:"tables"`
	Directories map[string]memdir.State      `json:"directories"`
	Teams       []fixture.LoadedTeam         `json:"teams"`
}

// Snapshot returns the fake's whole state, for Restore: every record of the store (service
// tokens issued so far included), the fake clock's time, the position of the seeded id source,
// the in-memory directories' entries and passwords, and what the fixture loaded (Loaded). It does
// not hold the faults, the request log, the controls' user tokens, the rate limiters' windows, the
// directories' fault switches (Restore takes them from the fixture), or the content of real LDAP
// directories. The store's vault key is a record like any other, so a restored server serves the
// same vault JWKS. The bytes are sealed with a key derived from the server's
// key-encryption key: only this server, or one started with the same WithKey and fixture, can
// restore them.
//
// Take it while no request is in flight (between the steps of a test): the store is read in one
// transaction, but the directories and the clock are read after it. Its cost is O(state).
func (s *Server) Snapshot() ([]byte, error) {
	st := s.cur.Load()
	seed, n := st.ids.position()
	body := snapshotBody{Fixture: s.digest, Clock: s.Clock.Now().UTC(), Seed: seed, IDs: n,
		Tables: map[string][]json.RawMessage{}, Directories: map[string]memdir.State{}, Teams: st.loaded.Teams}
	err := st.engine.Store().View(context.Background(), func(tx storage.ReadTx) error {
		for _, ts := range storage.Schema {
			recs, err := tx.List(ts.Name, "id")
			if err != nil {
				return errors.Wrapf(err, "reading table %s", ts.Name)
			}
			raws := make([]json.RawMessage, len(recs))
			for i, r := range recs {
				if raws[i], err = json.Marshal(r); err != nil {
					return errors.Wrapf(err, "encoding a record of %s", ts.Name)
				}
			}
			body.Tables[ts.Name] = raws
		}
		return nil
	})
	if err != nil {
		return nil, errors.Wrap(err, "opatest: Snapshot")
	}
	for domain, d := range st.loaded.Directories {
		if body.Directories[domain], err = d.State(); err != nil {
			return nil, errors.Wrapf(err, "opatest: Snapshot of the directory of %s", domain)
		}
	}
	plain, err := json.Marshal(body)
	if err != nil {
		return nil, errors.Wrap(err, "opatest: Snapshot")
	}
	return s.seal(plain)
}

// Restore replaces the fake's state with a snapshot's (see Snapshot for what it holds): a fresh
// engine on a fresh in-memory store with the snapshot's records, the clock at the snapshot's time,
// the id source where it was, the directories as they were; and, as Reset does, no faults, an
// empty request log and no user tokens. Afterwards Engine, Loaded, Directory, Token and the
// clients reflect the restored state; a snapshot can be restored any number of times. Errors:
// opa.ErrInvalid, with nothing changed, for bytes that are not a snapshot of this server (another
// key-encryption key, another fixture, or damaged); opa.ErrNotFound on a server made WithStore.
func (s *Server) Restore(snapshot []byte) error {
	if s.ownStore {
		return notAvailable("Restore")
	}
	plain, err := s.open(snapshot)
	if err != nil {
		return err
	}
	var body snapshotBody
	if err := json.Unmarshal(plain, &body); err != nil {
		return errclass.Wrap(err, errclass.Invalid, "opatest: Restore: decoding the snapshot")
	}
	if body.Fixture != s.digest {
		return errclass.Mark(errclass.Invalid, "opatest: Restore: the snapshot was taken of a server with another fixture")
	}
	return s.ctl.Replace(func() (*opa.Engine, error) {
		st, err := s.restored(&body)
		if err != nil {
			return nil, errclass.Wrap(err, errclass.Invalid, "opatest: Restore")
		}
		s.Clock.Set(body.Clock)
		s.replace(st)
		return st.engine, nil
	})
}

// restored builds the state body describes.
func (s *Server) restored(body *snapshotBody) (*state, error) {
	for name := range body.Tables {
		if _, err := storage.Lookup(name); err != nil {
			return nil, errors.Newf("the snapshot has a table %q this version does not know", name)
		}
	}
	store := memstore.New()
	err := store.Update(context.Background(), func(tx storage.WriteTx) error {
		for _, ts := range storage.Schema {
			if ts.Name == storage.Leases.Name() {
				continue // the leases of the engine the snapshot was taken of: a restored engine holds none
			}
			for _, raw := range body.Tables[ts.Name] {
				rec := ts.New()
				if err := json.Unmarshal(raw, rec); err != nil {
					return errors.Wrapf(err, "decoding a record of %s", ts.Name)
				}
				if err := tx.Insert(ts.Name, rec); err != nil {
					return errors.Wrapf(err, "restoring a record of %s", ts.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	mem := memdir.NewResolver()
	dirs, err := fixture.RestoreDirectories(s.fx, s.Clock, mem, body.Directories)
	if err != nil {
		return nil, err
	}
	res, err := fixture.NewResolver(s.fx, mem)
	if err != nil {
		return nil, err
	}
	ids := newSeededIDs(body.Seed, body.IDs)
	eopts := []opa.Option{opa.WithClock(s.Clock), opa.WithDirectoryResolver(res), opa.WithKey(s.key)}
	if ids != nil {
		eopts = append(eopts, opa.WithIDSource(ids))
	}
	e, err := opa.New(store, eopts...)
	if err != nil {
		_ = res.Close()
		return nil, err
	}
	loaded := &fixture.Loaded{Teams: body.Teams, Resolver: mem, Directories: dirs, Directory: res}
	return &state{engine: e, loaded: loaded, ids: ids}, nil
}

// fixtureDigest identifies a fixture: the hex SHA-256 of its JSON encoding.
func fixtureDigest(f *fixture.File) string {
	b, _ := json.Marshal(f) // a checked fixture encodes
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// snapshotAEAD returns the cipher that seals the server's snapshots.
func (s *Server) snapshotAEAD() (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, s.key, nil, "opatest snapshot", 32)
	if err != nil {
		return nil, errors.Wrap(err, "deriving the snapshot key")
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, errors.Wrap(err, "deriving the snapshot key")
	}
	return cipher.NewGCM(block)
}

func (s *Server) seal(plain []byte) ([]byte, error) {
	aead, err := s.snapshotAEAD()
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(snapshotMagic)+aead.NonceSize(), len(snapshotMagic)+aead.NonceSize()+len(plain)+aead.Overhead())
	copy(out, snapshotMagic)
	nonce := out[len(snapshotMagic):]
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return aead.Seal(out, nonce, plain, []byte(snapshotMagic)), nil
}

func (s *Server) open(sealed []byte) ([]byte, error) {
	aead, err := s.snapshotAEAD()
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(sealed, []byte(snapshotMagic)) || len(sealed) < len(snapshotMagic)+aead.NonceSize() {
		return nil, errclass.Mark(errclass.Invalid, "opatest: Restore: not a snapshot")
	}
	rest := sealed[len(snapshotMagic):]
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(snapshotMagic))
	if err != nil {
		return nil, errclass.Mark(errclass.Invalid, "opatest: Restore: the snapshot does not open: it was taken by a server with another key-encryption key, or it is damaged")
	}
	return plain, nil
}
