package memstore

import (
	"fmt"
	"testing"

	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/storage"
)

// BenchmarkAuditAppend measures one write transaction inserting one audit event into a log that
// already holds 1k or 100k events; "memdb" does the same through a go-memdb table with the same
// indexes (team, resource), which is what the audit trail was before it became append-only. Run:
//
//	go test -run '^$' -bench AuditAppend -benchtime 20000x -count 3 ./storage/memstore/
func BenchmarkAuditAppend(b *testing.B) {
	for _, size := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("log/%dk", size/1000), func(b *testing.B) {
			s := New()
			fill(b, s, size, func(tx storage.WriteTx, ev *storage.AuditEvent) error { return storage.AuditEvents.Insert(tx, ev) })
			i := 0
			for b.Loop() {
				i++
				if err := s.Update(ctx, func(tx storage.WriteTx) error {
					return storage.AuditEvents.Insert(tx, event(fmt.Sprint("new", i), "t", "r"))
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("memdb/%dk", size/1000), func(b *testing.B) {
			// A go-memdb table with the old audit table's indexes, written as memstore wrote it:
			// a deep copy, Insert, Commit and a Snapshot per transaction.
			db, err := memdb.NewMemDB(&memdb.DBSchema{Tables: map[string]*memdb.TableSchema{"audit": {Name: "audit",
				Indexes: map[string]*memdb.IndexSchema{
					"id":       {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
					"team":     {Name: "team", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "TeamID"}},
					"resource": {Name: "resource", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "ResourceID"}},
				}}}})
			if err != nil {
				b.Fatal(err)
			}
			insert := func(evs ...*storage.AuditEvent) {
				txn := db.Txn(true)
				for _, ev := range evs {
					if err := txn.Insert("audit", deepCopy(ev)); err != nil {
						b.Fatal(err)
					}
				}
				txn.Commit()
				_ = db.Snapshot()
			}
			for lo := 0; lo < size; lo += 1000 {
				var evs []*storage.AuditEvent
				for i := lo; i < min(lo+1000, size); i++ {
					evs = append(evs, event(fmt.Sprintf("e%07d", i), "t", "r"))
				}
				insert(evs...)
			}
			i := 0
			for b.Loop() {
				i++
				insert(event(fmt.Sprint("new", i), "t", "r"))
			}
		})
	}
}

func fill(b *testing.B, s *Store, n int, insert func(storage.WriteTx, *storage.AuditEvent) error) {
	for lo := 0; lo < n; lo += 1000 {
		if err := s.Update(ctx, func(tx storage.WriteTx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				if err := insert(tx, event(fmt.Sprintf("e%07d", i), "t", "r")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
