package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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

// FuzzLogSegment replaces the last log segment with arbitrary bytes: Open never panics, and
// either fails with an error or opens a store holding at least the snapshot's records.
func FuzzLogSegment(f *testing.F) { fuzzFile(f, "wal-") }

// FuzzSnapshotFile replaces the snapshot with arbitrary bytes: Open never panics, and either
// fails or serves the whole state.
func FuzzSnapshotFile(f *testing.F) { fuzzFile(f, "snap-") }

func fuzzFile(f *testing.F, prefix string) {
	tmpl := f.TempDir()
	s, err := Open(tmpl)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		_ = putTeam(s, fmt.Sprintf("s%d", i))
	}
	_ = s.Snapshot()
	for i := range 3 {
		_ = putTeam(s, fmt.Sprintf("l%d", i))
	}
	_ = s.Close()
	files := map[string][]byte{}
	names, _ := os.ReadDir(tmpl)
	target := ""
	for _, e := range names {
		b, err := os.ReadFile(filepath.Join(tmpl, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		files[e.Name()] = b
		if strings.HasPrefix(e.Name(), prefix) && e.Name() > target {
			target = e.Name()
		}
	}
	f.Add(files[target])
	f.Add(files[target][:len(files[target])/2])
	f.Add([]byte{})
	// Each input is a fresh directory: on tmpfs (when there is one) its fsyncs cost nothing.
	base := f.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "opa-filestore-fuzz"); err == nil {
			base = d
			f.Cleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(base, strconv.FormatInt(n.Add(1), 10))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		for name, b := range files {
			if name == target {
				b = data
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir)
		if err != nil {
			return
		}
		defer s.Close()
		n := len(teamIDs(t, s))
		if prefix == "snap-" && n != 6 {
			t.Fatalf("a damaged snapshot opened with %d of 6 teams", n)
		}
		if n < 3 {
			t.Fatalf("opened with %d teams, fewer than the snapshot's 3", n)
		}
	})
}
