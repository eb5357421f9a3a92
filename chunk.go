package opa

import (
	"context"

	"github.com/opakit/opa/storage"
)

// writeChunk is how many records one write transaction of a sync or a cascade touches at most.
const writeChunk = 1000

// applyChunked runs ops in write transactions of at most writeChunk operations each; final, when
// not nil, runs in the last transaction (alone when there are no ops).
func (e *Engine) applyChunked(ctx context.Context, ops []func(storage.WriteTx) error, final func(storage.WriteTx) error) error {
	for start := 0; start < len(ops) || (start == 0 && final != nil); start += writeChunk {
		end := min(start+writeChunk, len(ops))
		last := end == len(ops)
		err := e.store.Update(ctx, func(tx storage.WriteTx) error {
			for _, op := range ops[start:end] {
				if err := op(tx); err != nil {
					return err
				}
			}
			if last && final != nil {
				return final(tx)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if last {
			break
		}
	}
	return nil
}

// lastChunk returns how many of n operations applyChunked runs in its last transaction.
func lastChunk(n int) int {
	if n == 0 {
		return 0
	}
	return (n-1)%writeChunk + 1
}

// deleteChunk returns a step that deletes up to writeChunk records of the table whose index
// equals key, reporting whether more remain.
func deleteChunk[T any](t storage.Table[T], index storage.IndexName[T], key string) func(storage.WriteTx) (bool, error) {
	return func(tx storage.WriteTx) (bool, error) {
		rs, err := t.List(tx, index, key)
		if err != nil {
			return false, err
		}
		n := min(len(rs), writeChunk)
		for _, r := range rs[:n] {
			if err := t.Delete(tx, storage.RecordID(r)); err != nil {
				return false, err
			}
		}
		return len(rs) > n, nil
	}
}
