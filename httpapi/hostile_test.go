package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// TestHostileBodies sends oversize, deeply nested and otherwise hostile bodies to every route that
// decodes a body: each is a 400 (or 401/403/404 where the caller or target is the problem), never a
// 5xx, changes nothing, and allocates a bounded amount.
func TestHostileBodies(t *testing.T) {
	h := newHostile(t)
	bodies := map[string][]byte{
		"2 MiB string":         []byte(`{"name":"` + strings.Repeat("a", 2<<20) + `"}`),
		"100k [":               bytes.Repeat([]byte("["), 100_000),
		"100k {\"a\":":         bytes.Repeat([]byte(`{"a":`), 100_000),
		"1 MiB of spaces then": append(bytes.Repeat([]byte(" "), 1<<20), '{', '}'),
		"huge number":          []byte(`{"priority":1` + strings.Repeat("0", 5000) + `}`),
		"NUL bytes":            []byte("{\"name\":\"\x00\x00\"}\x00"),
		"invalid UTF-8":        []byte("{\"name\":\"\xff\xfe\"}"),
		"trailing data":        []byte(`{} {}`),
		"wrong types":          []byte(`{"name":1,"rule_type":[],"organizational_units":"x","key_id":{}}`),
	}
	// Bodies no decoder may accept: over the 1 MiB limit, nested past encoding/json's depth limit,
	// or not one JSON value. The others are valid JSON that a route may accept (unknown fields are
	// ignored) but must never answer with a 5xx.
	malformed := map[string]bool{"2 MiB string": true, "100k [": true, "100k {\"a\":": true,
		"1 MiB of spaces then": true, "NUL bytes": true, "trailing data": true}
	const maxAlloc = 64 << 20 // bytes per request; the body limit is 1 MiB
	cases := 0
	for _, rt := range bodyRoutes {
		for name, body := range bodies {
			t.Run(rt.name+"/"+name, func(t *testing.T) {
				cases++
				before := h.fingerprint()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				rec := h.serve(rt.role, rt.method, h.path(rt.path), body)
				runtime.ReadMemStats(&m1)
				if rec.Code >= 500 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
				}
				if malformed[name] && rec.Code != 400 {
					t.Errorf("status %d, want 400: %s", rec.Code, rec.Body.Bytes())
				}
				if rec.Code >= 400 && h.fingerprint() != before {
					t.Fatal("a refused request changed stored state")
				}
				if d := m1.TotalAlloc - m0.TotalAlloc; d > maxAlloc {
					t.Fatalf("allocated %d bytes for one request", d)
				}
			})
		}
	}
	t.Logf("%d hostile body cases", cases)
}

// TestHostileQueries: huge or malformed paging parameters are 400.
func TestHostileQueries(t *testing.T) {
	h := newHostile(t)
	for _, q := range []string{
		"count=99999999999999999999999", "count=1000000000", "count=-1", "count=0x10", "count=1e9",
		"offset=%00", "offset=" + strings.Repeat("z", 100_000), "count=%ff",
	} {
		for _, p := range []string{
			"/v1/teams/demo/integrations/ad_connections?",
			"/v1/teams/demo/resource_assignment/active_directory/{conn}/accounts?",
			"/v1/teams/demo/all_active_directory_accounts?",
		} {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			rec := h.serve("all", "GET", h.path(p)+q, nil)
			runtime.ReadMemStats(&m1)
			if rec.Code >= 500 || rec.Code < 400 {
				// Some lists treat an unknown offset cursor as the end; only a 5xx or a huge
				// page is a failure then.
				if rec.Code >= 500 || strings.HasPrefix(q, "count") {
					t.Errorf("GET %s%s: %d %s", p, q, rec.Code, rec.Body.Bytes())
				}
			}
			if d := m1.TotalAlloc - m0.TotalAlloc; d > 64<<20 {
				t.Errorf("GET %s%s allocated %d bytes", p, q, d)
			}
		}
	}
}

// TestHostileIDs: traversal, NUL, odd bytes and very long ids in paths are 400 or 404, never a
// 5xx, never a match of another object.
func TestHostileIDs(t *testing.T) {
	h := newHostile(t)
	ids := []string{
		"..%2f..%2f", "..%2F", "%2e%2e", "%00", "a%00b", "%ff", "%c0%af", strings.Repeat("a", 64<<10),
		h.ids["conn"] + "%00", h.ids["conn"] + "%2f..", "%20" + h.ids["conn"], strings.ToUpper(h.ids["conn"]) + "x",
	}
	templates := []struct{ method, path string }{
		{"GET", "/v1/teams/demo/integrations/ad_connections/%s"},
		{"PUT", "/v1/teams/demo/integrations/ad_connections/%s"},
		{"DELETE", "/v1/teams/demo/integrations/ad_connections/%s"},
		{"GET", "/v1/teams/demo/resource_assignment/active_directory/%s/rules"},
		{"GET", "/v1/teams/demo/resource_assignment/active_directory/{conn}/rules/%s"},
		{"GET", "/v1/teams/demo/resource_assignment/active_directory/{conn}/accounts/%s"},
		{"POST", "/v1/teams/demo/active_directory/{conn}/accounts/%s/reveal_credentials"},
		{"GET", "/v1/teams/demo/resource_groups/%s/projects/{project}/active_directory_accounts"},
		{"GET", "/v1/teams/%s/current_user"},
		{"GET", "/v1/teams/demo/gateways/%s"},
		{"PUT", "/v1/teams/demo/gateways/%s"},
		{"DELETE", "/v1/teams/demo/gateways/%s"},
		{"GET", "/v1/teams/demo/gateway_setup_tokens/%s/token"},
		{"DELETE", "/v1/teams/demo/gateway_setup_tokens/%s"},
	}
	n := 0
	for _, tp := range templates {
		for _, id := range ids {
			n++
			target := strings.ReplaceAll(h.path(tp.path), "%s", id)
			req, err := http.NewRequest(tp.method, "http://opa.test"+target, strings.NewReader(`{}`))
			if err != nil {
				continue
			}
			req.Header.Set("Authorization", "Bearer "+h.tokens["all"])
			before := h.fingerprint()
			rec := httptest.NewRecorder()
			h.srv.Handler.ServeHTTP(rec, req)
			switch rec.Code {
			case 400, 401, 404:
			default:
				t.Errorf("%s %.120s: %d %.200s", tp.method, target, rec.Code, rec.Body.Bytes())
			}
			if h.fingerprint() != before {
				t.Errorf("%s %.120s changed stored state", tp.method, target)
			}
		}
	}
	t.Logf("%d hostile id cases", n)
}
