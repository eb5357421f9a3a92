package opa

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Coordination between engines, decided here:
//
//   - Any number of engines may share one store (several replicas of a service on one pgstore
//     database, or several engines on one memstore or filestore in a process). Everything that
//     must happen once, or one at a time, is decided by a lease: a storage.Lease record (owner,
//     expiry) taken, renewed and given up in write transactions, so the store serializes the
//     holders whatever it is. The leases are: "sync/<connection id>" for the sync runs of one
//     connection (scheduled, run-now and force syncs, and a connection's delete), "rotation/<resource
//     id>" for the rotations of one account, and "tick/<step>" for the Tick steps that scan for work
//     (expired checkouts, due rotations). The scheduler claims a due job by taking its connection's
//     lease in the transaction that checks the job is still due.
//   - A lease lives until its ExpiresAt, by the engine's clock; its holder moves ExpiresAt on every
//     third of the lease's time to live (WithLeaseTTL, default 30 s) while it works. A holder that
//     dies stops renewing, its lease expires, and the next engine that looks for the work takes the
//     lease and does it. Engines sharing a store must share a clock (system clocks kept in sync;
//     one ManualClock in tests).
//   - A holder that loses its lease (the renewal finds another owner, or cannot reach the store
//     until the lease has run out) has the context of its work cancelled, and the transactions that
//     record the work check that the lease is still theirs (fencing), so work that lost its lease
//     records nothing.
//   - Inside one engine, a mutex per lease (keyLocks) comes first, so the goroutines of one engine
//     queue in memory and never poll the store against each other.

// defaultLeaseTTL is how long a lease lives without renewal.
const defaultLeaseTTL = 30 * time.Second

// Lease names.
func syncLeaseKey(connID string) string    { return "sync/" + connID }
func rotationLeaseKey(resID string) string { return "rotation/" + resID }
func tickLeaseKey(step string) string      { return "tick/" + step }

// errLeaseHeld: another holder has the live lease.
var errLeaseHeld = errors.New("the lease is held by another holder")

// errLeaseLost is the cause of a held lease's context when the lease was lost.
var errLeaseLost = errors.New("the lease was lost to another holder")

// WithLeaseTTL sets how long a lease the engine holds lives without renewal (see the engine's
// coordination notes in lease.go): how long the work of an engine that died waits before another
// engine takes it over. The holder renews every ttl/3. Default: 30 s.
func WithLeaseTTL(ttl time.Duration) Option {
	return func(cfg *config) error {
		if ttl <= 0 {
			return invalidf("WithLeaseTTL: the duration must be positive")
		}
		cfg.leaseTTL = ttl
		return nil
	}
}

// leases is an engine's side of the leases: its instance name and the tokens it makes.
type leases struct {
	holder string // this engine's instance, random
	ttl    time.Duration
	n      atomic.Uint64
	locks  keyLocks // the in-process stage
}

func newLeases(ttl time.Duration) (*leases, error) {
	b := make([]byte, 8)
	if _, err := crand.Read(b); err != nil {
		return nil, errors.Wrap(err, "opa.New: naming the engine instance")
	}
	return &leases{holder: hex.EncodeToString(b), ttl: ttl}, nil
}

// token returns a new owner token, unique to one acquisition.
func (ls *leases) token() string { return ls.holder + "/" + strconv.FormatUint(ls.n.Add(1), 10) }

// takeLease makes token the owner of the lease key until now plus the TTL, inside tx, when no
// other live lease holds it (taking it again with the same token renews it). errLeaseHeld when
// another holder's lease is live.
func (e *Engine) takeLease(tx storage.WriteTx, key, token string, now time.Time) error {
	l, err := storage.Leases.Get(tx, key)
	if errors.Is(err, ErrNotFound) {
		return storage.Leases.Insert(tx, &storage.Lease{ID: key, Owner: token, Holder: e.leases.holder,
			AcquiredAt: now, ExpiresAt: now.Add(e.leases.ttl)})
	}
	if err != nil {
		return err
	}
	if l.Owner != token {
		if l.ExpiresAt.After(now) {
			return errLeaseHeld
		}
		l.AcquiredAt = now
	}
	l.Owner, l.Holder, l.ExpiresAt = token, e.leases.holder, now.Add(e.leases.ttl)
	return storage.Leases.Update(tx, l)
}

// checkLease returns errLeaseLost unless token holds the lease key (the fence of a write that
// records leased work).
func checkLease(tx storage.ReadTx, key, token string) error {
	l, err := storage.Leases.Get(tx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if l == nil || l.Owner != token {
		return errors.Wrapf(errLeaseLost, "lease %s", key)
	}
	return nil
}

// giveLease gives up the lease key inside tx if token holds it (a lease another holder has taken
// meanwhile is left alone). DESIGN: the record stays, with no owner and no expiry, rather than
// being deleted: the next take of the key is then an update of an existing row, which
// PostgreSQL's serializable isolation tracks per row, where an insert next to other leases'
// rows conflicts with every transaction that looked for an absent lease on the same index page
// (every concurrent first take of another key). A store keeps one small record per connection
// and account that was ever synced or rotated.
func giveLease(tx storage.WriteTx, key, token string) error {
	l, err := storage.Leases.Get(tx, key)
	if errors.Is(err, ErrNotFound) || err == nil && l.Owner != token {
		return nil
	}
	if err != nil {
		return err
	}
	l.Owner, l.Holder, l.ExpiresAt = "", "", time.Time{}
	return storage.Leases.Update(tx, l)
}

// leaseLive reports whether a live lease holds key at now (whoever holds it).
func leaseLive(tx storage.ReadTx, key string, now time.Time) (bool, error) {
	l, err := storage.Leases.Get(tx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return l.ExpiresAt.After(now), nil
}

// heldLease is a lease this engine holds: it renews it until release, and cancels ctx when it
// loses it. Its methods are safe for concurrent use.
type heldLease struct {
	e          *Engine
	key, token string
	ctx        context.Context // the work's context: cancelled when the lease is lost or released
	cancel     context.CancelCauseFunc
	unlock     func() // the in-process stage
	stop       chan struct{}
	done       chan struct{}
	stopped    atomic.Bool
	given      atomic.Bool // a transaction of the holder's gave it up (giveLease)
	released   atomic.Bool
}

type leaseCtxKey struct{}

// leaseOf returns the lease ctx's work holds, or nil.
func leaseOf(ctx context.Context) *heldLease {
	l, _ := ctx.Value(leaseCtxKey{}).(*heldLease)
	return l
}

// fence returns errLeaseLost unless l (which may be nil: nothing to fence) still holds its lease.
func (l *heldLease) fence(tx storage.ReadTx) error {
	if l == nil {
		return nil
	}
	return checkLease(tx, l.key, l.token)
}

// tryLease takes the lease key for work under ctx, or returns errLeaseHeld at once when another
// holder (in this engine or another) has it. check, when not nil, runs in the transaction that
// takes the lease, which commits only if check returns nil (the scheduler's claim of a due job).
func (e *Engine) tryLease(ctx context.Context, key string, check func(storage.WriteTx) error) (*heldLease, error) {
	unlock, ok := e.leases.locks.tryLock(key)
	if !ok {
		return nil, errLeaseHeld
	}
	token := e.leases.token()
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		return e.takeLease(tx, key, token, e.now())
	})
	if err != nil {
		unlock()
		return nil, err
	}
	return e.hold(ctx, key, token, unlock), nil
}

// waitLocal waits for the in-process stage of the lease key and returns the function that
// releases it, and a token to take the store's lease with (takeLease, inside the caller's own
// transaction, retried after pollLease while it returns errLeaseHeld; then hold).
func (e *Engine) waitLocal(key string) (unlock func(), token string) {
	return e.leases.locks.lock(key), e.leases.token()
}

// pollLease sleeps before another try at a lease another holder has: a jittered backoff from 2
// ms doubling up to 100 ms. It returns ctx's error when ctx ends first.
func pollLease(ctx context.Context, attempt int) error {
	d := 2 * time.Millisecond << min(attempt, 6)
	d = min(d, 100*time.Millisecond)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// hold starts renewing the lease key, which token holds as of now, and returns it.
func (e *Engine) hold(ctx context.Context, key, token string, unlock func()) *heldLease {
	l := &heldLease{e: e, key: key, token: token, unlock: unlock, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(context.WithValue(ctx, leaseCtxKey{}, l))
	go l.renew(e.now().Add(e.leases.ttl))
	return l
}

// renew moves the lease's expiry on every third of its TTL until stopped, and cancels the work's
// context when the lease turns out lost: another owner holds it, or the store could not be reached
// before it expired.
func (l *heldLease) renew(expires time.Time) {
	defer close(l.done)
	e := l.e
	t := time.NewTicker(max(e.leases.ttl/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		now := e.now()
		err := e.store.Update(context.WithoutCancel(l.ctx), func(tx storage.WriteTx) error {
			if err := checkLease(tx, l.key, l.token); err != nil {
				return err
			}
			return e.takeLease(tx, l.key, l.token, now)
		})
		switch {
		case err == nil:
			expires = now.Add(e.leases.ttl)
		case errors.Is(err, errLeaseLost) || !e.now().Before(expires):
			e.log.Warn("lost a lease", "lease", l.key)
			l.cancel(errLeaseLost)
			return
		}
	}
}

// stopRenewal ends the renewal without giving the lease up, before a transaction of the holder's
// that fences on the lease and gives it up (giveLease; then given is set). Later calls do nothing.
func (l *heldLease) stopRenewal() {
	if !l.stopped.CompareAndSwap(false, true) {
		return
	}
	close(l.stop)
	<-l.done
}

// release gives the lease up: it stops renewing it, cancels the work's context, gives the lease
// up in the store (giveLease) if it is still this holder's (unless a transaction of the holder's did: given),
// and releases the in-process stage. Errors of the store are logged: a lease that could not be
// deleted expires. Calling it again does nothing.
func (l *heldLease) release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	l.stopRenewal()
	l.cancel(context.Canceled)
	defer l.unlock()
	if l.given.Load() {
		return
	}
	err := l.e.store.Update(context.WithoutCancel(l.ctx), func(tx storage.WriteTx) error {
		return giveLease(tx, l.key, l.token)
	})
	if err != nil {
		l.e.log.Warn("giving up a lease failed; it expires", "lease", l.key, "error_class", ErrorClass(err))
	}
}

// leasedStep is a Tick step that runs in one engine at a time: scan finds the step's work with
// reads only, and when there is none the step ends without a write; otherwise the engine takes
// the step's lease (skipping the step when another engine holds it: that engine is doing the
// work), scans again under the lease, and runs work on what it found.
func leasedStep[T any](ctx context.Context, e *Engine, step string, scan func(context.Context) ([]T, error), work func(context.Context, []T) error) error {
	found, err := scan(ctx)
	if err != nil || len(found) == 0 {
		return err
	}
	l, err := e.tryLease(ctx, tickLeaseKey(step), nil)
	if errors.Is(err, errLeaseHeld) {
		return nil
	}
	if err != nil {
		return err
	}
	defer l.release()
	if found, err = scan(l.ctx); err != nil || len(found) == 0 {
		return err
	}
	return work(l.ctx, found)
}

// trySyncLease takes the sync lease of the connection for a run, a force sync or a delete: an
// ErrConflict error while a sync of the connection holds it, here or in another engine.
func (e *Engine) trySyncLease(ctx context.Context, connID string) (*heldLease, error) {
	l, err := e.tryLease(ctx, syncLeaseKey(connID), nil)
	if errors.Is(err, errLeaseHeld) {
		return nil, conflictf("a sync of AD connection %q is already running; retry when it has finished", connID)
	}
	return l, err
}
