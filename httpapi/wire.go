package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// decode reads the request body as JSON into v. JSON null leaves a field unset and unknown fields
// are ignored; an empty body decodes nothing. Malformed JSON, a wrong type, trailing data and a body
// over maxBody are ErrInvalid errors.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errclass.Mark(errclass.Invalid, "the request body is larger than %d bytes", maxBody)
		}
		return errclass.Mark(errclass.Invalid, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		if opa.ErrorClass(err) != nil {
			return err // a type's own UnmarshalJSON said what is wrong
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "the body"
			}
			return errclass.Mark(errclass.Invalid, "%s must be a JSON %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return errclass.Tag(errclass.Mark(errclass.Invalid, "the request body is not well-formed JSON"), errMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errclass.Tag(errclass.Mark(errclass.Invalid, "the request body has data after the JSON value"), errMalformed)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	default:
		return "number"
	}
}

// requireBody is decode for operations whose body is required.
func requireBody(r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Body == http.NoBody {
		return errclass.Mark(errclass.Invalid, "a JSON request body is required")
	}
	return decode(r, v)
}

// encode writes v as JSON with the status. The body is built in a pooled buffer (a page of 100
// accounts is about 70 KB, which json.Marshal would allocate afresh, growing, on every request),
// then written at once, so an unencodable value still becomes a clean 500.
func encode(w http.ResponseWriter, status int, v any) {
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer putEncodeBuffer(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil { // Encode ends the body with "\n"
		// Only a programming error (an unencodable type) gets here.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"type":"internal_error","code":500,"message":"Internal server error"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// encodeBuffers holds encode's buffers; putEncodeBuffer keeps none over maxPooledBody, so one
// huge body does not stay allocated.
var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 1 << 20

func putEncodeBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBody {
		encodeBuffers.Put(b)
	}
}

// noContent answers 204 with an empty body.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// list is the {"list":[…]} body.
type list[T any] struct {
	List []T `json:"list"`
}

// missingRoleMessage is the /v1 message of a missing role, verbatim from the API reference's
// sample (the engine's message, which names the role, stays in Go errors).
const missingRoleMessage = "Missing capability: role"

// status maps an error to the HTTP status and the /v1 error type: the one place that decides
// them. A missing role (opa.ErrMissingRole) is 401 authorization_error, as the reference's
// samples show; any other ErrForbidden (an access method that does not authorize, an unmet
// condition) is 403 forbidden_error.
func status(err error) (int, string) {
	if errors.Is(err, opa.ErrMissingRole) {
		return http.StatusUnauthorized, "authorization_error"
	}
	switch opa.ErrorClass(err) {
	case opa.ErrInvalid:
		return http.StatusBadRequest, "invalid_request"
	case opa.ErrUnauthorized:
		return http.StatusUnauthorized, "authentication_error"
	case opa.ErrForbidden:
		return http.StatusForbidden, "forbidden_error"
	case opa.ErrNotFound:
		return http.StatusNotFound, "resource_does_not_exist"
	case opa.ErrConflict:
		return http.StatusConflict, "resource_already_exists"
	case opa.ErrUnavailable:
		return http.StatusServiceUnavailable, "service_offline"
	case opa.ErrTimeout:
		return http.StatusGatewayTimeout, "gateway_timeout"
	default:
		return http.StatusInternalServerError, "internal_error"
	}
}

// v1Error is the OPA/ASA error body.
type v1Error struct {
	Type    string `json:"type"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeError answers a /v1 request with the error's status and {"type","code","message"} body.
// 5xx bodies are generic and the detail goes to the log.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, typ := status(err)
	msg := publicMessage(err)
	if typ == "authorization_error" {
		msg = missingRoleMessage
	}
	if code >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
		msg = genericMessage(code)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="opa"`)
	}
	encode(w, code, v1Error{Type: typ, Code: code, Message: msg})
}

// publicMessage returns the message of err's outermost layer, which for engine errors is the
// message the engine wrote for users.
func publicMessage(err error) string {
	s := err.Error()
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func genericMessage(code int) string {
	switch code {
	case http.StatusBadGateway:
		return "There are no connected agents."
	case http.StatusServiceUnavailable:
		return "The service is unavailable; retry later"
	case http.StatusGatewayTimeout:
		return "Timed out waiting for agent"
	default:
		return "Internal server error"
	}
}

// oktaError is the Okta management API error body.
type oktaError struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []oktaCauses `json:"errorCauses"`
}

type oktaCauses struct {
	ErrorSummary string `json:"errorSummary"`
}

// writeOktaError answers an /api/v1 request with Okta's error body (see oktaErrorFor). Okta's
// API has no 401 for a missing role: there it is 403 E0000006 like any refusal.
func (h *Handler) writeOktaError(w http.ResponseWriter, r *http.Request, err error) {
	var code int
	switch opa.ErrorClass(err) {
	case opa.ErrInvalid:
		code = http.StatusBadRequest
	case opa.ErrUnauthorized:
		code = http.StatusUnauthorized
	case opa.ErrForbidden:
		code = http.StatusForbidden
	case opa.ErrNotFound:
		code = http.StatusNotFound
	case opa.ErrConflict:
		code = http.StatusConflict
	case opa.ErrUnavailable:
		code = http.StatusBadGateway
	case opa.ErrTimeout:
		code = http.StatusGatewayTimeout
	default:
		code = http.StatusInternalServerError
	}
	if code >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `SSWS realm="okta"`)
	}
	encode(w, code, oktaErrorFor(code, err))
}

// oktaErrorFor is Okta's error body for status code; err (nil for an injected fault) gives the
// detail. 400 E0000001 "Api validation failed: <detail>" with the detail as its one cause
// (E0000003 "The request body was not well-formed." for a malformed body); 401 E0000011 "Invalid
// token provided" for a credential that is not valid and E0000004 "Authentication failed" for
// none; 403 E0000006; 404 E0000007 "Not found: <detail>"; 409 E0000001; 429 E0000047; 502
// E0000150 "There are no connected agents."; 504 E0000151 "Timed out waiting for agent"; any
// other status E0000009. A detail that already carries the summary's prefix is not prefixed again.
func oktaErrorFor(code int, err error) oktaError {
	detail := http.StatusText(code)
	if err != nil {
		detail = err.Error() // after the summary's prefix: not capitalized
	}
	validation := func() oktaError {
		d := strings.TrimPrefix(strings.TrimPrefix(detail, "Api validation failed: "), "api validation failed: ")
		return oktaError{ErrorCode: "E0000001", ErrorSummary: "Api validation failed: " + d,
			ErrorCauses: []oktaCauses{{ErrorSummary: d}}}
	}
	var e oktaError
	switch code {
	case http.StatusBadRequest:
		if errors.Is(err, errMalformed) {
			e = oktaError{ErrorCode: "E0000003", ErrorSummary: "The request body was not well-formed."}
		} else {
			e = validation()
		}
	case http.StatusUnauthorized:
		if errors.Is(err, errInvalidToken) {
			e = oktaError{ErrorCode: "E0000011", ErrorSummary: "Invalid token provided"}
		} else {
			e = oktaError{ErrorCode: "E0000004", ErrorSummary: "Authentication failed"}
		}
	case http.StatusForbidden:
		e = oktaError{ErrorCode: "E0000006", ErrorSummary: "You do not have permission to perform the requested action"}
	case http.StatusNotFound:
		e = oktaError{ErrorCode: "E0000007", ErrorSummary: "Not found: " + strings.TrimPrefix(detail, "Not found: ")}
	case http.StatusConflict:
		e = validation()
	case http.StatusTooManyRequests:
		e = oktaError{ErrorCode: "E0000047", ErrorSummary: "API call exceeded rate limit due to too many requests."}
	case http.StatusBadGateway:
		e = oktaError{ErrorCode: "E0000150", ErrorSummary: "There are no connected agents."}
	case http.StatusGatewayTimeout:
		e = oktaError{ErrorCode: "E0000151", ErrorSummary: "Timed out waiting for agent"}
	default:
		e = oktaError{ErrorCode: "E0000009", ErrorSummary: "Internal Server Error"}
	}
	e.ErrorLink = e.ErrorCode
	e.ErrorID = newErrorID()
	if e.ErrorCauses == nil {
		e.ErrorCauses = []oktaCauses{}
	}
	return e
}

// errInvalidToken marks an /api/v1 credential that was given but is not valid (Okta's E0000011).
var errInvalidToken = errors.New("invalid token")

// errMalformed marks a body that is not JSON at all (Okta's E0000003).
var errMalformed = errors.New("malformed body")

func newErrorID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return "oae" + base64.RawURLEncoding.EncodeToString(b)
}

// queryBool parses a boolean query parameter; absent is false.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errclass.Mark(errclass.Invalid, "query parameter %s must be true or false", name)
	}
	return b, nil
}
