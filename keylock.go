package opa

import "sync"

// keyLocks hands out one mutex per key (a connection id, a resource id). An entry exists only
// while someone holds or waits for its lock, so the table stays as small as the work in flight:
// an engine that has rotated a million accounts does not keep a million mutexes. The zero value
// is ready to use. Safe for concurrent use.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// lock waits for key's lock and returns the function that releases it.
func (k *keyLocks) lock(key string) (unlock func()) {
	l := k.acquire(key)
	l.mu.Lock()
	return func() { k.release(key, l) }
}

// tryLock takes key's lock if it is free and returns the function that releases it; ok is false
// (and unlock nil) when someone else holds it.
func (k *keyLocks) tryLock(key string) (unlock func(), ok bool) {
	l := k.acquire(key)
	if !l.mu.TryLock() {
		k.drop(key, l)
		return nil, false
	}
	return func() { k.release(key, l) }, true
}

// acquire returns key's entry with one more reference.
func (k *keyLocks) acquire(key string) *keyLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	return l
}

func (k *keyLocks) release(key string, l *keyLock) {
	l.mu.Unlock()
	k.drop(key, l)
}

// drop gives up one reference to key's entry and forgets the entry when it was the last.
func (k *keyLocks) drop(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.m, key)
	}
}
