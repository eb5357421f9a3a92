package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/opatest"
)

func TestNewCORSPolicyRefusesWhatIsNotAnOrigin(t *testing.T) {
	for _, bad := range []string{"", "example.com", "ftp://example.com", "http://example.com/app", "http://example.com?x",
		"http://example.com?", "http://example.com#top", "http://user@example.com", "http://", "*.example.com", "null"} {
		if _, err := httpapi.NewCORSPolicy(bad); !errors.Is(err, opa.ErrInvalid) {
			t.Errorf("NewCORSPolicy(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := httpapi.NewCORSPolicy(); !errors.Is(err, opa.ErrInvalid) {
		t.Errorf("no origins: %v", err)
	}
	for _, good := range []string{"http://localhost:5173", "https://app.example.com", "HTTP://Example.COM:80", "http://[::1]:8080", "https://x.example/", "*"} {
		if _, err := httpapi.NewCORSPolicy(good); err != nil {
			t.Errorf("NewCORSPolicy(%q): %v", good, err)
		}
	}
}

// TestCORS: allowed origins get the CORS headers on answers (fault answers too) and on their
// preflights, which are answered 204 without reaching the request log or the faults; other
// origins, and requests without an Origin, get none.
func TestCORS(t *testing.T) {
	const page = "http://localhost:5173"
	listed, err := httpapi.NewCORSPolicy("HTTP://LOCALHOST:5173", "https://app.example.com:443")
	if err != nil {
		t.Fatal(err)
	}
	anyOrigin, err := httpapi.NewCORSPolicy("*")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		status                             int
		allowOrigin, methods, allowHeaders string
		expose                             bool
		vary                               bool
	}
	preflight := func(origin, method, headers string) http.Header {
		h := http.Header{"Access-Control-Request-Method": {method}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		policy  *httpapi.CORSPolicy
		method  string
		path    string
		headers http.Header
		want    want
	}{
		{"preflight of a listed origin", listed, "OPTIONS", "/connections/active_directory", preflight(page, "GET", "authorization"),
			want{204, page, "GET, POST, PUT, DELETE", "Authorization, Content-Type", false, true}},
		{"preflight of a POST with a JSON body", listed, "OPTIONS", "/service_token", preflight("https://app.example.com", "POST", "content-type"),
			want{204, "https://app.example.com", "GET, POST, PUT, DELETE", "Authorization, Content-Type", false, true}},
		{"preflight of an unknown path", listed, "OPTIONS", "/no/such/route", preflight(page, "DELETE", "authorization"),
			want{204, page, "GET, POST, PUT, DELETE", "Authorization, Content-Type", false, true}},
		{"preflight of an unlisted origin", listed, "OPTIONS", "/connections/active_directory", preflight("http://evil.example", "GET", "authorization"),
			want{404, "", "", "", false, true}},
		{"preflight of another port", listed, "OPTIONS", "/connections/active_directory", preflight("http://localhost:5174", "GET", ""),
			want{404, "", "", "", false, true}},
		{"GET of a listed origin", listed, "GET", "/connections/active_directory", http.Header{"Origin": {page}},
			want{200, page, "", "", true, true}},
		{"GET of an unlisted origin", listed, "GET", "/connections/active_directory", http.Header{"Origin": {"http://evil.example"}},
			want{200, "", "", "", false, true}},
		{"GET without an Origin", listed, "GET", "/connections/active_directory", http.Header{},
			want{200, "", "", "", false, true}},
		{"an error answer of a listed origin", listed, "GET", "/connections/active_directory/nope", http.Header{"Origin": {page}},
			want{404, page, "", "", true, true}},
		{"preflight with a policy of any origin", anyOrigin, "OPTIONS", "/connections/active_directory", preflight("http://anything.example:9", "PUT", "authorization,content-type"),
			want{204, "*", "GET, POST, PUT, DELETE", "Authorization, Content-Type", false, false}},
		{"GET with a policy of any origin", anyOrigin, "GET", "/connections/active_directory", http.Header{"Origin": {"http://anything.example:9"}},
			want{200, "*", "", "", true, false}},
		{"no policy", nil, "OPTIONS", "/connections/active_directory", preflight(page, "GET", "authorization"),
			want{404, "", "", "", false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := opatest.NewServer(t, opatest.WithHandlerOptions(httpapi.WithCORS(tc.policy)))
			req := httptest.NewRequest(tc.method, srv.TeamURL(tc.path), nil)
			req.Header = tc.headers.Clone()
			if tc.method != "OPTIONS" {
				req.Header.Set("Authorization", "Bearer "+srv.Token())
			}
			w := httptest.NewRecorder()
			srv.Handler.ServeHTTP(w, req)
			h := w.Header()
			got := want{w.Code, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Methods"),
				h.Get("Access-Control-Allow-Headers"), h.Get("Access-Control-Expose-Headers") != "", strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin")}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if got.expose && h.Get("Access-Control-Expose-Headers") != "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Retry-At" {
				t.Fatalf("exposed %q", h.Get("Access-Control-Expose-Headers"))
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials allowed")
			}
			if tc.method == "OPTIONS" && tc.want.status == 204 && len(srv.Requests()) != 0 {
				t.Fatalf("a preflight was recorded: %v", srv.Requests())
			}
		})
	}
}

// TestCORSFaultAnswers: a fault's answer to an allowed origin carries the CORS headers, so the
// page can read its status and X-RateLimit-Retry-At; the preflight before it is not faulted.
func TestCORSFaultAnswers(t *testing.T) {
	const page = "http://localhost:5173"
	p, err := httpapi.NewCORSPolicy(page)
	if err != nil {
		t.Fatal(err)
	}
	srv := opatest.NewServer(t, opatest.WithHandlerOptions(httpapi.WithCORS(p)))
	srv.Fault(opatest.Fault{Path: "/v1/*", Status: 429})
	pre := httptest.NewRequest("OPTIONS", srv.TeamURL("/connections/active_directory"), nil)
	pre.Header.Set("Origin", page)
	pre.Header.Set("Access-Control-Request-Method", "GET")
	w := httptest.NewRecorder()
	srv.Handler.ServeHTTP(w, pre)
	if w.Code != 204 {
		t.Fatalf("preflight: %d", w.Code)
	}
	req := httptest.NewRequest("GET", srv.TeamURL("/connections/active_directory"), nil)
	req.Header.Set("Origin", page)
	w = httptest.NewRecorder()
	srv.Handler.ServeHTTP(w, req)
	if w.Code != 429 || w.Header().Get("Access-Control-Allow-Origin") != page || w.Header().Get("X-RateLimit-Retry-At") == "" {
		t.Fatalf("fault answer %d %v", w.Code, w.Header())
	}
}
