package opatest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa/opatest"
)

// fakeTB is a testing.TB whose Fatal and Fatalf record the message and end the goroutine, so a
// test can check that a helper fails its test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatal(args ...any) { f.fail(fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }

func (f *fakeTB) fail(msg string) {
	f.mu.Lock()
	f.failed = append(f.failed, msg)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs fn in a goroutine of its own with tb and returns the message it failed with, or "".
func failure(tb *fakeTB, fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.failed) == 0 {
		return ""
	}
	return tb.failed[len(tb.failed)-1]
}

func status(t *testing.T, srv *opatest.Server, method, url string) (int, http.Header) {
	t.Helper()
	resp, err := srv.Do(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestFaultAndItsRemoval: a fault answers the requests it matches, a fixed number of times or
// until removed; a 429's Retry-At follows the fake clock; a fault's own body is sent as given.
func TestFaultAndItsRemoval(t *testing.T) {
	srv := opatest.NewServer(t)
	list := srv.TeamURL("/connections/active_directory")
	path := strings.TrimPrefix(list, srv.URL)

	remove := srv.Fault(opatest.Fault{Method: "GET", Path: path, Status: 429, RetryAfter: 30 * time.Second, Times: 2})
	for range 2 {
		code, h := status(t, srv, "GET", list)
		want := strconv.FormatInt(srv.Clock.Now().Add(30*time.Second).Unix(), 10)
		if code != 429 || h.Get("X-RateLimit-Retry-At") != want {
			t.Fatalf("got %d Retry-At %q, want 429 %s", code, h.Get("X-RateLimit-Retry-At"), want)
		}
	}
	if code, _ := status(t, srv, "GET", list); code != 200 {
		t.Fatalf("after two hits: %d", code)
	}
	remove() // used up already: nothing happens
	remove()

	remove = srv.Fault(opatest.Fault{Path: "/v1/*", Status: 503, Body: map[string]string{"message": "maintenance"}})
	resp, err := srv.Do("GET", list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body["message"] != "maintenance" {
		t.Fatalf("prefix fault: %d %v", resp.StatusCode, body)
	}
	remove()
	if code, _ := status(t, srv, "GET", list); code != 200 {
		t.Fatalf("after remove: %d", code)
	}

	// An injected 401 reaches the caller: it is not mistaken for a token a reset dropped.
	srv.Fault(opatest.Fault{Path: path, Status: 401, Times: 1})
	if code, _ := status(t, srv, "GET", list); code != 401 {
		t.Fatalf("injected 401: %d", code)
	}

	// A fault the HTTP control would refuse fails the test (or panics without one).
	tb := &fakeTB{TB: t}
	bad := opatest.NewServer(tb)
	msg := failure(tb, func() { bad.Fault(opatest.Fault{Path: "no-slash", Status: 500}) })
	if !strings.Contains(msg, "path must start with /") {
		t.Fatalf("bad fault: %q", msg)
	}
	plain, err := opatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "give a status, a latency_ms, or both") {
				t.Fatalf("Start server's bad fault: recovered %v", r)
			}
		}()
		plain.Fault(opatest.Fault{Path: "/v1/*"})
	}()
}

// TestRequestsAndAssertRequested: the log holds typed, redacted records of the API requests (not
// the controls'), and AssertRequested finds one by method and ServeMux pattern or fails the test
// listing what was recorded.
func TestRequestsAndAssertRequested(t *testing.T) {
	srv := opatest.NewServer(t)
	call(t, srv.Client("automation"), 201, "POST", srv.TeamURL("/integrations/ad_connections"), map[string]any{
		"name": "lab", "domain": "lab.example.com", "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555",
		"domain_controllers": []string{"dc1.lab.example.com"}, "service_account_username": "svc", "service_account_password": "Hunter2-Hunter2"}, nil)
	status(t, srv, "GET", srv.TeamURL("/connections/active_directory?count=5"))
	status(t, srv, "GET", srv.URL+"/_fake/clock")

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %v, want the two API calls", reqs)
	}
	r := srv.AssertRequested(t, "POST", "/v1/teams/{team}/integrations/ad_connections")
	raw, _ := json.Marshal(r)
	if r.Status != 201 || strings.Contains(string(raw), "Hunter2-Hunter2") || !strings.Contains(string(r.Body), "REDACTED") || r.Headers["Authorization"] != nil {
		t.Fatalf("recorded %s", raw)
	}
	if g := srv.AssertRequested(t, "", "/v1/teams/demo/connections/"); g.Method != "GET" || g.Query != "count=5" {
		t.Fatalf("subtree match: %s", g)
	}
	srv.AssertRequested(t, "GET", "/v1/teams/{team}/connections/{kind}")

	tb := &fakeTB{TB: t}
	msg := failure(tb, func() { srv.AssertRequested(tb, "DELETE", "/v1/teams/{team}/integrations/ad_connections/{id}") })
	if !strings.Contains(msg, "no request DELETE") || !strings.Contains(msg, "POST /v1/teams/demo/integrations/ad_connections -> 201") {
		t.Fatalf("failure message: %q", msg)
	}
	if msg := failure(tb, func() { srv.AssertRequested(tb, "GET", "/v1/{bad") }); !strings.Contains(msg, "AssertRequested") {
		t.Fatalf("bad pattern: %q", msg)
	}
	srv.ClearRequests()
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests after ClearRequests", n)
	}
}
