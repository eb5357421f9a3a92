package pgstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/storage/pgstore"
)

// cluster is the PostgreSQL server under test (see package pgtest); nil when the tests skip.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &cluster)) }

var ctx = context.Background()

// open returns a store in namespace ns of the test database, closed when t ends.
func open(t testing.TB, ns string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(ctx, pgtest.Require(t, cluster).DSN, append([]pgstore.Option{pgstore.WithNamespace(ns)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fresh returns a store in a namespace of its own.
func fresh(t testing.TB, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	return open(t, pgtest.Require(t, cluster).Namespace(t), opts...)
}

func pgtestRequire(t testing.TB) *pgtest.Cluster { t.Helper(); return pgtest.Require(t, cluster) }
