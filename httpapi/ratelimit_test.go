package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa/opatest"
)

// TestServiceTokenBruteForceLimited: ten wrong secrets from one client for one team are 401, then
// every attempt (even the right secret) is 429 with X-RateLimit-Retry-At until the bucket refills
// on the engine's clock (one attempt per 6 s); other clients and teams are unaffected.
func TestServiceTokenBruteForceLimited(t *testing.T) {
	srv := opatest.NewServer(t)
	k := roleKeys["all"]
	try := func(ip, team, secret string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(map[string]string{"key_id": k[0], "key_secret": secret})
		req := httptest.NewRequest("POST", "http://opa.test/v1/teams/"+team+"/service_token", strings.NewReader(string(b)))
		req.RemoteAddr = ip + ":40000"
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		return rec
	}
	const attacker = "198.51.100.7"
	for i := range 10 {
		if rec := try(attacker, "demo", "guess"); rec.Code != 401 {
			t.Fatalf("attempt %d: %d %s", i, rec.Code, rec.Body.Bytes())
		}
	}
	for _, secret := range []string{"guess", k[1]} {
		rec := try(attacker, "demo", secret)
		if rec.Code != 429 {
			t.Fatalf("after 10 failures: %d %s", rec.Code, rec.Body.Bytes())
		}
		var body struct {
			Type string `json:"type"`
			Code int    `json:"code"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Type != "too_many_requests" || body.Code != 429 {
			t.Fatalf("429 body %s", rec.Body.Bytes())
		}
		at, err := strconv.ParseInt(rec.Header().Get("X-RateLimit-Retry-At"), 10, 64)
		if err != nil || at != srv.Clock.Now().Add(6*time.Second).Unix() {
			t.Fatalf("X-RateLimit-Retry-At = %q, now %d", rec.Header().Get("X-RateLimit-Retry-At"), srv.Clock.Now().Unix())
		}
	}
	if rec := try("203.0.113.9", "demo", k[1]); rec.Code != 200 {
		t.Fatalf("another client: %d", rec.Code)
	}
	if rec := try(attacker, "other", "guess"); rec.Code != 401 {
		t.Fatalf("another team: %d", rec.Code)
	}
	srv.Clock.Advance(5 * time.Second)
	if rec := try(attacker, "demo", k[1]); rec.Code != 429 {
		t.Fatalf("after 5 s: %d", rec.Code)
	}
	srv.Clock.Advance(time.Second)
	if rec := try(attacker, "demo", "guess"); rec.Code != 401 {
		t.Fatalf("after 6 s: %d", rec.Code)
	}
	if rec := try(attacker, "demo", k[1]); rec.Code != 429 {
		t.Fatalf("the refilled attempt was spent: %d", rec.Code)
	}
	srv.Clock.Advance(6 * time.Second)
	if rec := try(attacker, "demo", k[1]); rec.Code != 200 {
		t.Fatalf("right secret after refill: %d %s", rec.Code, rec.Body.Bytes())
	}
	// In an hour the bucket allows at most 10 + 600 guesses.
}

// TestServiceTokenLimitPerResolvedTeam: the failed-login bucket belongs to the team as the
// case-insensitive lookup resolves it, not to the spelling in the path: failures under several
// spellings add up, and once the team is locked out no spelling gets in, not even with the right
// secret. A team name that exists nowhere is limited the same way.
func TestServiceTokenLimitPerResolvedTeam(t *testing.T) {
	srv := opatest.NewServer(t)
	k := roleKeys["all"]
	try := func(team, secret string) int {
		b, _ := json.Marshal(map[string]string{"key_id": k[0], "key_secret": secret})
		req := httptest.NewRequest("POST", "http://opa.test/v1/teams/"+team+"/service_token", strings.NewReader(string(b)))
		req.RemoteAddr = "198.51.100.8:40000"
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	if got := try("DEMO", k[1]); got != 200 {
		t.Fatalf("the right secret under DEMO: %d (the team lookup ignores case)", got)
	}
	spellings := []string{"demo", "Demo", "DEMO", "dEmO", "deMo"}
	for i := range 10 {
		if got := try(spellings[i%len(spellings)], "guess"); got != 401 {
			t.Fatalf("failure %d under %s: %d", i, spellings[i%len(spellings)], got)
		}
	}
	for _, team := range append(spellings, "DEmo", "demO") {
		if got := try(team, k[1]); got != 429 {
			t.Errorf("the right secret under %s after 10 failures across spellings: %d, want 429", team, got)
		}
	}
	for i := range 10 {
		if got := try([]string{"nosuch", "NOSUCH"}[i%2], "guess"); got != 401 {
			t.Fatalf("failure %d for a missing team: %d", i, got)
		}
	}
	if got := try("NoSuch", "guess"); got != 429 {
		t.Errorf("a missing team under a third spelling after 10 failures: %d, want 429", got)
	}
}
