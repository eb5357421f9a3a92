package opatest_test

import (
	"runtime"
	"testing"

	"github.com/opakit/opa/opatest"
)

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC() // the first collection runs the finalizers that free more
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHundredServersDoNotGrowTheHeap: a hundred servers started, used (a request, a snapshot, a
// reveal that checks out and rotates, a restore, a reset) and closed one after another leave the
// heap where ten did. A running server holds about 250 KiB, so a leak of every server would grow
// the heap by over 20 MiB; the bound, 4 MiB, is far above the noise (tens of KiB).
func TestHundredServersDoNotGrowTheHeap(t *testing.T) {
	cycle := func() {
		srv, err := opatest.Start()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Do("GET", srv.TeamURL("/connections/active_directory"), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		snap, err := srv.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		revealSvcBackup(t, srv) // a checkout and a rotation
		if err := srv.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if err := srv.Reset(); err != nil {
			t.Fatal(err)
		}
		srv.Close()
	}
	for range 10 {
		cycle()
	}
	base := heapAfterGC()
	var live uint64
	for i := range 90 {
		cycle()
		if i == 0 {
			srv, err := opatest.Start()
			if err != nil {
				t.Fatal(err)
			}
			live = heapAfterGC() - base
			srv.Close()
		}
	}
	grown := int64(heapAfterGC()) - int64(base)
	t.Logf("heap: %d KiB after 10 servers, %+d KiB after 90 more; one running server holds about %d KiB", base>>10, grown>>10, live>>10)
	if grown > 4<<20 {
		t.Fatalf("the heap grew by %d KiB over 90 servers started and closed", grown>>10)
	}
}
