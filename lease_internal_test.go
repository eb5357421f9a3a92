package opa

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// leaseEngines returns n engines on one memstore sharing a manual clock and a key-encryption key.
func leaseEngines(t *testing.T, n int, opts ...Option) ([]*Engine, *ManualClock) {
	t.Helper()
	store := memstore.New()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	key := bytes.Repeat([]byte{7}, 32)
	var es []*Engine
	for range n {
		e, err := New(store, append([]Option{WithClock(clock), WithKey(key)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	return es, clock
}

func leaseRecord(t *testing.T, e *Engine, key string) *storage.Lease {
	t.Helper()
	var l *storage.Lease
	err := e.store.View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		l, err = storage.Leases.Get(tx, key)
		if errors.Is(err, ErrNotFound) {
			l, err = nil, nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLeaseIsExclusiveUntilItExpires: a lease one engine holds is refused to another (and to a
// second goroutine of the same engine) until it expires by the shared clock; then the other takes
// it, the first holder's fence fails, and its release leaves the new holder's lease alone.
func TestLeaseIsExclusiveUntilItExpires(t *testing.T) {
	ctx := context.Background()
	es, clock := leaseEngines(t, 2, WithLeaseTTL(time.Hour)) // renewal every 20 minutes: never, here
	a, b := es[0], es[1]
	la, err := a.tryLease(ctx, "sync/c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.tryLease(ctx, "sync/c1", nil); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("a second holder in the same engine: %v", err)
	}
	if _, err := b.tryLease(ctx, "sync/c1", nil); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("another engine while the lease is live: %v", err)
	}
	if rec := leaseRecord(t, a, "sync/c1"); rec == nil || rec.Holder != a.leases.holder || !rec.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("lease record %+v", rec)
	}
	clock.Advance(time.Hour) // expired (ExpiresAt is not after now)
	lb, err := b.tryLease(ctx, "sync/c1", nil)
	if err != nil {
		t.Fatalf("taking an expired lease: %v", err)
	}
	err = a.store.View(ctx, func(tx storage.ReadTx) error { return la.fence(tx) })
	if !errors.Is(err, errLeaseLost) {
		t.Fatalf("the first holder's fence after losing the lease: %v", err)
	}
	la.release()
	if rec := leaseRecord(t, a, "sync/c1"); rec == nil || rec.Owner != lb.token {
		t.Fatalf("the old holder's release touched the new holder's lease: %+v", rec)
	}
	lb.release()
	if rec := leaseRecord(t, a, "sync/c1"); rec == nil || rec.Owner != "" || !rec.ExpiresAt.IsZero() {
		t.Fatalf("released lease still held: %+v", rec)
	}
	if _, err := a.tryLease(ctx, "sync/c1", func(storage.WriteTx) error { return errNotDue }); !errors.Is(err, errNotDue) {
		t.Fatalf("a claim whose check fails: %v", err)
	}
	if rec := leaseRecord(t, a, "sync/c1"); rec == nil || rec.Owner != "" {
		t.Fatalf("a failed claim took the lease: %+v", rec)
	}
}

// TestLeaseRenewalKeepsItAndLossCancelsTheWork: a holder renews its lease while it works, so it
// outlives its TTL; when the clock jumps past the lease and another engine takes it, the first
// holder's next renewal finds it lost and cancels the work's context with errLeaseLost.
func TestLeaseRenewalKeepsItAndLossCancelsTheWork(t *testing.T) {
	ctx := context.Background()
	es, clock := leaseEngines(t, 2, WithLeaseTTL(30*time.Millisecond))
	a, b := es[0], es[1]
	la, err := a.tryLease(ctx, "rotation/r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer la.release()
	first := leaseRecord(t, a, "rotation/r1").ExpiresAt
	for deadline := time.Now().Add(10 * time.Second); ; {
		clock.Advance(time.Millisecond) // the renewal sets a later expiry as the clock moves
		if leaseRecord(t, a, "rotation/r1").ExpiresAt.After(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease was never renewed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(time.Hour)
	lb, err := b.tryLease(ctx, "rotation/r1", nil)
	if err != nil {
		t.Fatalf("taking the lease after the clock jumped past it: %v", err)
	}
	defer lb.release()
	select {
	case <-la.ctx.Done():
		if !errors.Is(context.Cause(la.ctx), errLeaseLost) {
			t.Fatalf("cause %v", context.Cause(la.ctx))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the holder that lost its lease was not told")
	}
}

// TestVaultKeyIsMadeOncePerStore: engines starting at once on one store agree on one vault key,
// and an engine made later loads it.
func TestVaultKeyIsMadeOncePerStore(t *testing.T) {
	ctx := context.Background()
	es, _ := leaseEngines(t, 8)
	jwks := make([][]byte, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if jwks[i], err = e.VaultJWKS(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	later, err := New(es[0].store, WithKey(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	last, err := later.VaultJWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jwks {
		if !bytes.Equal(j, last) {
			t.Fatalf("engine %d serves another vault key:\n%s\n%s", i, j, last)
		}
	}
	other, err := New(es[0].store, WithKey(bytes.Repeat([]byte{8}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.VaultJWKS(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an engine with another key-encryption key: %v", err)
	}
}
