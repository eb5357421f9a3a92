package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

// tickClock returns a strictly later time on every call, so that timestamps order events.
type tickClock struct {
	base time.Time
	n    atomic.Int64
}

func (c *tickClock) Now() time.Time { return c.base.Add(time.Duration(c.n.Add(1)) * time.Microsecond) }

const (
	loadClients  = 32
	loadRequests = 40 // per client
	loadUsers    = 4  // end users sharing the checkouts
)

// loadFixture is the demo fixture with loadUsers more end users (service users in "engineers").
func loadFixture(t *testing.T) []byte {
	t.Helper()
	return demoWith(t, func(doc map[string]any) {
		demo := doc["teams"].([]any)[0].(map[string]any)
		for i := range loadUsers {
			demo["users"] = append(demo["users"].([]any), map[string]any{"username": fmt.Sprintf("eu%d", i), "service_user": true,
				"groups": []any{"engineers"}, "service_keys": []any{map[string]any{
					"key_id": fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i), "key_secret": fmt.Sprintf("eu%d-secret", i)}}})
		}
	})
}

func TestConcurrentLoad(t *testing.T) {
	for _, kind := range []string{"memstore", "filestore"} {
		t.Run(kind, func(t *testing.T) { runLoad(t, kind) })
	}
}

// runLoad drives loadClients goroutines, loadRequests requests each, through the handler: end
// users reveal shared accounts (checking them out) and check them in (rotating them), admins edit
// their own rules, force syncs and list. Then it checks: no two overlapping checkouts of one
// account, one successful CHECKIN rotation per successful check-in, every rule holds its client's
// last acknowledged name, no 5xx, no goroutine left behind, heap back near its baseline.
func runLoad(t *testing.T, kind string) {
	ctx := context.Background()
	fx, err := fixture.Parse(loadFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	goroutines0 := runtime.NumGoroutine()
	opts := fixture.Options{Clock: &tickClock{base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	var fs *filestore.Store
	if kind == "filestore" {
		fs, err = filestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		opts.Store = fs
	}
	e, loaded, err := fixture.Build(ctx, fx, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(e)
	serve := func(tok, method, path string, body any) (int, []byte) {
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		req := httptest.NewRequest(method, "http://opa.test"+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	exchange := func(id, secret string) string {
		req := httptest.NewRequest("POST", "http://opa.test/v1/teams/demo/service_token",
			strings.NewReader(fmt.Sprintf(`{"key_id":%q,"key_secret":%q}`, id, secret)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out struct {
			BearerToken string `json:"bearer_token"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("token: %d %s", rec.Code, rec.Body.Bytes())
		}
		return out.BearerToken
	}
	admin := exchange(roleKeys["all"][0], roleKeys["all"][1])
	users := make([]string, loadUsers)
	for i := range users {
		users[i] = exchange(fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i), fmt.Sprintf("eu%d-secret", i))
	}
	lt := loaded.Team("demo")
	conn, rg, svcPrj := lt.Connections["corp.example.com"], lt.ResourceGroups["infra"], lt.Projects["infra/service-accounts"]
	ra := "/v1/teams/demo/resource_assignment/active_directory/" + conn
	// The shared accounts and their reveal access methods (the same for every end user).
	var accts struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	_, b := serve(users[0], "GET", "/v1/teams/demo/active_directory/"+conn+"/accounts", nil)
	_ = json.Unmarshal(b, &accts)
	type target struct{ id, path string }
	var shared []target
	uam := map[string]map[string]any{}
	for _, a := range accts.List {
		p := "/v1/teams/demo/active_directory/" + conn + "/accounts/" + a.Account.ID
		var uams struct {
			List []map[string]any `json:"list"`
		}
		if code, b := serve(users[0], "GET", p+"/user_access_methods?privilege_type=reveal_password", nil); code == 200 {
			_ = json.Unmarshal(b, &uams)
		}
		for _, m := range uams.List {
			if m["user_access_type"] == "reveal_password" && strings.Contains(fmt.Sprint(m), "checkout") || len(uams.List) > 0 {
				shared = append(shared, target{a.Account.ID, p})
				uam[a.Account.ID] = uams.List[0]
				break
			}
		}
	}
	if len(shared) == 0 {
		t.Fatal("no revealable account")
	}
	priv, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := priv.PublicJWK()
	// One rule per rule-editing client, created up front.
	ruleOf := map[int]string{}
	for c := 0; c < loadClients; c += 4 {
		code, b := serve(admin, "POST", ra+"/rules", map[string]any{"name": fmt.Sprintf("load-%d-0", c), "rule_type": "SHARED",
			"organizational_units": []string{"OU=Users,DC=corp,DC=example,DC=com"}, "resource_group": map[string]string{"id": rg},
			"project": map[string]string{"id": svcPrj}})
		if code != 201 {
			t.Fatalf("create rule: %d %s", code, b)
		}
		var r struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(b, &r)
		ruleOf[c] = r.ID
	}

	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	var (
		mu        sync.Mutex
		statuses  = map[string]map[int]int{}
		checkins  int
		lastName  = map[string]string{}
		serverErr []string
	)
	record := func(op string, code int, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if statuses[op] == nil {
			statuses[op] = map[int]int{}
		}
		statuses[op][code]++
		if code >= 500 && code != 503 && code != 504 {
			serverErr = append(serverErr, fmt.Sprintf("%s: %d %s", op, code, body))
		}
	}
	var wg sync.WaitGroup
	for c := range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			user := users[c%loadUsers]
			for n := 1; n <= loadRequests; n++ {
				switch op := rng.IntN(10); {
				case op < 4: // reveal with checkout
					tg := shared[rng.IntN(len(shared))]
					code, b := serve(user, "POST", tg.path+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": uam[tg.id]})
					record("reveal", code, b)
				case op < 6: // check-in
					tg := shared[rng.IntN(len(shared))]
					code, b := serve(user, "POST", "/v1/teams/demo/checkin_resource", map[string]string{"resource_id": tg.id, "resource_type": "active_directory_account_password_login"})
					record("checkin", code, b)
					if code == 204 {
						mu.Lock()
						checkins++
						mu.Unlock()
					}
				case op < 8 && ruleOf[c-c%4] != "" && c%4 == 0: // rule edit of the client's own rule
					name := fmt.Sprintf("load-%d-%d", c, n)
					code, b := serve(admin, "PUT", ra+"/rules/"+ruleOf[c], map[string]any{"name": name, "rule_type": "SHARED",
						"organizational_units": []string{"OU=Users,DC=corp,DC=example,DC=com"}, "resource_group": map[string]string{"id": rg},
						"project": map[string]string{"id": svcPrj}})
					record("rule edit", code, b)
					if code == 204 {
						mu.Lock()
						lastName[ruleOf[c]] = name
						mu.Unlock()
					}
				case op < 9: // sync
					code, b := serve(admin, "PUT", ra+"/force_sync", nil)
					record("force sync", code, b)
				default: // lists
					code, b := serve(user, "GET", "/v1/teams/demo/checked_out_resources", nil)
					record("list checked out", code, b)
					code, b = serve(admin, "GET", ra+"/accounts", nil)
					record("list accounts", code, b)
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range serverErr {
		t.Error(s)
	}

	// Invariants, read from the store.
	var checkouts []*storage.Checkout
	var rules []*storage.Rule
	var events []*storage.AuditEvent
	_ = e.Store().View(ctx, func(tx storage.ReadTx) error {
		checkouts, _ = storage.Checkouts.All(tx)
		rules, _ = storage.Rules.All(tx)
		events, _ = storage.AuditEvents.All(tx)
		return nil
	})
	nCheckouts := len(checkouts)
	byRes := map[string][]*storage.Checkout{}
	for _, co := range checkouts {
		byRes[co.ResourceID] = append(byRes[co.ResourceID], co)
	}
	overlaps := 0
	for res, cos := range byRes {
		sort.Slice(cos, func(i, j int) bool { return cos[i].CheckoutAt.Before(cos[j].CheckoutAt) })
		active := 0
		for i, co := range cos {
			if co.Status == "checked_out" {
				active++
			}
			if i == 0 {
				continue
			}
			prev := cos[i-1]
			end := prev.CheckinAt
			if end.IsZero() {
				end = prev.ExpiresAt
			}
			if co.CheckoutAt.Before(end) {
				overlaps++
				t.Errorf("account %s: checkout %s by %s at %s overlaps %s by %s (%s..%s)", res, co.ID, co.UserID, co.CheckoutAt, prev.ID, prev.UserID, prev.CheckoutAt, end)
			}
		}
		if active > 1 {
			t.Errorf("account %s has %d active checkouts", res, active)
		}
	}
	rotations := 0
	for _, ev := range events {
		if ev.Action == opa.AuditRotate && ev.Outcome == "success" && strings.Contains(ev.Detail, "CHECKIN") {
			rotations++
		}
	}
	if rotations != checkins {
		t.Errorf("%d successful CHECKIN rotations for %d successful check-ins", rotations, checkins)
	}
	names := map[string]string{}
	for _, r := range rules {
		names[r.ID] = r.Name
	}
	lost := 0
	for id, want := range lastName {
		if names[id] != want {
			lost++
			t.Errorf("rule %s: name %q, want the last acknowledged %q", id, names[id], want)
		}
	}

	// Heap and goroutines after the load.
	if fs != nil {
		if err := fs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	e, h, checkouts, rules, events = nil, nil, nil, nil, nil
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	// The engine is still reachable from m0's point of view (the heap then held it); compare
	// generously: no timing, only a bound.
	if m1.HeapAlloc > 2*m0.HeapAlloc+16<<20 {
		t.Errorf("heap after load %d B, baseline %d B", m1.HeapAlloc, m0.HeapAlloc)
	}
	g := runtime.NumGoroutine()
	for i := 0; i < 100 && g > goroutines0; i++ {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // settling, not a threshold
		g = runtime.NumGoroutine()
	}
	if g > goroutines0 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the load, %d before:\n%s", g, goroutines0, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("%s: %d clients x %d requests; statuses %v; %d checkout records on %d of %d accounts, %d overlaps; %d check-ins, %d CHECKIN rotations; %d rules edited, %d lost updates; heap %d KiB -> %d KiB after GC; goroutines %d -> %d",
		kind, loadClients, loadRequests, statuses, nCheckouts, len(byRes), len(shared), overlaps, checkins, rotations, len(lastName), lost, m0.HeapAlloc>>10, m1.HeapAlloc>>10, goroutines0, g)
}
