package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// rssKiB returns this process's resident set size (0 where /proc is absent).
func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// TestRequestLogMemoryBounded: 300 requests with 1 MiB JSON bodies to a path that does not exist
// grow the live heap by under 50 MB, and GET /_fake/requests stays under 9 MiB, each large body
// recorded as a 16 KiB prefix with a truncation marker.
func TestRequestLogMemoryBounded(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"data":"` + strings.Repeat("a", 1<<20-11) + `"}`)
	post := func() { // through the handler, without a socket (the race detector makes those slow)
		req := httptest.NewRequest("POST", e.srv.URL+"/no/such/path", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.Handler.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	post()
	before, rssBefore := heapInUse(), rssKiB()
	for range 300 {
		post()
	}
	after, rssAfter := heapInUse(), rssKiB()
	grew := int64(after) - int64(before)
	t.Logf("live heap %d KiB -> %d KiB (%+d KiB); resident %d KiB -> %d KiB", before>>10, after>>10, grew>>10, rssBefore, rssAfter)
	if grew > 50<<20 {
		t.Errorf("300 bodies of 1 MiB grew the live heap by %d MiB", grew>>20)
	}
	r := e.must(200, "", "GET", "/_fake/requests", nil)
	t.Logf("GET /_fake/requests: %d KiB", len(r.body)>>10)
	if len(r.body) > 9<<20 {
		t.Errorf("GET /_fake/requests answered %d MiB", len(r.body)>>20)
	}
	var got struct {
		List []struct {
			Path       string          `json:"path"`
			Body       json.RawMessage `json:"body"`
			BodyPrefix string          `json:"body_prefix"`
			BodyBytes  int             `json:"body_bytes"`
		} `json:"list"`
	}
	r.json(t, &got)
	if len(got.List) < 100 {
		t.Fatalf("only %d requests kept", len(got.List))
	}
	last := got.List[len(got.List)-1]
	if last.Path != "/no/such/path" || last.Body != nil || last.BodyBytes != len(body) ||
		!strings.HasPrefix(last.BodyPrefix, `{"data":"aaaa`) || !strings.HasSuffix(last.BodyPrefix, "…[truncated: the body had 1048576 bytes]") ||
		len(last.BodyPrefix) > 17<<10 {
		t.Errorf("last entry: path %q body %q body_bytes %d prefix of %d bytes ending %q", last.Path, last.Body, last.BodyBytes,
			len(last.BodyPrefix), last.BodyPrefix[max(0, len(last.BodyPrefix)-60):])
	}
}

// TestRequestLogPaging: offset and limit page the log; bad values are 400.
func TestRequestLogPaging(t *testing.T) {
	e := newEnv(t)
	e.must(204, "", "DELETE", "/_fake/requests", nil)
	for i := range 5 {
		e.do("", "GET", "/v1/no/such/"+strconv.Itoa(i), nil)
	}
	var got struct {
		List []struct {
			Path string `json:"path"`
		} `json:"list"`
	}
	e.must(200, "", "GET", "/_fake/requests?offset=1&limit=2", nil).json(t, &got)
	if len(got.List) != 2 || got.List[0].Path != "/v1/no/such/1" || got.List[1].Path != "/v1/no/such/2" {
		t.Fatalf("offset=1&limit=2: %v", got.List)
	}
	e.must(200, "", "GET", "/_fake/requests?offset=9", nil).json(t, &got)
	if len(got.List) != 0 {
		t.Fatalf("offset past the end: %v", got.List)
	}
	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "limit=x", "offset=1e3"} {
		e.must(400, "", "GET", "/_fake/requests?"+q, nil)
	}
}

// TestRequestLogRedactsBySpelling: secrets sent under spellings that Go's JSON decoder folds onto
// the secret fields (long s, upper case, Kelvin sign) do reach the engine, and never the log;
// neither do secrets in query strings, however their names are escaped.
func TestRequestLogRedactsBySpelling(t *testing.T) {
	e := newEnv(t)
	e.must(204, "", "DELETE", "/_fake/requests", nil)
	k := roleKeys["all"]
	// The decoder takes these for key_secret: each logs in.
	for _, name := range []string{"key_ſecret", "KEY_SECRET", "Key_Secret", "key_\u017fecret"} {
		e.must(200, "", "POST", "/service_token", `{"key_id":"`+k[0]+`",`+strconvQuote(name)+`:"`+k[1]+`"}`)
	}
	e.must(200, "", "POST", "/service_token", `{"key_id":"`+k[0]+`","key_\u017fecret":"`+k[1]+`"}`) // ſ escaped in the JSON text
	pw := "Paſſw0rd-in-the-log?"
	conn := `{"name":"c-fold.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","domain":"fold.example.com",` +
		`"domain_controllers":["1.2.3.4"],"service_account_username":"admin","service_account_paſſword":"` + pw + `"}`
	e.must(201, "all", "POST", "/integrations/ad_connections", conn)
	// A private JWK member spelled with a Kelvin sign, nested.
	jwkD := "private-d-value-in-the-log"
	e.do("end_user", "POST", "/no/such/path", `{"public_key":{"kty":"EC","\u212a":"`+jwkD+`","D":"`+jwkD+`"}}`)
	// Query strings: plain, escaped, folded, repeated.
	qsecret := "query-secret-in-the-log"
	for _, q := range []string{
		"key_secret=" + qsecret,
		"a=1&key_secret=" + qsecret + "&b=2",
		"key_%73ecret=" + qsecret,
		url.QueryEscape("KEY_ſECRET") + "=" + qsecret,
		"password=" + qsecret + "&password=" + qsecret,
		"bad%zz=" + qsecret,
		"a=1;key_secret=" + qsecret,
	} {
		e.do("", "GET", "/no/such/path?"+q, nil)
	}
	r := e.must(200, "", "GET", "/_fake/requests", nil)
	s := string(r.body)
	for _, secret := range []string{k[1], pw, jwkD, qsecret, url.QueryEscape(pw)} {
		if strings.Contains(s, secret) {
			t.Errorf("the request log holds %q", secret)
		}
	}
	if !strings.Contains(s, "fold.example.com") || !strings.Contains(s, `"query":"a=1\u0026key_secret=REDACTED\u0026b=2"`) {
		t.Errorf("the log lost what is not secret: %s", s)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
