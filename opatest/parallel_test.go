package opatest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opakit/opa/opatest"
)

// TestParallelServersAreIsolated: servers of parallel tests share nothing: each can create the
// same connection, move its own clock, inject its own faults, reveal (and so rotate) the same
// account and reset, and sees only its own requests, time and directory.
func TestParallelServersAreIsolated(t *testing.T) {
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := opatest.NewServer(t)
			start := srv.Clock.Now()
			createConnection(t, srv, "parallel.example.com") // a conflict if another server's store were shared
			if got := connections(t, srv); len(got) != 2 {
				t.Fatalf("connections %v", got)
			}
			srv.Fault(opatest.Fault{Path: "/v1/teams/demo/current_user", Status: 500 + i})
			if code, _ := status(t, srv, "GET", srv.TeamURL("/current_user")); code != 500+i {
				t.Fatalf("own fault: %d", code)
			}
			if err := srv.Advance(time.Duration(i) * time.Hour); err != nil {
				t.Fatal(err)
			}
			_, pw := revealSvcBackup(t, srv)
			if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur != pw {
				t.Fatal("another server rotated this server's account")
			}
			if got := srv.Clock.Now().Sub(start); got != time.Duration(i)*time.Hour {
				t.Fatalf("the clock moved by %v, want %dh", got, i)
			}
			// connections (POST, GET), current_user, and the reveal's three requests.
			if n := len(srv.Requests()); n != 6 {
				t.Fatalf("%d requests recorded, want this server's 6: %v", n, srv.Requests())
			}
			if err := srv.Reset(); err != nil {
				t.Fatal(err)
			}
			if got := connections(t, srv); len(got) != 1 {
				t.Fatalf("after reset: connections %v", got)
			}
		})
	}
}
