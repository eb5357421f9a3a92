package opa

import (
	"sync"
	"testing"
)

func TestKeyLocksExcludeAndForget(t *testing.T) {
	var k keyLocks
	unlock := k.lock("a")
	if _, ok := k.tryLock("a"); ok {
		t.Fatal("tryLock of a held key succeeded")
	}
	other, ok := k.tryLock("b")
	if !ok {
		t.Fatal("tryLock of a free key failed")
	}
	other()
	unlock()
	if n := len(k.m); n != 0 {
		t.Fatalf("%d entries left after every lock was released", n)
	}

	// Many goroutines on one key: the counter is only ever touched by one, and the table empties.
	var wg sync.WaitGroup
	counter, inside := 0, 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				unlock := k.lock("c")
				inside++
				if inside != 1 {
					t.Errorf("%d holders at once", inside)
				}
				counter++
				inside--
				unlock()
			}
		}()
	}
	wg.Wait()
	if counter != 1000 || len(k.m) != 0 {
		t.Fatalf("counter %d, %d entries left", counter, len(k.m))
	}
}
