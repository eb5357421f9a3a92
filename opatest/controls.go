package opatest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/internal/errclass"
)

// The controls below are httpapi.Controller's, the implementation behind the /_fake/ routes, so a
// Go test and an HTTP client of the same server see the same clock, faults and request log.

// Advance moves the fake clock forward by d and runs everything that became due (the engine's
// Tick: expired checkouts checked in and rotated if no write did it first, scheduled syncs and
// rotations) before it returns, like POST /_fake/clock {"advance": …}. Tokens that expire are renewed by Do, Token and
// Client on their next use. It returns an opa.ErrInvalid error, with the clock unchanged, for a
// negative d or one that moves the clock past 9989-12-31; or the error of the work that failed,
// with the clock moved.
func (s *Server) Advance(d time.Duration) error {
	_, err := s.ctl.Advance(context.Background(), d)
	return err
}

// SetNow sets the fake clock to t (backwards too) and runs everything due at t before it returns,
// like POST /_fake/clock {"now": …}. Errors: as Advance's, for a t outside the years 0010-9989.
func (s *Server) SetNow(t time.Time) error {
	_, err := s.ctl.SetNow(context.Background(), t)
	return err
}

// Reset reloads the fixture into a fresh engine and store, sets the clock back to where it started,
// and forgets the faults, the request log and the user tokens, like POST /_fake/reset. Afterwards
// Engine, Loaded, Directory, Token and the clients reflect the new state. It returns an
// opa.ErrNotFound error on a server made WithStore, or the error loading the fixture met (and then
// nothing changed but the clock).
func (s *Server) Reset() error {
	if s.ownStore {
		return notAvailable("Reset")
	}
	return s.ctl.Reset()
}

// Fault is a failure to inject (Server.Fault). Requests whose method is Method (empty: any) and
// whose path is Path, or starts with it when Path ends in "*", wait Latency and then, when Status
// is not 0, get that status and Body instead of the API's answer.
type Fault struct {
	// Method is the HTTP method the fault applies to; empty: every method.
	Method string
	// Path is the request path, e.g. "/v1/teams/demo/service_token", or a prefix ending in "*",
	// e.g. "/v1/*".
	Path string
	// Status is the status to answer with; 0: none (Latency alone, then the API's answer).
	Status int
	// Body is the answer's body, encoded with encoding/json (a json.RawMessage is sent as it is);
	// nil: the API's error body for Status (the /v1 or the Okta form, by path).
	Body any
	// Latency delays the request, rounded up to a millisecond; at most ten minutes.
	Latency time.Duration
	// RetryAfter is, for a 429, how far after the fake clock's now X-RateLimit-Retry-At points,
	// rounded up to a second; 0: one second.
	RetryAfter time.Duration
	// Times is how many requests the fault hits before it goes away; 0: every request until
	// removed.
	Times int
}

// Fault injects f (see Fault) and returns a function that removes it; calling that function again,
// or after the fault went away by itself (Times, a reset), does nothing. A fault that is not valid
// (a path without a leading "/", a status outside 100-599, neither a status nor a latency, a
// latency over ten minutes, a negative Times, or a Body that does not encode) fails the test of a
// NewServer server (call it from the test's goroutine, as t.Fatal requires), and panics on a Start
// server, as a programming error.
func (s *Server) Fault(f Fault) (remove func()) {
	hf, err := f.wire()
	if err == nil {
		hf, err = s.ctl.AddFault(hf)
	}
	if err != nil {
		err = errors.Wrapf(err, "opatest: Fault %s %s", f.Method, f.Path)
		if s.tb != nil {
			s.tb.Helper()
			s.tb.Fatal(err)
		}
		panic(err)
	}
	return func() { _ = s.ctl.RemoveFault(hf.ID) } // gone already: nothing to do
}

// wire returns f as the controls take it.
func (f Fault) wire() (httpapi.Fault, error) {
	hf := httpapi.Fault{Method: f.Method, Path: f.Path, Status: f.Status, Times: f.Times}
	if f.Latency < 0 || f.RetryAfter < 0 {
		return hf, errclass.Mark(errclass.Invalid, "Latency and RetryAfter must not be negative")
	}
	hf.LatencyMS = int(min((f.Latency+time.Millisecond-1)/time.Millisecond, time.Hour/time.Millisecond))
	hf.RetryAfterSeconds = int(min((f.RetryAfter+time.Second-1)/time.Second, 24*time.Hour/time.Second))
	if f.Body != nil {
		b, err := json.Marshal(f.Body)
		if err != nil {
			return hf, errclass.Wrap(err, errclass.Invalid, "Body")
		}
		hf.Body = b
	}
	return hf, nil
}

// Request is a request the server served, as its request log keeps it: redacted (no
// Authorization, cookies or secret values) and bounded; httpapi.RecordedRequest documents the
// fields.
type Request httpapi.RecordedRequest

// String returns "METHOD /path?query -> status".
func (r Request) String() string {
	q := ""
	if r.Query != "" {
		q = "?" + r.Query
	}
	return fmt.Sprintf("%s %s%s -> %d", r.Method, r.Path, q, r.Status)
}

// Requests returns the requests the server served (every route but /_fake/), oldest first: the
// newest 1,000 within 8 MiB. Requests that Token, Do's renewals and Client make to get tokens are
// not among them (they need no request). Its cost is O(requests).
func (s *Server) Requests() []Request {
	recs := s.ctl.Requests(0, 1000)
	out := make([]Request, len(recs))
	for i, r := range recs {
		out[i] = Request(r)
	}
	return out
}

// ClearRequests forgets the recorded requests, like DELETE /_fake/requests.
func (s *Server) ClearRequests() { s.ctl.ClearRequests() }

// AssertRequested returns the oldest recorded request whose method is method (empty: any; GET
// also matches HEAD) and whose path matches pattern, a net/http.ServeMux path pattern:
// "{name}" matches one segment, "{name...}" the rest of the path, a trailing "/" any path under
// it, and "{$}" after a trailing slash only that path, as in
//
//	srv.AssertRequested(t, "POST", "/v1/teams/{team}/active_directory/{conn}/accounts/{id}/reveal_credentials")
//
// It fails t, listing the recorded requests, when none matches, or when pattern is not a valid
// pattern.
func (s *Server) AssertRequested(t testing.TB, method, pattern string) Request {
	t.Helper()
	match, err := requestMatcher(method, pattern)
	if err != nil {
		t.Fatalf("opatest: AssertRequested: %v", err)
	}
	reqs := s.Requests()
	for _, r := range reqs {
		if match(r) {
			return r
		}
	}
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n\t%s", r)
	}
	if len(reqs) == 0 {
		b.WriteString(" none")
	}
	t.Fatalf("opatest: no request %s %s was made; the server recorded:%s", method, pattern, b.String())
	return Request{}
}

// requestMatcher returns a function reporting whether a request matches method and pattern, with
// net/http.ServeMux's rules, or an error for a pattern ServeMux refuses.
func requestMatcher(method, pattern string) (match func(Request) bool, err error) {
	mux := http.NewServeMux()
	full := pattern
	if method != "" {
		full = method + " " + pattern
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = errclass.Mark(errclass.Invalid, "%v", r)
			}
		}()
		mux.Handle(full, http.NotFoundHandler())
	}()
	if err != nil {
		return nil, err
	}
	return func(r Request) bool {
		req := &http.Request{Method: r.Method, URL: &url.URL{Path: r.Path}, Host: "opatest"}
		_, p := mux.Handler(req)
		return p == full // not a redirect to a path that would match

	}, nil
}
