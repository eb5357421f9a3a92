package storagetest_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
	"github.com/opakit/opa/storage/storagetest"
)

// TestMemstoreStateMachine runs the machine against the in-memory store, four times over so the
// suite makes several hundred checks.
func TestMemstoreStateMachine(t *testing.T) {
	for _, name := range []string{"1", "2", "3", "4"} {
		t.Run(name, func(t *testing.T) {
			storagetest.RunStateMachine(t, storagetest.Config{
				Open: func(*rapid.T) storage.Storage { return memstore.New() },
			})
		})
	}
}

// TestMemstoreRange runs the fixed Range cases against the in-memory store.
func TestMemstoreRange(t *testing.T) {
	storagetest.RunRange(t, func(*testing.T) storage.Storage { return memstore.New() })
}

// TestMemstoreConcurrency runs the serializability checks against the in-memory store.
func TestMemstoreConcurrency(t *testing.T) {
	storagetest.RunConcurrency(t, func(*testing.T) storage.Storage { return memstore.New() })
}
