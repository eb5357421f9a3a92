package memstore

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/storage"
)

// BenchmarkMemoryPerAccount measures the heap an account record costs at rest in memstore and in a
// bare go-memdb with the same indexes (go-memdb's own StringFieldIndex and CompoundIndex on the
// same fields), in one run: N accounts inserted in transactions of 1,000 (and, for "rewritten",
// then every one updated once, as a sync that changes every account does), then a full GC, then
// the live heap over N. It reports both and their ratio (the target: at most 1.5).
//
//	go test -run '^$' -bench MemoryPerAccount -benchtime 1x -count 3 ./storage/memstore/
func BenchmarkMemoryPerAccount(b *testing.B) {
	for _, n := range []int{20_000, 100_000} {
		for _, rewrite := range []bool{false, true} {
			name := fmt.Sprint(n)
			if rewrite {
				name += "/rewritten"
			}
			b.Run(name, func(b *testing.B) {
				var store, bare float64
				for b.Loop() {
					store = heapPerRecord(n, func(n int) any { return fillMemstore(n, rewrite) })
					bare = heapPerRecord(n, func(n int) any { return fillMemdb(n, rewrite) })
				}
				b.ReportMetric(store, "memstore-B/account")
				b.ReportMetric(bare, "go-memdb-B/account")
				b.ReportMetric(store/bare, "ratio")
			})
		}
	}
}

// heapPerRecord returns the live heap fill(n) adds, per record; fill returns what holds the data.
func heapPerRecord(n int, fill func(n int) any) float64 {
	before := liveHeap()
	keep := fill(n)
	after := liveHeap()
	runtime.KeepAlive(keep)
	return float64(after-before) / float64(n)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchAccount returns an account of about 600 bytes of JSON, as a directory sync stores it.
func benchAccount(i int) *storage.Account {
	id := fmt.Sprintf("3f6c9a2e-0000-4000-8000-%012d", i)
	name := fmt.Sprintf("user%06d", i)
	return &storage.Account{ID: id, TeamID: "7d7c2b10-1111-4000-8000-000000000001",
		ConnectionID: "7d7c2b10-2222-4000-8000-000000000002", Domain: "corp.example.com",
		SID: fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1000+i), UPN: name + "@corp.example.com",
		SAMAccountName: name, DistinguishedName: "CN=" + name + ",OU=Staff,OU=Accounts,DC=corp,DC=example,DC=com",
		FirstName: "First", LastName: fmt.Sprintf("Last%d", i), DisplayName: "First Last " + name,
		Email: name + "@corp.example.com", OktaGroupNames: []string{"Domain Users", "Staff"},
		RuleID: "7d7c2b10-3333-4000-8000-000000000003", AccountType: "INDIVIDUAL",
		ProjectID:       fmt.Sprintf("7d7c2b10-4444-4000-8000-%012d", i%10),
		ResourceGroupID: "7d7c2b10-5555-4000-8000-000000000005", MatchStatus: "MATCHED",
		MatchedUserID: fmt.Sprintf("7d7c2b10-6666-4000-8000-%012d", i), StatusDetail: "VAULTED",
		CreatedAt: time.Unix(1_700_000_000, 0).UTC(), UpdatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

// rewritten is benchAccount(i) as a later sync finds it: a changed display name.
func rewritten(i int) *storage.Account {
	a := benchAccount(i)
	a.DisplayName += " (renamed)"
	return a
}

func fillMemstore(n int, rewrite bool) any {
	s := New()
	write := func(rec func(int) *storage.Account, put func(storage.WriteTx, *storage.Account) error) {
		for start := 0; start < n; start += 1000 {
			err := s.Update(ctx, func(tx storage.WriteTx) error {
				for i := start; i < min(start+1000, n); i++ {
					if err := put(tx, rec(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				panic(err)
			}
		}
	}
	write(benchAccount, storage.Accounts.Insert)
	if rewrite {
		write(rewritten, storage.Accounts.Update)
	}
	return s
}

// fillMemdb inserts the same records into a bare go-memdb with the accounts table's indexes.
func fillMemdb(n int, rewrite bool) any {
	ts, _ := storage.Lookup(storage.Accounts.Name())
	t := &memdb.TableSchema{Name: ts.Name, Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
	}}
	for _, ix := range ts.Indexes {
		var idx memdb.Indexer
		if len(ix.Fields) == 1 {
			idx = &memdb.StringFieldIndex{Field: ix.Fields[0], Lowercase: ix.Lowercase}
		} else {
			c := &memdb.CompoundIndex{}
			for _, f := range ix.Fields {
				c.Indexes = append(c.Indexes, &memdb.StringFieldIndex{Field: f, Lowercase: ix.Lowercase})
			}
			idx = c
		}
		t.Indexes[ix.Name] = &memdb.IndexSchema{Name: ix.Name, AllowMissing: true, Indexer: idx}
	}
	db, err := memdb.NewMemDB(&memdb.DBSchema{Tables: map[string]*memdb.TableSchema{ts.Name: t}})
	if err != nil {
		panic(err)
	}
	write := func(rec func(int) *storage.Account) {
		for start := 0; start < n; start += 1000 {
			txn := db.Txn(true)
			for i := start; i < min(start+1000, n); i++ {
				if err := txn.Insert(ts.Name, rec(i)); err != nil {
					panic(err)
				}
			}
			txn.Commit()
		}
	}
	write(benchAccount)
	if rewrite {
		write(rewritten)
	}
	return db
}
