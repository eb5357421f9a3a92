// Package peers benchmarks storage/filestore against peer durable stores (pebble with synced
// writes, bbolt) and the disk's own limit (a 4 KiB append plus fdatasync), on the same disk in the
// same run. It is a separate module so that the library never depends on pebble or bbolt.
//
// Run it alone on a quiet machine, several rounds so each store is measured between the others
// (run.sh does that and prints the medians and the ratios of the targets):
//
//	cd bench/peers && ./run.sh
package peers_test

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	bolt "go.etcd.io/bbolt"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

// record returns the user record every store commits: about 300 bytes of JSON.
func record(id string) *storage.User {
	return &storage.User{ID: id, TeamID: "team-0001", Username: "user-" + id, FirstName: "Firstname",
		LastName: "Lastname", DisplayName: "Firstname Lastname " + id, Email: "user-" + id + "@corp.example.com",
		Status: "ACTIVE", GroupIDs: []string{"group-0001", "group-0002"},
		Roles: []storage.RoleGrant{{Role: "end_user"}}, CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

// A peer is a durable store: open returns its commit of one record, acknowledged only once
// durable, for the number of concurrent writers, and its close. Every commit encodes the record
// (filestore encodes its own frames).
type peer struct {
	name string
	open func(b *testing.B, dir string, writers int) (commit func(id string) error, close func())
}

var peers = []peer{
	{"raw-4KiB", openRaw},
	{"raw-overwrite-4KiB", openRawOverwrite},
	{"filestore", openFilestore},
	{"pebble", openPebble},
	{"bbolt", openBolt},
}

// openRaw is the disk's limit: each commit appends a 4 KiB record and fdatasyncs, on the
// caller's goroutine for one writer. Concurrent commits share fdatasyncs through a minimal group
// committer (one goroutine, one write and one fdatasync per group), about the most any log could
// get from the disk.
func openRaw(b *testing.B, dir string, writers int) (func(string) error, func()) {
	f, err := os.OpenFile(filepath.Join(dir, "raw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	return rawCommitter(f, writers, func(buf []byte) error { _, err := f.Write(buf); return err })
}

// rawArea is the preallocated area openRawOverwrite writes round.
const rawArea = 16 << 20

// openRawOverwrite is the floor of any commit with one fdatasync: 4 KiB written over blocks
// allocated and zero-filled beforehand (what filestore's WithPrealloc does, and what bbolt's page
// writes are), so the fdatasync flushes data only, never a new file size.
func openRawOverwrite(b *testing.B, dir string, writers int) (func(string) error, func()) {
	f, err := os.OpenFile(filepath.Join(dir, "raw.area"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, rawArea), 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	var off int64
	return rawCommitter(f, writers, func(buf []byte) error {
		if off+int64(len(buf)) > rawArea {
			off = 0
		}
		_, err := f.WriteAt(buf, off)
		off += int64(len(buf))
		return err
	})
}

// rawCommitter commits 4 KiB records with write and fdatasync: on the caller's goroutine for one
// writer, through a minimal group committer for several.
func rawCommitter(f *os.File, writers int, write func([]byte) error) (func(string) error, func()) {
	rec := make([]byte, 4096)
	if writers == 1 {
		return func(string) error {
			if err := write(rec); err != nil {
				return err
			}
			return syscall.Fdatasync(int(f.Fd()))
		}, func() { _ = f.Close() }
	}
	type req struct{ done chan error }
	var (
		mu    sync.Mutex
		queue []req
		kick  = make(chan struct{}, 1)
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		var buf []byte
		for {
			select {
			case <-kick:
			case <-stop:
				return
			}
			for {
				mu.Lock()
				group := queue
				queue = nil
				mu.Unlock()
				if len(group) == 0 {
					break
				}
				buf = buf[:0]
				for range group {
					buf = append(buf, rec...)
				}
				err := write(buf)
				if err == nil {
					err = syscall.Fdatasync(int(f.Fd()))
				}
				for _, r := range group {
					r.done <- err
				}
			}
		}
	}()
	commit := func(string) error {
		r := req{done: make(chan error, 1)}
		mu.Lock()
		queue = append(queue, r)
		mu.Unlock()
		select {
		case kick <- struct{}{}:
		default:
		}
		return <-r.done
	}
	return commit, func() { close(stop); <-done; _ = f.Close() }
}

func openFilestore(b *testing.B, dir string, _ int) (func(string) error, func()) {
	s, err := filestore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	commit := func(id string) error {
		return s.Update(b.Context(), func(tx storage.WriteTx) error { return storage.Users.Insert(tx, record(id)) })
	}
	return commit, func() {
		st := s.Stats()
		if st.Syncs > 0 {
			b.ReportMetric(float64(st.Commits)/float64(st.Syncs), "commits/fsync")
			// The disk's share of the run: the log writes and fdatasyncs, over the wall time.
			b.ReportMetric(100*float64(st.SyncTime)/float64(b.Elapsed()), "disk-%")
			b.ReportMetric(float64(st.SyncTime.Microseconds())/float64(st.Syncs), "µs/fsync")
		}
		_ = s.Close()
	}
}

type quiet struct{}

func (quiet) Infof(string, ...any)           {}
func (quiet) Fatalf(format string, a ...any) { log.Fatalf(format, a...) }

func openPebble(b *testing.B, dir string, _ int) (func(string) error, func()) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		b.Fatal(err)
	}
	commit := func(id string) error {
		v, err := json.Marshal(record(id))
		if err != nil {
			return err
		}
		return db.Set([]byte(id), v, pebble.Sync)
	}
	return commit, func() { _ = db.Close() }
}

// openBolt commits with Update for one writer and with Batch (bbolt's own group commit, default
// MaxBatchDelay) for concurrent writers.
func openBolt(b *testing.B, dir string, writers int) (func(string) error, func()) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	bucket := []byte("users")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	commit := func(id string) error {
		v, err := json.Marshal(record(id))
		if err != nil {
			return err
		}
		put := func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), v) }
		if writers > 1 {
			return db.Batch(put)
		}
		return db.Update(put)
	}
	return commit, func() { _ = db.Close() }
}

// BenchmarkDurableCommit commits one record per commit, acknowledged once durable, from 1 and 64
// writers, in each store; ns/op is per commit (so 1e9/ns is the commit rate).
func BenchmarkDurableCommit(b *testing.B) {
	for _, writers := range []int{1, 64} {
		for _, p := range peers {
			b.Run(fmt.Sprintf("%s/%d", p.name, writers), func(b *testing.B) {
				commit, closeFn := p.open(b, b.TempDir(), writers)
				defer closeFn()
				var next atomic.Int64
				var wg sync.WaitGroup
				cpu0 := cpuTime()
				b.ResetTimer()
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							n := next.Add(1)
							if n > int64(b.N) {
								return
							}
							if err := commit(fmt.Sprintf("%012d", n)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				// The process's CPU per commit (every goroutine of the store and the writers).
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/commit")
			})
		}
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
