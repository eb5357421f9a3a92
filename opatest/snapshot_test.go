package opatest_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/opatest"
)

// connections returns the domains of the team's ASA connections.
func connections(t *testing.T, srv *opatest.Server) []string {
	t.Helper()
	var out struct {
		List []struct {
			ID     string `json:"id"`
			Domain string `json:"domain"`
		} `json:"list"`
	}
	call(t, srv.Client("automation"), 200, "GET", srv.TeamURL("/integrations/ad_connections"), nil, &out)
	var ds []string
	for _, c := range out.List {
		ds = append(ds, c.Domain)
	}
	return ds
}

func createConnection(t *testing.T, srv *opatest.Server, domain string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	call(t, srv.Client("automation"), 201, "POST", srv.TeamURL("/integrations/ad_connections"), map[string]any{
		"name": domain, "domain": domain, "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555",
		"domain_controllers": []string{"dc1." + domain}, "service_account_username": "svc", "service_account_password": "Hunter2-Hunter2"}, &out)
	return out.ID
}

// TestSnapshotRestore: Restore brings back the store, the clock, the directories (a rotated
// password) and the id source's position as Snapshot saw them, any number of times, into a fresh
// engine; the accessors follow; the snapshot hides the passwords it holds.
func TestSnapshotRestore(t *testing.T) {
	srv := opatest.NewServer(t)
	createConnection(t, srv, "before.example.com")
	acct, pw := revealSvcBackup(t, srv) // checked out, and the password set in the directory
	if err := srv.Advance(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	snap, err := srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{pw, "Svc-Opa-Passw0rd!", "demo-secret-change-me", "before.example.com"} {
		if bytes.Contains(snap, []byte(secret)) {
			t.Fatalf("the snapshot shows %q", secret)
		}
	}
	at := srv.Clock.Now()
	wantConns := connections(t, srv)
	e0 := srv.Engine()

	// After the snapshot: another connection (its id is the next the seed gives), an hour that
	// checks the account in and rotates its password.
	nextID := createConnection(t, srv, "after.example.com")
	if err := srv.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur == pw {
		t.Fatal("the check-in did not rotate")
	}

	for round := range 2 {
		if err := srv.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if srv.Engine() == e0 || srv.Handler.Engine() != srv.Engine() {
			t.Fatal("Restore did not put a fresh engine behind the server")
		}
		if !srv.Clock.Now().Equal(at) {
			t.Fatalf("round %d: clock %v, want %v", round, srv.Clock.Now(), at)
		}
		if got := connections(t, srv); strings.Join(got, ",") != strings.Join(wantConns, ",") {
			t.Fatalf("round %d: connections %v, want %v", round, got, wantConns)
		}
		if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur != pw {
			t.Fatalf("round %d: the directory's password is not the snapshot's", round)
		}
		var out struct {
			List []struct {
				Resource struct {
					ID string `json:"id"`
				} `json:"resource"`
			} `json:"list"`
		}
		call(t, srv.Client("enduser-bot"), 200, "GET", srv.TeamURL("/checked_out_resources"), nil, &out)
		if len(out.List) != 1 {
			t.Fatalf("round %d: checkouts %+v, want svc-backup (%s)", round, out.List, acct)
		}
		if id := createConnection(t, srv, "after.example.com"); id != nextID {
			t.Fatalf("round %d: the next id is %s, want %s (the seeded source's position)", round, id, nextID)
		}
		// The restored engine runs: the checkout expires and rotates as it did.
		if err := srv.Advance(time.Hour); err != nil {
			t.Fatal(err)
		}
		if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur == pw {
			t.Fatalf("round %d: the restored engine did not rotate at check-in", round)
		}
	}
}

// TestRestoreRefusesOtherSnapshots: a snapshot opens only on a server with the same key and
// fixture; damaged bytes and another server's snapshot are ErrInvalid and change nothing.
func TestRestoreRefusesOtherSnapshots(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := opatest.NewServer(t, opatest.WithKey(key))
	createConnection(t, a, "shared.example.com")
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := opatest.NewServer(t, opatest.WithKey(key))
	if err := b.Restore(snap); err != nil {
		t.Fatalf("a server with the same key and fixture: %v", err)
	}
	if got := connections(t, b); len(got) != 2 {
		t.Fatalf("restored connections %v", got)
	}

	other := opatest.NewServer(t)
	damaged := bytes.Clone(snap)
	damaged[len(damaged)-1] ^= 1
	otherFixture := opatest.NewServer(t, opatest.WithKey(key), opatest.WithSeed(5))
	for name, tc := range map[string]struct {
		srv  *opatest.Server
		snap []byte
		want string
	}{
		"another key":     {other, snap, "another key-encryption key"},
		"damaged":         {b, damaged, "damaged"},
		"not a snapshot":  {b, []byte("{}"), "not a snapshot"},
		"another fixture": {otherFixture, snap, "another fixture"},
	} {
		t.Run(name, func(t *testing.T) {
			before := connections(t, tc.srv)
			e := tc.srv.Engine()
			err := tc.srv.Restore(tc.snap)
			if !errors.Is(err, opa.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want ErrInvalid saying %q", err, tc.want)
			}
			if tc.srv.Engine() != e || strings.Join(connections(t, tc.srv), ",") != strings.Join(before, ",") {
				t.Fatal("a refused Restore changed the server")
			}
		})
	}
	if _, err := opatest.Start(opatest.WithKey([]byte("short"))); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("a short key: %v", err)
	}
}

// TestConcurrentResetsAndRestores: resets and restores racing each other (in Go and over HTTP)
// always leave the handler serving the engine the accessors return.
func TestConcurrentResetsAndRestores(t *testing.T) {
	srv := opatest.NewServer(t)
	snap, err := srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				var err error
				switch i % 3 {
				case 0:
					err = srv.Reset()
				case 1:
					err = srv.Restore(snap)
				default:
					var resp *http.Response
					if resp, err = http.Post(srv.URL+"/_fake/reset", "application/json", nil); err == nil {
						resp.Body.Close()
					}
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if srv.Handler.Engine() != srv.Engine() {
		t.Fatal("the handler serves another engine than Engine returns")
	}
	if got := connections(t, srv); len(got) != 1 {
		t.Fatalf("connections %v", got)
	}
}
