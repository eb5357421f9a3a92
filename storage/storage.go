// Package storage defines the Storage interface the opa engine runs on, the record types it stores
// and the schema (tables and their named indexes) that every implementation serves.
//
// Transactions are managed, bbolt style: View runs a function in a read transaction, Update in a
// write transaction that commits when the function returns nil and leaves no trace when it returns
// an error. Records are reached through typed table handles (Connections.Get, Accounts.List, …) so
// callers never see an implementation's types. Each table names its indexes; an implementation over
// SQL maps a table to a relation and an index to its columns.
//
// Implementations live in sub-packages: storage/memstore (go-memdb, in memory), storage/filestore
// (go-memdb plus a write-ahead log and snapshots on disk) and storage/pgstore (PostgreSQL, shared
// by several processes).
package storage

import (
	"context"

	"github.com/opakit/opa/internal/errclass"
)

// Error classes returned by every implementation. They are the same values as opa.ErrNotFound,
// opa.ErrConflict and opa.ErrCorrupt.
var (
	// ErrNotFound: no record with that id, or no record for that index value.
	ErrNotFound = errclass.NotFound
	// ErrConflict: an insert of an existing id, or a write that breaks a unique index.
	ErrConflict = errclass.Conflict
	// ErrCorrupt: the durable state failed a checksum or could not be decoded.
	ErrCorrupt = errclass.Corrupt
	// ErrUnavailable: the store is closed, or refuses writes after a failed fsync.
	ErrUnavailable = errclass.Unavailable
)

// Storage is a transactional record store. Implementations are safe for concurrent use: any number
// of View and Update calls run alongside one another.
//
// The contract of Update, which every implementation keeps:
//
//   - Serializable: the committed Update calls have the effect of running one at a time, in an
//     order consistent with real time (an Update that starts after another returned sees its
//     writes), and each run of fn reads one consistent state plus its own writes.
//   - fn may run more than once. An implementation may run transactions concurrently and
//     optimistically, and run fn again, in a new transaction, when a concurrent commit changed
//     what an earlier run read (memstore and filestore validate at commit and run fn at most three
//     times, the last time alone; a SQL store retries serialization failures). Only the writes of
//     the run that commits remain, and Update returns that run's result. So fn must do nothing
//     outside tx that is wrong to do twice: no sends on channels, no calls to directories or
//     other services, no appending to a captured slice without resetting it; it may set captured
//     variables, which hold the last run's values when Update returns.
//   - A run of fn that returns an error ends the Update with that error, whatever it read: it is
//     not run again, and none of its writes is visible, ever. (The one exception: when a SQL
//     store's server has already aborted the run's transaction, fn's error came from the store,
//     not from a decision of fn, and the run is retried like any other conflict.)
//   - An Update whose fn writes nothing commits nothing and never conflicts.
type Storage interface {
	// View runs fn in a read-only transaction that sees one consistent snapshot, once.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a write transaction, as the contract above says (fn may run more than
	// once). If the run that commits returns nil its writes are committed (and, for a durable
	// store, on disk) before Update returns; otherwise none of them is visible, ever.
	Update(ctx context.Context, fn func(WriteTx) error) error
	// Close releases the store. Later calls return ErrUnavailable.
	Close() error
}

// ReadTx reads records. Records returned are copies: the caller may change them freely.
// The untyped methods are for implementations; callers use the typed Table handles.
type ReadTx interface {
	// Get returns the record of table with the id, or an ErrNotFound error.
	Get(table, id string) (any, error)
	// List returns the records of table whose index equals args, in the index's order (then id);
	// for an append-only table (TableSchema.AppendOnly), in insertion order. With index "id" and
	// no args it returns every record.
	List(table, index string, args ...string) ([]any, error)
	// Range returns one page of the records of table whose index equals r.Args, in List's order
	// (reversed when r.Descending), starting after the record r.After and holding at most r.Limit
	// records. keep, when not nil, is called on each record the scan reaches, in order, and only
	// the records it returns true for are part of the page; the scan stops as soon as the page is
	// full, so a filter no index serves reads from the cursor only as far as the page needs.
	// keep sees the stored record: it must not change it or keep it past the call.
	//
	// Cost: O(log N + k) for N records in the table, where k is the number of records the scan
	// reaches (the page, plus those keep refuses). Errors: an assertion failure for an unknown
	// table or index or a wrong number of Args; for an append-only table, an ErrNotFound error
	// when r.After names no record of the table.
	Range(table string, r Range, keep func(rec any) bool) ([]any, error)
}

// Range selects one page of one index for ReadTx.Range.
//
// Order: records whose index values are equal (every record of a page is, since Args fixes every
// field of the index) come in id order, as List returns them; for an append-only table
// (TableSchema.AppendOnly), in insertion order. Descending reverses it.
type Range struct {
	// Index is the index to read (Table.Range sets it from its IndexName). "id" without Args
	// reads the whole table; "id" with one arg reads at most the one record with that id.
	Index string
	// Args are the index's values, one for each of its fields (matched as List matches them: a
	// Lowercase index compares lowercased values).
	Args []string
	// After, when not empty, is an exclusive start: the page begins with the first record that
	// comes after the record with this id in the range's order. For an ordinary table After is
	// compared with ids, not looked up, so paging goes on correctly when that record was deleted
	// or changed since the last page; for an append-only table it must name a record of the table
	// (its position in insertion order is the cursor).
	After string
	// Limit is the most records the page holds; 0 or less means no limit. Ask for one more than
	// a page to learn whether another page follows.
	Limit int
	// Descending reads the range from its end backwards.
	Descending bool
}

// Lender is implemented by a ReadTx (and WriteTx) whose stored records never change once
// written, so it can hand them out without a copy: Lend is Get, LendList is List and LendRange is
// Range, minus the copy. Callers use Table.Borrow, Table.BorrowList and Table.BorrowRange, which
// fall back to copies for other stores, and must never change what they borrow.
type Lender interface {
	Lend(table, id string) (any, error)
	LendList(table, index string, args ...string) ([]any, error)
	LendRange(table string, r Range, keep func(rec any) bool) ([]any, error)
}

// WriteTx reads and writes records inside one all-or-nothing transaction.
type WriteTx interface {
	ReadTx
	// Insert adds rec (a pointer to the table's record type). ErrConflict if its id exists or a
	// unique index would hold two records.
	Insert(table string, rec any) error
	// Update replaces the record with rec's id. ErrNotFound if absent; ErrConflict on a unique index.
	// An append-only table refuses it with an assertion failure.
	Update(table string, rec any) error
	// Delete removes the record with id. ErrNotFound if absent. An append-only table refuses it
	// with an assertion failure.
	Delete(table, id string) error
}
