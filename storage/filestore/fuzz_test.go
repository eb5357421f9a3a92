package filestore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// FuzzDecodeOps feeds arbitrary bytes to the log record decoder: it must return ops or an
// ErrCorrupt error, never panic.
func FuzzDecodeOps(f *testing.F) {
	body, err := appendOps(nil, []memstore.Op{
		{Kind: memstore.OpInsert, Table: "teams", ID: "a", Rec: &storage.Team{ID: "a", Name: "a"}},
		{Kind: memstore.OpDelete, Table: "users", ID: "u"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte{1, 9, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := decodeOps(b)
		if err != nil && !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("error %v is not ErrCorrupt", err)
		}
		if err == nil {
			for _, op := range ops {
				if op.Kind != memstore.OpDelete && op.Rec == nil {
					t.Fatalf("op %+v without a record", op)
				}
			}
		}
	})
}

// FuzzRecoverSegment opens a directory whose only log segment holds arbitrary bytes after a valid
// one: Open must succeed (a torn tail) or fail with ErrCorrupt, never panic or fail otherwise.
func FuzzRecoverSegment(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := putTeam(s, id); err != nil {
			f.Fatal(err)
		}
	}
	_ = s.Close()
	valid, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append(append([]byte{}, valid...), 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("Open = %v, want success or ErrCorrupt", err)
			}
			return
		}
		if err := putTeam(s, "new"); err != nil {
			t.Fatalf("commit after recovery: %v", err)
		}
		_ = s.Close()
	})
}
