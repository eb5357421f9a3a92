package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/opatest"
)

const (
	scaleKeyID     = "6f2c1c0e-5b7a-4d8e-9a51-0c3f7f1b2a10"
	scaleKeySecret = "scale-secret"
)

// scaleServer starts a server with fixture.Generated(n) (n generated accounts, computers and
// users) force-synced at load, its admin holding every admin role, and returns it with a token and
// the connection's id.
func scaleServer(b *testing.B, n int) (srv *opatest.Server, token, connID string) {
	b.Helper()
	f := fixture.Generated(n, 1, scaleKeyID, scaleKeySecret)
	f.Teams[0].Users[0].Roles = append(f.Teams[0].Users[0].Roles,
		fixture.Role{Role: opa.RoleResourceAdmin}, fixture.Role{Role: opa.RoleSecurityAdmin})
	f.Teams[0].Connections[0].Sync = true
	srv = opatest.NewServer(b, opatest.WithFixture(*f))
	token, err := srv.ExchangeToken(scaleKeyID, scaleKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	connID = srv.Loaded().Teams[0].Connections["corp.example.com"]
	if connID == "" {
		b.Fatal("the generated fixture has no connection")
	}
	return srv, token, connID
}

// listPage is a decoded list body.
type listPage struct {
	List []opa.ADAccount `json:"list"`
}

// getList sends one authenticated GET and returns the decoded page and its Link header.
func getList(b *testing.B, client *http.Client, u, token string) (listPage, string) {
	b.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		b.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	var p listPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		b.Fatal(err)
	}
	return p, resp.Header.Get("Link")
}

// BenchmarkHTTPListScale: GET …/resource_assignment/active_directory/{id}/accounts (the discovered
// accounts, 100 to a page, names resolved) from a connection with 10,000 and 100,000 generated
// accounts (fixture.Generated, force-synced), at page 1 and at a deep page (the page after the
// account at 80 % of the id order), against "bare": a bare net/http handler on its own httptest
// server that JSON-encodes the same 100 accounts ({"list":[…]}, the same Link header) on every
// request, through the same client. Each iteration sends one request of each kind in turn, and
// the benchmark reports each kind's time per request and the ratios: page1-rate-x-bare and
// deep-rate-x-bare (the route's request rate as a fraction of bare's; target ≥ 0.25 at 100k) and
// deep-time-x-page1 (target ≤ 1.5), the targets of issue 15 (BENCHMARKS.md).
//
// OPA_BENCH_SCALES (comma-separated counts, default "10000,100000") picks the sizes.
func BenchmarkHTTPListScale(b *testing.B) {
	scales := []int{10_000, 100_000}
	if s := os.Getenv("OPA_BENCH_SCALES"); s != "" {
		scales = nil
		for _, f := range splitComma(s) {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("OPA_BENCH_SCALES: %v", err)
			}
			scales = append(scales, n)
		}
	}
	for _, n := range scales {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			srv, token, connID := scaleServer(b, n)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			base := srv.TeamURL("/resource_assignment/active_directory/" + connID + "/accounts")
			first, link := getList(b, client, base, token)
			if len(first.List) != opa.DefaultPageCount || link == "" {
				b.Fatalf("page 1 holds %d accounts, Link %q", len(first.List), link)
			}
			// The deep cursor: walk pages of 1,000 to the account at 80 %.
			deep := ""
			for seen := 0; seen < n*8/10; seen += opa.MaxPageCount {
				q := url.Values{"count": {strconv.Itoa(opa.MaxPageCount)}}
				if deep != "" {
					q.Set("offset", deep)
				}
				p, _ := getList(b, client, base+"?"+q.Encode(), token)
				if len(p.List) == 0 {
					b.Fatalf("the walk ended after %d accounts", seen)
				}
				deep = p.List[len(p.List)-1].ID
			}
			deepURL := base + "?" + url.Values{"offset": {deep}}.Encode()
			if p, _ := getList(b, client, deepURL, token); len(p.List) != opa.DefaultPageCount {
				b.Fatalf("the deep page holds %d accounts", len(p.List))
			}
			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Link", link)
				w.WriteHeader(http.StatusOK)
				_ = json.NewEncoder(w).Encode(first)
			}))
			defer bare.Close()
			// One iteration sends one request of each kind in turn, so the three share the
			// machine's load (2 shared cores); each kind's time is reported on its own. The kind
			// that goes first rotates, so none always follows the same one.
			kinds := []struct {
				name, url, token string
				total            time.Duration
			}{{"bare", bare.URL, "", 0}, {"page1", base, token, 0}, {"deep", deepURL, token, 0}}
			reqs := make([]*http.Request, len(kinds))
			for i, k := range kinds {
				reqs[i], _ = http.NewRequest("GET", k.url, nil)
				if k.token != "" {
					reqs[i].Header.Set("Authorization", "Bearer "+k.token)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			iter := 0
			for b.Loop() {
				iter++
				for j := range kinds {
					i := (iter + j) % len(kinds)
					start := time.Now()
					resp, err := client.Do(reqs[i])
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("%s: status %d", kinds[i].name, resp.StatusCode)
					}
					kinds[i].total += time.Since(start)
				}
			}
			per := func(i int) float64 { return float64(kinds[i].total.Nanoseconds()) / float64(b.N) }
			for i, k := range kinds {
				b.ReportMetric(per(i), k.name+"-ns/req")
			}
			b.ReportMetric(per(0)/per(1), "page1-rate-x-bare")
			b.ReportMetric(per(0)/per(2), "deep-rate-x-bare")
			b.ReportMetric(per(2)/per(1), "deep-time-x-page1")
		})
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
