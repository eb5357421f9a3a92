package httpapi

// Test-fixture controls, served under /_fake/ only when the handler is made WithControls:
//
//	POST   /_fake/reset      reload the fixtures into a fresh engine (204)
//	GET    /_fake/clock      {"now": RFC 3339}
//	POST   /_fake/clock      {"now": RFC 3339} sets, {"advance": "90m"} advances (Go duration);
//	                         then runs the engine's due work (Tick) and answers {"now": …}
//	GET    /_fake/faults     {"list":[Fault…]}
//	POST   /_fake/faults     add a Fault (201 with it, id assigned)
//	DELETE /_fake/faults     remove every fault (204)
//	DELETE /_fake/faults/{id} remove one (204)
//	GET    /_fake/requests   {"list":[RecordedRequest…]} oldest first; ?offset=N&limit=M pages
//	DELETE /_fake/requests   forget them (204)
//	POST   /_fake/tokens     {"team": T, "user": U} issues a bearer token acting as that user,
//	                         service user or person (201, the service_token answer's shape)
//	…/_fake/conditions       policy condition approvals (conditions.go)
//
// Every route calls a method of Controller, which Go code (package opatest) calls directly, so the
// two forms share one implementation. The controls need no credentials: they are for a fake on a
// test machine; the server binary turns them off by default with -data. Recorded requests never
// include the Authorization header, cookies, or the value of a secret-named JSON member or query
// parameter (secretField), which are replaced by REDACTED; the log is bounded in entries and bytes
// (see RecordedRequest).

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

const controlPrefix = "/_fake/"

func isControlPath(p string) bool { return strings.HasPrefix(p, controlPrefix) }

// Controller is the test-fixture controls of a Handler made WithControls, for Go code; the
// /_fake/ routes are thin wrappers of its methods. Get it with Handler.Controller. It is safe for
// concurrent use.
type Controller struct {
	h         *Handler
	replaceMu sync.Mutex // serializes Replace
	cfg       Controls
	faults    faultSet
	recorder  recorder
	users     userTokens
}

// Controller returns the handler's controls, or nil when it was made without WithControls.
func (h *Handler) Controller() *Controller { return h.ctl }

// Reset makes a fresh engine with Controls.Reset and serves it, as Replace does. It returns an
// ErrNotFound error when Controls.Reset is nil, or the error Controls.Reset returned (and then
// nothing changed).
func (c *Controller) Reset() error {
	if c.cfg.Reset == nil {
		return errclass.Mark(errclass.NotFound, "reset is not available: the server was not started from fixtures")
	}
	return c.Replace(c.cfg.Reset)
}

// Replace calls build and, when it succeeds, serves the engine it returned from then on and
// forgets the faults, the recorded requests, the user tokens and the condition approvals (they
// belong to the engine being replaced). Requests in flight finish on the engine they started with. Replacements (Reset and
// Replace) run one at a time, so the engine served is always the one the last build returned. It
// returns build's error, and then nothing changed.
func (c *Controller) Replace(build func() (*opa.Engine, error)) error {
	c.replaceMu.Lock()
	defer c.replaceMu.Unlock()
	e, err := build()
	if err != nil {
		return err
	}
	c.h.SetEngine(e)
	c.faults.clear()
	c.recorder.clear()
	c.users.clear()
	if c.cfg.Conditions != nil {
		c.cfg.Conditions.Clear()
	}
	return nil
}

// clockRange is the range the clock control keeps the clock in: ten years inside the years RFC
// 3339 and JSON can encode (0000-9999), so that every time the engine derives from the clock
// (token expiry, an hour by default; checkout ends, at most a day; periodic rotation and sync due
// dates, at most 366 days) encodes too. A time outside is refused with 400 and the clock stays.
func clockRange() (lo, hi time.Time) {
	return time.Date(10, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9989, 12, 31, 23, 59, 59, 0, time.UTC)
}

// clockInRange reports whether t is within clockRange.
func clockInRange(t time.Time) bool {
	lo, hi := clockRange()
	return !t.Before(lo) && !t.After(hi)
}

// Clock returns the engine's manual clock, or an ErrNotFound error when Controls.Clock is nil (the
// engine runs on the system clock).
func (c *Controller) Clock() (*opa.ManualClock, error) {
	if c.cfg.Clock == nil {
		return nil, errclass.Mark(errclass.NotFound, "the clock controls are not available: the engine runs on the system clock")
	}
	return c.cfg.Clock, nil
}

// Now returns the clock's time in UTC; the errors are Clock's.
func (c *Controller) Now() (time.Time, error) {
	clk, err := c.Clock()
	if err != nil {
		return time.Time{}, err
	}
	return clk.Now().UTC(), nil
}

// SetNow sets the clock to t (backwards too), then runs the engine's due work (opa.Engine.Tick)
// before it returns the new time. Errors: Clock's; ErrInvalid, with the clock unchanged, for a
// time outside the years 0010-9989 (so that every time the engine computes from it can be
// encoded); or the Tick's error, wrapped, with the clock set.
func (c *Controller) SetNow(ctx context.Context, t time.Time) (time.Time, error) {
	if err := c.setNow(t); err != nil {
		return time.Time{}, err
	}
	now, _ := c.Now() // setNow found the clock
	return now, c.tick(ctx)
}

// Advance moves the clock forward by d, then runs the engine's due work (opa.Engine.Tick) before
// it returns the new time, so that everything that became due (expired checkouts checked in and
// rotated, scheduled syncs and rotations) is done. Errors: Clock's; ErrInvalid, with the clock
// unchanged, for a negative d or one that would move the clock past 9989-12-31; or the Tick's
// error, wrapped, with the clock moved.
func (c *Controller) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	if err := c.advance(d); err != nil {
		return time.Time{}, err
	}
	now, _ := c.Now() // advance found the clock
	return now, c.tick(ctx)
}

func (c *Controller) setNow(t time.Time) error {
	clk, err := c.Clock()
	if err != nil {
		return err
	}
	if lo, hi := clockRange(); !clockInRange(t) {
		return errclass.Mark(errclass.Invalid, "now must be between %s and %s, so that every time the engine computes from it can be encoded", lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	}
	clk.Set(t)
	return nil
}

func (c *Controller) advance(d time.Duration) error {
	clk, err := c.Clock()
	if err != nil {
		return err
	}
	if d < 0 {
		return errclass.Mark(errclass.Invalid, "advance must be a non-negative Go duration such as \"90m\"")
	}
	if _, hi := clockRange(); !clockInRange(clk.Now().Add(d)) {
		return errclass.Mark(errclass.Invalid, "advancing by %s would move the clock past %s, beyond which the times the engine computes cannot be encoded", d, hi.Format(time.RFC3339))
	}
	clk.Advance(d)
	return nil
}

// tick runs the due work of the engine served now.
func (c *Controller) tick(ctx context.Context) error {
	return errors.Wrap(c.h.Engine().Tick(ctx), "running the work that became due")
}

// AddFault checks f and adds it (see Fault), returning it with its id. Faults apply to every
// route but the controls' own, in the order they were added. Errors: ErrInvalid for a path that
// does not start with "/", a status outside 100-599, neither a status nor a latency, a latency
// over ten minutes, a negative Times or RetryAfterSeconds, or a Body that is not JSON.
func (c *Controller) AddFault(f Fault) (Fault, error) { return c.faults.add(f) }

// Faults returns the active faults, oldest first, with their hits so far. Its cost is O(faults).
func (c *Controller) Faults() []Fault { return c.faults.list() }

// RemoveFault removes the fault with the id. ErrNotFound when there is none: never added, removed
// already, or used up (Times).
func (c *Controller) RemoveFault(id string) error { return c.faults.remove(id) }

// ClearFaults removes every fault.
func (c *Controller) ClearFaults() { c.faults.clear() }

// Requests returns up to limit recorded requests (every route but the controls'), oldest first,
// from the offset-th on; see RecordedRequest for what is kept and what is redacted. The log keeps
// the newest 1,000 requests within 8 MiB. Its cost is O(limit).
func (c *Controller) Requests(offset, limit int) []RecordedRequest {
	return c.recorder.page(max(0, offset), max(0, limit))
}

// ClearRequests forgets the recorded requests.
func (c *Controller) ClearRequests() { c.recorder.clear() }

// IssueUserToken issues a bearer token acting as user (a user id or username) of team, a service
// user or a person, valid on /v1 (for that team) and /api/v1 like a token of the service token
// exchange, for Controls.TokenTTL (default an hour) of the engine's clock. The token is kept only
// in the handler's memory (hashed) and is forgotten on Reset and Replace. Errors: those of
// opa.Engine.PrincipalForUser: ErrNotFound for an unknown team or user, ErrUnauthorized for a
// disabled user.
func (c *Controller) IssueUserToken(ctx context.Context, team, user string) (opa.IssuedToken, error) {
	ttl := c.cfg.TokenTTL
	if ttl <= 0 {
		ttl = defaultUserTokenTTL
	}
	return c.users.issue(ctx, c.h.Engine(), team, user, c.h.now().UTC(), ttl)
}

// userPrincipal resolves a user token of team ("" for any team) to its principal.
func (c *Controller) userPrincipal(ctx context.Context, e *opa.Engine, team, bearer string) (opa.Principal, error) {
	return c.users.principal(ctx, e, team, bearer, c.h.now())
}

func (h *Handler) controlRoutes() {
	m := h.mux
	m.HandleFunc("POST /_fake/reset", h.control(h.reset))
	m.HandleFunc("GET /_fake/clock", h.control(h.getClock))
	m.HandleFunc("POST /_fake/clock", h.control(h.setClock))
	m.HandleFunc("GET /_fake/faults", h.control(h.listFaults))
	m.HandleFunc("POST /_fake/faults", h.control(h.addFault))
	m.HandleFunc("DELETE /_fake/faults", h.control(h.clearFaults))
	m.HandleFunc("DELETE /_fake/faults/{id}", h.control(h.deleteFault))
	m.HandleFunc("GET /_fake/requests", h.control(h.listRequests))
	m.HandleFunc("DELETE /_fake/requests", h.control(h.clearRequests))
	m.HandleFunc("POST /_fake/tokens", h.control(h.userToken))
	m.HandleFunc("POST /_fake/gateways", h.control(h.registerGateway))
	h.conditionRoutes()
}

func (h *Handler) control(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) error {
	if err := h.ctl.Reset(); err != nil {
		return err
	}
	noContent(w)
	return nil
}

type clockBody struct {
	Now     *time.Time `json:"now,omitempty"`
	Advance string     `json:"advance,omitempty"`
}

func (h *Handler) getClock(w http.ResponseWriter, r *http.Request) error {
	now, err := h.ctl.Now()
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, clockBody{Now: &now})
	return nil
}

// setClock answers POST /_fake/clock. A failure of the due work after the clock moved is logged,
// not answered: the clock did move.
func (h *Handler) setClock(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.ctl.Clock(); err != nil {
		return err
	}
	var req clockBody
	if err := requireBody(r, &req); err != nil {
		return err
	}
	switch {
	case req.Now != nil && req.Advance != "":
		return errclass.Mark(errclass.Invalid, "give either now or advance, not both")
	case req.Now != nil:
		if err := h.ctl.setNow(*req.Now); err != nil {
			return err
		}
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return errclass.Mark(errclass.Invalid, "advance must be a non-negative Go duration such as \"90m\"")
		}
		if err := h.ctl.advance(d); err != nil {
			return err
		}
	default:
		return errclass.Mark(errclass.Invalid, "give now (RFC 3339) or advance (a duration)")
	}
	if err := h.ctl.tick(r.Context()); err != nil {
		h.log.Warn("tick after a clock change", "error", err)
	}
	now, err := h.ctl.Now()
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, clockBody{Now: &now})
	return nil
}

func (h *Handler) listFaults(w http.ResponseWriter, r *http.Request) error {
	encode(w, http.StatusOK, list[Fault]{List: h.ctl.Faults()})
	return nil
}

func (h *Handler) addFault(w http.ResponseWriter, r *http.Request) error {
	var f Fault
	if err := requireBody(r, &f); err != nil {
		return err
	}
	out, err := h.ctl.AddFault(f)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) clearFaults(w http.ResponseWriter, r *http.Request) error {
	h.ctl.ClearFaults()
	noContent(w)
	return nil
}

func (h *Handler) deleteFault(w http.ResponseWriter, r *http.Request) error {
	if err := h.ctl.RemoveFault(r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

type userTokenRequest struct {
	Team string `json:"team"`
	User string `json:"user"`
}

// userToken answers POST /_fake/tokens.
func (h *Handler) userToken(w http.ResponseWriter, r *http.Request) error {
	var req userTokenRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if req.Team == "" || req.User == "" {
		return errclass.Mark(errclass.Invalid, "team and user are required")
	}
	tok, err := h.ctl.IssueUserToken(r.Context(), req.Team, req.User)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, serviceTokenResponse{BearerToken: tok.BearerToken, ExpiresAt: tok.ExpiresAt.UTC(), TeamName: tok.TeamName})
	return nil
}
