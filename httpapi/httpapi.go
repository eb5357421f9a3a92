// Package httpapi serves an opa.Engine over HTTP with the paths, methods, status codes, field names,
// error bodies and paging of the real Okta Privileged Access (OPA) / Advanced Server Access (ASA)
// API, and of the Okta Directories Integration API, so that existing clients (the pam-sdk-go, the
// terraform-provider-oktapam, scripts) can be pointed at it.
//
// Wire rules (see routes.go for every route):
//
//   - /v1 calls authenticate with "Authorization: Bearer <token>" from
//     POST /v1/teams/{team_name}/service_token; the token must belong to the path's team.
//   - /api/v1 calls accept "Authorization: SSWS <token>" or "Bearer <token>", where the token is a
//     bearer token from the service_token exchange (of any team) or an Okta API token registered
//     with WithOktaTokens (fixtures can define them).
//   - Lists are {"list":[…]} paged with count (default 100, at most opa.MaxPageCount), offset, prev
//     and descending; the next and previous pages are given in RFC 8288 Link headers whose absolute
//     URLs keep the caller's query.
//   - Errors are {"type","code","message"} on /v1 and Okta's {errorCode, errorSummary, errorLink,
//     errorId, errorCauses} on /api/v1. 5xx bodies are generic; the detail goes to the log.
//   - Bodies are JSON of at most 1 MiB; null means unset, unknown fields are ignored; malformed
//     JSON, wrong types and trailing data are 400 and change nothing.
//
// Test-fixture controls (reset, clock, fault injection, request log, user tokens) live under
// /_fake/ when enabled with WithControls; see controls.go. Browser pages of other origins can call
// the API when WithCORS allows them; see cors.go.
package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// maxBody is the largest request body accepted.
const maxBody = 1 << 20

// maxDrain bounds how much of a body over maxBody is read and discarded after its 400 is sent. A
// client still writing its body when the server closes the connection gets a TCP reset, which can
// destroy the answer before the client reads it; reading (up to this bound, and within the
// server's read timeout) until the client stops lets it see its 400.
const maxDrain = 8 << 20

// Handler is the HTTP API. Make one with New. It is safe for concurrent use.
type Handler struct {
	engine     atomic.Pointer[opa.Engine]
	log        *slog.Logger
	mux        *http.ServeMux
	ctl        *Controller
	oktaTokens map[string]OktaToken
	extra      map[string]http.Handler
	cors       *CORSPolicy
	now        func() time.Time

	rateMu     sync.Mutex
	rateWindow int64
	rateUsed   int
}

// OktaToken is what an Okta API token (sent as "Authorization: SSWS <token>" to /api/v1) stands
// for: a user of a team, by user id or username.
type OktaToken struct {
	Team string
	User string
}

// Controls enables the test-fixture controls under /_fake/ (and Handler.Controller). Reset returns
// a fresh engine loaded with the fixtures (nil disables /_fake/reset); Clock is the engine's clock
// (nil disables the clock controls); TokenTTL is the lifetime of the user tokens the controls issue
// (0: an hour, the engine's default token lifetime). Fault injection, the request log and user
// tokens are always available when Controls is set.
type Controls struct {
	Reset    func() (*opa.Engine, error)
	Clock    *opa.ManualClock
	TokenTTL time.Duration
	// Conditions, when set, is served at /_fake/conditions (Controller.Conditions); the engines
	// must decide policy conditions with it (opa.WithConditionDecider(Conditions)). nil: those
	// routes are 404.
	Conditions *ConditionApprovals
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger for request failures. Default: discard. Bearer tokens and secrets are
// never logged.
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithControls enables the /_fake/ test-fixture controls and Handler.Controller. Without it those
// paths are 404 and Controller returns nil.
func WithControls(c Controls) Option {
	return func(h *Handler) { h.ctl = &Controller{h: h, cfg: c} }
}

// WithOktaTokens registers Okta API tokens accepted on /api/v1 (token -> user).
func WithOktaTokens(tokens map[string]OktaToken) Option {
	return func(h *Handler) {
		for k, v := range tokens {
			h.oktaTokens[k] = v
		}
	}
}

// WithMount serves handler under the path prefix (e.g. "/ui/" for the browser demo).
func WithMount(prefix string, handler http.Handler) Option {
	return func(h *Handler) { h.extra[prefix] = handler }
}

// New returns the HTTP API over engine.
func New(engine *opa.Engine, opts ...Option) *Handler {
	h := &Handler{
		log:        slog.New(slog.DiscardHandler),
		oktaTokens: map[string]OktaToken{},
		extra:      map[string]http.Handler{},
	}
	h.engine.Store(engine)
	for _, o := range opts {
		o(h)
	}
	h.now = func() time.Time { return h.Engine().Clock().Now() }
	h.mux = http.NewServeMux()
	h.routes()
	for prefix, x := range h.extra {
		h.mux.Handle(prefix, x)
	}
	return h
}

// Engine returns the engine the handler serves now (it changes on /_fake/reset and
// Controller.Reset).
func (h *Handler) Engine() *opa.Engine { return h.engine.Load() }

// SetEngine replaces the engine the handler serves.
func (h *Handler) SetEngine(e *opa.Engine) { h.engine.Store(e) }

// ServeHTTP implements http.Handler. With WithCORS, the CORS headers come first (see CORSPolicy).
// Every route's body is capped at 1 MiB: a larger declared
// Content-Length is refused with 400 before any handler runs and before any of it is read (then up
// to 8 MiB of it is read and discarded, so that a client still sending sees the answer, and the
// connection is closed), and reading past the cap fails.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.applyCORS(w, r) {
		return // an allowed preflight, answered
	}
	body := r.Body
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	if h.ctl != nil && !isControlPath(r.URL.Path) {
		rw := h.ctl.recorder.start(w, r)
		defer h.ctl.recorder.finish(rw, r)
		w = rw
		if h.ctl.faults.apply(w, r, h.now) {
			return
		}
	}
	if r.ContentLength > maxBody {
		w.Header().Set("Connection", "close")
		defer drainAfterAnswer(w, body, r.ContentLength)
		err := errclass.Mark(errclass.Invalid, "the request body is larger than %d bytes", maxBody)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.writeOktaError(w, r, err)
		} else {
			h.writeError(w, r, err)
		}
		return
	}
	h.mux.ServeHTTP(w, r)
}

// drainAfterAnswer sends what has been written of the answer, then reads and discards up to
// maxDrain bytes of an oversized body (see maxDrain). Errors end it: the connection is closed next.
func drainAfterAnswer(w http.ResponseWriter, body io.Reader, declared int64) {
	if body == nil {
		return
	}
	_ = http.NewResponseController(w).Flush()
	_, _ = io.Copy(io.Discard, io.LimitReader(body, min(declared, maxDrain)))
}
