package opa_test

import (
	"sync"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/revealjwe"
)

// The package's test helpers, shared by every test file. The fixtures of each area (syncEnv,
// rulesEnv, accessFixture) sit beside their tests.

// must stops the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr stops the test unless err is of class.
func wantErr(t testing.TB, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: got %v, want %v", what, err, class)
	}
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// testKeys caches one reveal key per kind: generating RSA keys is slow, and the tests only need
// keys that differ between kinds.
var testKeys = struct {
	sync.Mutex
	m map[string]*revealjwe.PrivateKey
}{m: map[string]*revealjwe.PrivateKey{}}

// testKey returns the cached reveal key of kind.
func testKey(t testing.TB, kind string) *revealjwe.PrivateKey {
	t.Helper()
	testKeys.Lock()
	defer testKeys.Unlock()
	if k, ok := testKeys.m[kind]; ok {
		return k
	}
	k, err := revealjwe.GenerateKey(kind)
	must(t, err)
	testKeys.m[kind] = k
	return k
}

// testGateway is a gateway id for connections created by non-system principals, which must give
// one.
const testGateway = "5a3af768-063f-4a12-a056-8ef24e555555"
