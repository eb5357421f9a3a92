package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opakit/opa/internal/errclass"
)

// Fault is an injected failure. Requests whose method matches Method (empty: any) and whose path
// equals Path, or starts with it when Path ends in "*", are delayed by LatencyMS and then, if
// Status is not 0, answered with that status and Body (default: the API's error body for the
// status). A 429 carries X-RateLimit-Retry-At = now + RetryAfterSeconds (default 1), now being
// the engine's clock (the fake clock when the controls have one), like the service token
// limiter's. Times limits how many requests the fault hits (0: every one); a fault that has hit
// Times requests is removed. ID and Hits are set by the controls.
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

// maxFaultLatencyMS bounds a fault's latency: ten minutes.
const maxFaultLatencyMS = 600000

// check reports what is wrong with f, as an ErrInvalid error naming the wire field.
func (f *Fault) check() error {
	switch {
	case !strings.HasPrefix(f.Path, "/"):
		return errclass.Mark(errclass.Invalid, "path must start with /")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return errclass.Mark(errclass.Invalid, "status must be an HTTP status code")
	case f.Status == 0 && f.LatencyMS <= 0:
		return errclass.Mark(errclass.Invalid, "give a status, a latency_ms, or both")
	case f.LatencyMS < 0 || f.LatencyMS > maxFaultLatencyMS || f.Times < 0:
		return errclass.Mark(errclass.Invalid, "latency_ms must be 0-%d and times not negative", maxFaultLatencyMS)
	case f.RetryAfterSeconds < 0:
		return errclass.Mark(errclass.Invalid, "retry_after_seconds must not be negative")
	case len(f.Body) > 0 && !json.Valid(f.Body):
		return errclass.Mark(errclass.Invalid, "body must be JSON")
	}
	return nil
}

// faultSet holds the active faults in the order they were added. It is safe for concurrent use.
type faultSet struct {
	mu     sync.Mutex
	next   int
	faults []*Fault
}

// add checks f and adds a copy with a new id and no hits, which it returns.
func (s *faultSet) add(f Fault) (Fault, error) {
	if err := f.check(); err != nil {
		return Fault{}, err
	}
	f.Body = append(json.RawMessage(nil), f.Body...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	f.ID = strconv.Itoa(s.next)
	f.Hits = 0
	s.faults = append(s.faults, &f)
	return f, nil
}

// list returns copies of the active faults, oldest first. Its cost is O(faults).
func (s *faultSet) list() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

// remove removes the fault with the id; ErrNotFound when there is none (any more).
func (s *faultSet) remove(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.ID == id {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return nil
		}
	}
	return errclass.Mark(errclass.NotFound, "fault %q does not exist", id)
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
		b, _ := json.Marshal(oktaErrorFor(f.Status, nil))
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
