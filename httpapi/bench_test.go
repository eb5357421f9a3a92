package httpapi_test

import (
	"io"
	"net/http"
	"testing"
)

// benchGet measures one authenticated GET through a real loopback connection to an httptest
// server (keep-alive client), body read to the end.
func benchGet(b *testing.B, path func(*env) string) {
	e := newEnv(b)
	url := e.srv.TeamURL(path(e))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["all"])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkHTTPList lists the discovered AD accounts of the demo connection (one page).
func BenchmarkHTTPList(b *testing.B) {
	benchGet(b, func(e *env) string { return "/resource_assignment/active_directory/" + e.connID() + "/accounts" })
}

// BenchmarkHTTPGet gets one AD connection.
func BenchmarkHTTPGet(b *testing.B) {
	benchGet(b, func(e *env) string { return "/connections/active_directory/" + e.connID() })
}
