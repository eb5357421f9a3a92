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
//
// The controls need no credentials: they are for a fake on a test machine; the server binary turns
// them off by default with -data. Recorded requests never include the Authorization header,
// cookies, or the value of a secret-named JSON member or query parameter (secretField), which are
// replaced by REDACTED; the log is bounded in entries and bytes (see RecordedRequest).

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

const controlPrefix = "/_fake/"

func isControlPath(p string) bool { return strings.HasPrefix(p, controlPrefix) }

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
}

func (h *Handler) control(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) error {
	if h.controls.Reset == nil {
		return errclass.Mark(errclass.NotFound, "reset is not available: the server was not started from fixtures")
	}
	e, err := h.controls.Reset()
	if err != nil {
		return err
	}
	h.SetEngine(e)
	h.faults.clear()
	h.recorder.clear()
	noContent(w)
	return nil
}

type clockBody struct {
	Now     *time.Time `json:"now,omitempty"`
	Advance string     `json:"advance,omitempty"`
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

func (h *Handler) manualClock() (*opa.ManualClock, error) {
	if h.controls.Clock == nil {
		return nil, errclass.Mark(errclass.NotFound, "the clock controls are not available: the engine runs on the system clock")
	}
	return h.controls.Clock, nil
}

func (h *Handler) getClock(w http.ResponseWriter, r *http.Request) error {
	c, err := h.manualClock()
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	encode(w, http.StatusOK, clockBody{Now: &now})
	return nil
}

func (h *Handler) setClock(w http.ResponseWriter, r *http.Request) error {
	c, err := h.manualClock()
	if err != nil {
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
		if lo, hi := clockRange(); !clockInRange(*req.Now) {
			return errclass.Mark(errclass.Invalid, "now must be between %s and %s, so that every time the engine computes from it can be encoded", lo.Format(time.RFC3339), hi.Format(time.RFC3339))
		}
		c.Set(*req.Now)
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			return errclass.Mark(errclass.Invalid, "advance must be a non-negative Go duration such as \"90m\"")
		}
		if _, hi := clockRange(); !clockInRange(c.Now().Add(d)) {
			return errclass.Mark(errclass.Invalid, "advancing by %s would move the clock past %s, beyond which the times the engine computes cannot be encoded", d, hi.Format(time.RFC3339))
		}
		c.Advance(d)
	default:
		return errclass.Mark(errclass.Invalid, "give now (RFC 3339) or advance (a duration)")
	}
	if err := h.Engine().Tick(r.Context()); err != nil {
		h.log.Warn("tick after a clock change", "error", err)
	}
	now := c.Now().UTC()
	encode(w, http.StatusOK, clockBody{Now: &now})
	return nil
}

// Fault is an injected failure. Requests whose method matches Method (empty: any) and whose path
// equals Path, or starts with it when Path ends in "*", are delayed by LatencyMS and then, if
// Status is not 0, answered with that status and Body (default: the API's error body for the
// status). A 429 carries X-RateLimit-Retry-At = now + RetryAfterSeconds (default 1), now being
// the engine's clock (the fake clock when the controls have one), like the service token limiter's. Times limits
// how many requests the fault hits (0: every one).
type Fault struct {
	ID                string          `json:"id"`
	Method            string          `json:"method,omitempty"`
	Path              string          `json:"path"`
	Status            int             `json:"status,omitempty"`
	Body              json.RawMessage `json:"body,omitempty"`
	LatencyMS         int             `json:"latency_ms,omitempty"`
	RetryAfterSeconds int             `json:"retry_after_seconds,omitempty"`
	Times             int             `json:"times,omitempty"`
	Hits              int             `json:"hits"`
}

type faultSet struct {
	mu     sync.Mutex
	next   int
	faults []*Fault
}

func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// match returns a copy of the first fault that applies to r, counting the hit.
func (s *faultSet) match(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if p, ok := strings.CutSuffix(f.Path, "*"); ok {
			if !strings.HasPrefix(r.URL.Path, p) {
				continue
			}
		} else if f.Path != r.URL.Path {
			continue
		}
		f.Hits++
		out := *f
		if f.Times > 0 && f.Hits >= f.Times {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

// apply injects a matching fault; it reports whether it answered the request.
func (s *faultSet) apply(w http.ResponseWriter, r *http.Request, now func() time.Time) bool {
	f, ok := s.match(r)
	if !ok {
		return false
	}
	if f.LatencyMS > 0 {
		// The latency must not run into the server's write timeout: give the response that long
		// plus a minute (a writer without deadlines ignores this).
		latency := time.Duration(f.LatencyMS) * time.Millisecond
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(latency + time.Minute))
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.Status == http.StatusTooManyRequests {
		retry := f.RetryAfterSeconds
		if retry <= 0 {
			retry = 1
		}
		w.Header().Set("X-RateLimit-Retry-At", strconv.FormatInt(now().Add(time.Duration(retry)*time.Second).Unix(), 10))
		w.Header().Set("X-RateLimit-Remaining", "0")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	if len(f.Body) > 0 {
		_, _ = w.Write(f.Body)
		return true
	}
	if strings.HasPrefix(r.URL.Path, "/api/v1/") {
		b, _ := json.Marshal(oktaError{ErrorCode: "E0000047", ErrorSummary: http.StatusText(f.Status), ErrorLink: "E0000047",
			ErrorID: newErrorID(), ErrorCauses: []oktaCauses{}})
		_, _ = w.Write(b)
		return true
	}
	b, _ := json.Marshal(v1Error{Type: faultType(f.Status), Code: f.Status, Message: http.StatusText(f.Status)})
	_, _ = w.Write(b)
	return true
}

func faultType(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "service_offline"
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "forbidden_error"
	case http.StatusNotFound:
		return "resource_does_not_exist"
	case http.StatusConflict:
		return "resource_already_exists"
	case http.StatusBadRequest:
		return "invalid_request"
	default:
		return "internal_error"
	}
}

func (h *Handler) listFaults(w http.ResponseWriter, r *http.Request) error {
	h.faults.mu.Lock()
	out := make([]Fault, 0, len(h.faults.faults))
	for _, f := range h.faults.faults {
		out = append(out, *f)
	}
	h.faults.mu.Unlock()
	encode(w, http.StatusOK, list[Fault]{List: out})
	return nil
}

func (h *Handler) addFault(w http.ResponseWriter, r *http.Request) error {
	var f Fault
	if err := requireBody(r, &f); err != nil {
		return err
	}
	switch {
	case !strings.HasPrefix(f.Path, "/"):
		return errclass.Mark(errclass.Invalid, "path must start with /")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return errclass.Mark(errclass.Invalid, "status must be an HTTP status code")
	case f.Status == 0 && f.LatencyMS <= 0:
		return errclass.Mark(errclass.Invalid, "give a status, a latency_ms, or both")
	case f.LatencyMS < 0 || f.LatencyMS > 600000 || f.Times < 0:
		return errclass.Mark(errclass.Invalid, "latency_ms must be 0-600000 and times not negative")
	case len(f.Body) > 0 && !json.Valid(f.Body):
		return errclass.Mark(errclass.Invalid, "body must be JSON")
	}
	h.faults.mu.Lock()
	h.faults.next++
	f.ID = strconv.Itoa(h.faults.next)
	f.Hits = 0
	h.faults.faults = append(h.faults.faults, &f)
	out := f
	h.faults.mu.Unlock()
	encode(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) clearFaults(w http.ResponseWriter, r *http.Request) error {
	h.faults.clear()
	noContent(w)
	return nil
}

func (h *Handler) deleteFault(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	for i, f := range h.faults.faults {
		if f.ID == id {
			h.faults.faults = append(h.faults.faults[:i:i], h.faults.faults[i+1:]...)
			noContent(w)
			return nil
		}
	}
	return errclass.Mark(errclass.NotFound, "fault %q does not exist", id)
}
