package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
	"github.com/opakit/opa/storage/memstore"
)

// Storage benchmarks. Run them alone on a quiet machine, all in one run so the raw disk baseline
// and the stores see the same disk:
//
//	go test -run '^$' -bench . -benchtime 2s -count 3 ./storage/
//
// BenchmarkRawAppendFdatasync is the denominator: one write of a commit-sized record plus
// fdatasync, the physical limit of a durable single-record commit.

var bctx = context.Background()

// benchUser returns a user record of about 300 bytes of JSON.
func benchUser(id string) *storage.User {
	return &storage.User{ID: id, TeamID: "team-0001", Username: "user-" + id, FirstName: "Firstname",
		LastName: "Lastname", DisplayName: "Firstname Lastname " + id, Email: "user-" + id + "@corp.example.com",
		Status: "ACTIVE", GroupIDs: []string{"group-0001", "group-0002"},
		Roles: []storage.RoleGrant{{Role: "end_user"}}, CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

// frameSize is about the size of one commit frame holding one benchUser insert.
func frameSize() int {
	b, _ := json.Marshal(benchUser("000000000"))
	return len(b) + 40
}

type storeCase struct {
	name string
	open func(b *testing.B) (storage.Storage, func() (syncs, commits uint64))
}

var stores = []storeCase{
	{"mem", func(b *testing.B) (storage.Storage, func() (uint64, uint64)) {
		return memstore.New(), nil
	}},
	{"file", func(b *testing.B) (storage.Storage, func() (uint64, uint64)) {
		s, err := filestore.Open(b.TempDir(), filestore.WithSnapshotBytes(0))
		if err != nil {
			b.Fatal(err)
		}
		return s, func() (uint64, uint64) { st := s.Stats(); return st.Syncs, st.Commits }
	}},
}

func insert(s storage.Storage, id string) error {
	return s.Update(bctx, func(tx storage.WriteTx) error { return storage.Users.Insert(tx, benchUser(id)) })
}

// reportSyncs reports fsyncs per commit and commits per fsync (the group-commit factor).
func reportSyncs(b *testing.B, stats func() (uint64, uint64), syncs0, commits0 uint64) {
	if stats == nil {
		return
	}
	syncs, commits := stats()
	syncs, commits = syncs-syncs0, commits-commits0
	if syncs > 0 && commits > 0 {
		b.ReportMetric(float64(syncs)/float64(commits), "fsyncs/commit")
		b.ReportMetric(float64(commits)/float64(syncs), "commits/fsync")
	}
}

func BenchmarkRawAppendFdatasync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, frameSize())
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit is one writer, one record per commit.
func BenchmarkCommit(b *testing.B) {
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			s, stats := sc.open(b)
			defer s.Close()
			var s0, c0 uint64
			if stats != nil {
				s0, c0 = stats()
			}
			b.SetBytes(int64(frameSize()))
			n := 0
			for b.Loop() {
				n++
				if err := insert(s, fmt.Sprintf("%09d", n)); err != nil {
					b.Fatal(err)
				}
			}
			reportSyncs(b, stats, s0, c0)
		})
	}
}

// BenchmarkCommitParallel is 8 and 64 concurrent writers, one record per commit; the file store
// shares fsyncs among them (group commit).
func BenchmarkCommitParallel(b *testing.B) {
	for _, writers := range []int{8, 64} {
		for _, sc := range stores {
			b.Run(fmt.Sprintf("%s/%d", sc.name, writers), func(b *testing.B) {
				s, stats := sc.open(b)
				defer s.Close()
				var s0, c0 uint64
				if stats != nil {
					s0, c0 = stats()
				}
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							n := next.Add(1)
							if n > int64(b.N) {
								return
							}
							if err := insert(s, fmt.Sprintf("%09d", n)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				reportSyncs(b, stats, s0, c0)
			})
		}
	}
}

// BenchmarkGet is a point read (View + Get by id) in a table of 10,000 records.
func BenchmarkGet(b *testing.B) {
	const n = 10_000
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			s, _ := sc.open(b)
			defer s.Close()
			fillUsers(b, s, n)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("%09d", (i*7919)%n)
			}
			b.ResetTimer()
			i := 0
			for b.Loop() {
				id := ids[i%n]
				i++
				err := s.View(bctx, func(tx storage.ReadTx) error {
					_, err := storage.Users.Get(tx, id)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRangePage reads one page of 100 users of a team by the team index, at the start and
// deep in the list (after the user at 80%), from tables of 1,000 and 100,000 users, against the
// old way of paging (List every user of the team, then cut the page), in memstore. A Range page
// costs the same at both sizes and depths (O(log N + page)); the List costs O(N).
//
//	go test -run '^$' -bench RangePage -benchtime 200x ./storage/
func BenchmarkRangePage(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		s := memstore.New()
		fillUsers(b, s, n)
		for _, depth := range []struct {
			name  string
			after string
		}{{"first", ""}, {"deep", fmt.Sprintf("%09d", n*8/10)}} {
			b.Run(fmt.Sprintf("%d/%s/range", n, depth.name), func(b *testing.B) {
				for b.Loop() {
					err := s.View(bctx, func(tx storage.ReadTx) error {
						page, err := storage.Users.Range(tx, storage.UsersByTeam, storage.Range{Args: []string{"team-0001"},
							After: depth.after, Limit: 100}, nil)
						if err == nil && len(page) != 100 {
							b.Fatalf("page of %d", len(page))
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%d/%s/list-and-cut", n, depth.name), func(b *testing.B) {
				for b.Loop() {
					err := s.View(bctx, func(tx storage.ReadTx) error {
						all, err := storage.Users.List(tx, "team", "team-0001")
						if err != nil {
							return err
						}
						i := sort.Search(len(all), func(i int) bool { return all[i].ID > depth.after })
						if len(all[i:min(i+100, len(all))]) != 100 {
							b.Fatal("short page")
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// fillUsers inserts users 000000000 … n-1 (n a multiple of 1,000), 1,000 to a transaction.
func fillUsers(b *testing.B, s storage.Storage, n int) {
	for start := 0; start < n; start += 1000 {
		err := s.Update(bctx, func(tx storage.WriteTx) error {
			for i := start; i < start+1000; i++ {
				if err := storage.Users.Insert(tx, benchUser(fmt.Sprintf("%09d", i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
