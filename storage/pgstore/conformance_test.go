package pgstore_test

import (
	"testing"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/storagetest"
)

// TestRange runs the storage contract's fixed Range cases against the PostgreSQL store, each in
// a namespace of its own.
func TestRange(t *testing.T) {
	c := pgtestRequire(t)
	storagetest.RunRange(t, func(t *testing.T) storage.Storage { return open(t, c.Namespace(t)) })
}

// TestConcurrency runs the contract's serializability checks (no lost update, no phantom through
// List or Range, no write skew, append-only id conflicts) against the PostgreSQL store.
func TestConcurrency(t *testing.T) {
	c := pgtestRequire(t)
	storagetest.RunConcurrency(t, func(t *testing.T) storage.Storage { return open(t, c.Namespace(t)) })
}
