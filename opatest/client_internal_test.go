package opatest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// resetOnFirst is a transport that resets the server before it sends its first request, as if a
// reset had happened while that request was in flight.
type resetOnFirst struct {
	srv   *Server
	calls atomic.Int32
}

func (r *resetOnFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.calls.Add(1) == 1 {
		if err := r.srv.Reset(); err != nil {
			return nil, err
		}
	}
	return r.srv.base.RoundTrip(req)
}

// TestClientResendsARequestWhoseTokenAResetDropped: a 401 caused by a reset during the request is
// answered by sending the request again, body and all, with a token of the new state; without a
// replayable body the 401 is returned.
func TestClientResendsARequestWhoseTokenAResetDropped(t *testing.T) {
	srv := NewServer(t)
	rt := &resetOnFirst{srv: srv}
	c := &http.Client{Transport: &authTransport{src: srv.source("automation"), base: rt}}
	body := `{"name":"x","domain":"resent.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","domain_controllers":["dc1"],"service_account_username":"svc","service_account_password":"Hunter2-Hunter2"}`
	resp, err := c.Post(srv.TeamURL("/integrations/ad_connections"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || rt.calls.Load() != 2 {
		t.Fatalf("status %d after %d sends: %s", resp.StatusCode, rt.calls.Load(), b)
	}

	rt = &resetOnFirst{srv: srv}
	c = &http.Client{Transport: &authTransport{src: srv.source("automation"), base: rt}}
	req, err := http.NewRequest("POST", srv.TeamURL("/integrations/ad_connections"), io.NopCloser(bytes.NewReader([]byte(body))))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || rt.calls.Load() != 1 {
		t.Fatalf("an unreplayable body: status %d after %d sends", resp.StatusCode, rt.calls.Load())
	}
}
