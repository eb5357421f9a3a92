package httpapi_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestControlsFaults(t *testing.T) {
	e := newEnv(t)
	list := e.srv.TeamURL("/connections/active_directory")
	path := strings.TrimPrefix(list, e.srv.URL)
	// A 429 on one route, twice.
	r := e.must(201, "", "POST", "/_fake/faults", map[string]any{"method": "GET", "path": path, "status": 429, "retry_after_seconds": 30, "times": 2})
	for i := 0; i < 2; i++ {
		r = e.must(429, "all", "GET", list, nil)
		at, err := strconv.ParseInt(r.header.Get("X-RateLimit-Retry-At"), 10, 64)
		if err != nil || at != e.srv.Clock.Now().Add(30*time.Second).Unix() {
			t.Fatalf("X-RateLimit-Retry-At %q", r.header.Get("X-RateLimit-Retry-At"))
		}
		if !strings.Contains(string(r.body), "too_many_requests") {
			t.Fatalf("body %s", r.body)
		}
	}
	e.must(200, "all", "GET", list, nil) // used up
	// A prefix fault with a status, then removed by id.
	var f struct {
		ID string `json:"id"`
	}
	e.must(201, "", "POST", "/_fake/faults", map[string]any{"path": "/api/v1/*", "status": 503}).json(t, &f)
	r = e.do("", "POST", "/api/v1/directories/x/groups/modify", `{}`)
	if r.status != 503 || !strings.Contains(string(r.body), "errorCode") {
		t.Fatalf("okta fault: %d %s", r.status, r.body)
	}
	var faults struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "", "GET", "/_fake/faults", nil).json(t, &faults)
	if len(faults.List) != 1 {
		t.Fatalf("faults %v", faults.List)
	}
	e.must(204, "", "DELETE", "/_fake/faults/"+f.ID, nil)
	e.must(404, "", "DELETE", "/_fake/faults/"+f.ID, nil)
	// Latency alone delays and then serves normally.
	e.must(201, "", "POST", "/_fake/faults", map[string]any{"path": path, "latency_ms": 1, "times": 1})
	e.must(200, "all", "GET", list, nil)
	e.must(204, "", "DELETE", "/_fake/faults", nil)
	e.must(400, "", "POST", "/_fake/faults", map[string]any{"path": "no-slash", "status": 500})
}

func TestControlsRequestLogRedacts(t *testing.T) {
	e := newEnv(t)
	e.must(204, "", "DELETE", "/_fake/requests", nil)
	k := roleKeys["all"]
	e.must(200, "", "POST", "/service_token", map[string]string{"key_id": k[0], "key_secret": k[1]})
	e.must(201, "all", "POST", "/integrations/ad_connections", newConnBody("log.example.com"))
	r := e.must(200, "", "GET", "/_fake/requests", nil)
	s := string(r.body)
	for _, secret := range []string{k[1], "p@$$w0rD", e.tokens["all"], "Bearer"} {
		if strings.Contains(s, secret) {
			t.Fatalf("request log holds %q: %s", secret, s)
		}
	}
	if !strings.Contains(s, "REDACTED") || !strings.Contains(s, "log.example.com") || !strings.Contains(s, k[0]) {
		t.Fatalf("request log: %s", s)
	}
}

func TestControlsClockAndReset(t *testing.T) {
	e := newEnv(t)
	var c struct {
		Now time.Time `json:"now"`
	}
	e.must(200, "", "GET", "/_fake/clock", nil).json(t, &c)
	start := c.Now
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": "90m"}).json(t, &c)
	if got := c.Now.Sub(start); got != 90*time.Minute {
		t.Fatalf("advanced by %v", got)
	}
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"now": "2030-01-01T00:00:00Z"}).json(t, &c)
	if !c.Now.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("now %v", c.Now)
	}
	e.must(400, "", "POST", "/_fake/clock", map[string]string{"advance": "soon"})

	e.login()
	e.must(201, "all", "POST", "/integrations/ad_connections", newConnBody("reset.example.com"))
	e.must(204, "", "POST", "/_fake/reset", nil)
	e.login()
	r := e.must(200, "all", "GET", "/integrations/ad_connections", nil)
	if strings.Contains(string(r.body), "reset.example.com") {
		t.Fatalf("reset kept a created connection: %s", r.body)
	}
}

// TestFaultRetryAtFollowsFakeClock: the 429 fault's X-RateLimit-Retry-At is the engine's (fake)
// clock plus the retry, wherever the clock was set, not the wall clock.
func TestFaultRetryAtFollowsFakeClock(t *testing.T) {
	e := newEnv(t)
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"now": "2041-06-01T12:00:00Z"})
	e.must(201, "", "POST", "/_fake/faults", map[string]any{"path": "/v1/*", "status": 429, "retry_after_seconds": 45})
	r := e.must(429, "", "GET", "/connections/active_directory", nil)
	want := time.Date(2041, 6, 1, 12, 0, 45, 0, time.UTC).Unix()
	if got := r.header.Get("X-RateLimit-Retry-At"); got != strconv.FormatInt(want, 10) {
		t.Fatalf("X-RateLimit-Retry-At %s, want %d (the fake clock + 45 s)", got, want)
	}
}

// TestClockRefusesUnencodableTimes: a clock time (set, or reached by advancing) from which the
// engine would compute a time RFC 3339 and JSON cannot encode is refused with 400 and leaves the
// clock and logins working; times inside the range are accepted.
func TestClockRefusesUnencodableTimes(t *testing.T) {
	e := newEnv(t)
	var c struct {
		Now time.Time `json:"now"`
	}
	e.must(200, "", "GET", "/_fake/clock", nil).json(t, &c)
	start := c.Now
	for _, now := range []string{"9999-12-31T23:59:59Z", "9999-01-01T00:00:00Z", "9990-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z"} {
		e.must(400, "", "POST", "/_fake/clock", map[string]string{"now": now})
	}
	e.must(200, "", "GET", "/_fake/clock", nil).json(t, &c)
	if !c.Now.Equal(start) {
		t.Fatalf("a refused time moved the clock to %v", c.Now)
	}
	e.login() // a token still encodes its expiry
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"now": "9989-01-01T00:00:00Z"}).json(t, &c)
	e.login()
	e.must(200, "all", "GET", "/connections/active_directory", nil)
	for _, d := range []string{"175200h", "8784h", "2562047h"} { // 20 years, a leap year, the longest duration
		e.must(400, "", "POST", "/_fake/clock", map[string]string{"advance": d})
	}
	e.must(200, "", "GET", "/_fake/clock", nil)
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": "1h"})
	e.login()
	e.must(200, "all", "GET", "/connections/active_directory", nil)
}

// TestControlsUserTokens: POST /_fake/tokens issues a token for a person (who has no service key),
// accepted on /v1 for that team only and on /api/v1; it expires on the fake clock like a service
// token and is forgotten on reset; unknown users and bad bodies are refused.
func TestControlsUserTokens(t *testing.T) {
	e := newEnv(t)
	var tok struct {
		BearerToken string    `json:"bearer_token"`
		ExpiresAt   time.Time `json:"expires_at"`
		TeamName    string    `json:"team_name"`
	}
	e.must(201, "", "POST", "/_fake/tokens", map[string]string{"team": "DEMO", "user": "jane.doe"}).json(t, &tok)
	if tok.TeamName != "demo" || tok.BearerToken == "" || !tok.ExpiresAt.Equal(e.srv.Clock.Now().Add(time.Hour)) {
		t.Fatalf("token answer %+v", tok)
	}
	var me struct {
		Name string `json:"name"`
	}
	e.must(200, tok.BearerToken, "GET", "/current_user", nil).json(t, &me)
	if me.Name != "jane.doe" {
		t.Fatalf("current_user %q, want jane.doe", me.Name)
	}
	e.must(401, tok.BearerToken, "GET", "/v1/teams/other/current_user", nil)
	if r := e.do(tok.BearerToken, "POST", "/api/v1/directories/x/groups/modify", `{}`); r.status == 401 {
		t.Fatalf("/api/v1 refused the user token: %s", r.body)
	}
	for _, body := range []map[string]string{{"team": "demo", "user": "nobody"}, {"team": "nope", "user": "jane.doe"}} {
		e.must(404, "", "POST", "/_fake/tokens", body)
	}
	e.must(400, "", "POST", "/_fake/tokens", map[string]string{"team": "demo"})

	e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": "59m"})
	e.must(200, tok.BearerToken, "GET", "/current_user", nil)
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": "1m"})
	e.must(401, tok.BearerToken, "GET", "/current_user", nil)

	e.must(201, "", "POST", "/_fake/tokens", map[string]string{"team": "demo", "user": "jane.doe"}).json(t, &tok)
	e.must(204, "", "POST", "/_fake/reset", nil)
	e.must(401, tok.BearerToken, "GET", "/current_user", nil)
}
