package memstore

import (
	"hash/maphash"
)

// The keys of reads and writes. A key is a 64-bit hash (maphash, seeded per Core) of what a read
// depends on or a write changes:
//
//   - recordKey(table, id): the record with that id (a Get, an insert's or update's existence
//     check, a list by "id" with an id);
//   - key(table, index, values): the records an index holds under values (a List or Range of that
//     index, a unique index's check), values normalized as the index stores them;
//   - tableKey(table): the whole table (a List or Range of every record).
//
// A write of a record changes its recordKey, its tableKey, and the key of every index value of
// the record before and after the write. A transaction conflicts when a commit after its Begin
// wrote a key it read. Two different keys can share a hash; that makes a false conflict (a
// transaction run again), never a missed one.

func (c *Core) key(table, index string, values []string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	_, _ = h.WriteString(table)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(index)
	for _, v := range values {
		_ = h.WriteByte(0)
		_, _ = h.WriteString(v)
	}
	return h.Sum64()
}

func (c *Core) recordKey(table, id string) uint64 { return c.key(table, "id", []string{id}) }

func (c *Core) tableKey(table string) uint64 { return c.key(table, "", nil) }

// listKey is the key of a List or Range of im under args (not yet normalized).
func (c *Core) listKey(im *indexMeta, table string, args []string) uint64 {
	if im.Name == "id" {
		if len(args) == 0 {
			return c.tableKey(table)
		}
		return c.recordKey(table, args[0])
	}
	if im.Lowercase {
		normed := make([]string, len(args))
		for i, a := range args {
			normed[i] = norm(a, true)
		}
		args = normed
	}
	return c.key(table, im.Name, args)
}

// histMax bounds the write keys remembered while transactions are open. A transaction that began
// before the oldest remembered commit conflicts (it is run again).
const histMax = 1 << 16

// conflicts remembers, for each key written since the oldest open transaction could have begun,
// the last commit that wrote it. The Core's lock guards it.
type conflicts struct {
	last  map[uint64]uint64 // key -> version of the last commit that wrote it
	hist  []written         // the entries of last in commit order, for forgetting the oldest
	head  int               // hist[:head] are forgotten
	floor uint64            // commits up to floor are forgotten
}

type written struct{ key, version uint64 }

// valid reports whether w can commit: it began after the oldest remembered commit, and nothing
// committed since its Begin wrote a key it read.
func (f *conflicts) valid(w *WriteTxn) bool {
	if w.base.version < f.floor {
		return false
	}
	for _, k := range w.readKeys {
		if v, ok := f.last[k]; ok && v > w.base.version {
			return false
		}
	}
	return true
}

// record notes that commit version wrote keys.
func (f *conflicts) record(keys []uint64, version uint64) {
	if f.last == nil {
		f.last = map[uint64]uint64{}
	}
	for _, k := range keys {
		f.last[k] = version
		f.hist = append(f.hist, written{k, version})
	}
	for len(f.hist)-f.head > histMax {
		e := f.hist[f.head]
		f.head++
		if f.last[e.key] == e.version {
			delete(f.last, e.key)
		}
		f.floor = e.version
	}
	if f.head > len(f.hist)/2 {
		f.hist = append(f.hist[:0], f.hist[f.head:]...)
		f.head = 0
	}
}

// reset forgets everything: no transaction began before commit version.
func (f *conflicts) reset(version uint64) {
	f.floor = version
	f.head = 0
	if len(f.hist) > 1024 {
		f.last, f.hist = nil, nil // let a burst's tables go
		return
	}
	clear(f.last)
	f.hist = f.hist[:0]
}
