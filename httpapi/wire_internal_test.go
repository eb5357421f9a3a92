package httpapi

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
)

// 5xx bodies are generic: the detail goes to the log only.
func TestServerErrorsAreGeneric(t *testing.T) {
	var logBuf bytes.Buffer
	h := &Handler{log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		okta     bool
		wantBody string
	}{
		{"unclassified", errors.New("disk /var/x failed: detail-123"), 500, false, `"message":"Internal server error"`},
		{"corrupt", errors.Mark(errors.New("checksum detail-123"), opa.ErrCorrupt), 500, false, `"type":"internal_error"`},
		{"unavailable", errors.Mark(errors.New("agent detail-123"), opa.ErrUnavailable), 503, false, `"type":"service_offline"`},
		{"timeout", errors.Mark(errors.New("agent detail-123"), opa.ErrTimeout), 504, false, `"message":"Timed out waiting for agent"`},
		{"okta unavailable", errors.Mark(errors.New("agent detail-123"), opa.ErrUnavailable), 502, true, `"errorSummary":"There are no connected agents."`},
		{"okta timeout", errors.Mark(errors.New("agent detail-123"), opa.ErrTimeout), 504, true, `"errorSummary":"Timed out waiting for agent"`},
		{"okta internal", errors.New("detail-123"), 500, true, `"errorCode":"E0000009"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logBuf.Reset()
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/v1/teams/t/x", nil)
			if tc.okta {
				h.writeOktaError(w, r, tc.err)
			} else {
				h.writeError(w, r, tc.err)
			}
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("status %d body %s", w.Code, body)
			}
			if strings.Contains(body, "detail-123") {
				t.Fatalf("the detail leaked into the body: %s", body)
			}
			if !strings.Contains(logBuf.String(), "detail-123") {
				t.Fatalf("the detail is not in the log: %s", logBuf.String())
			}
		})
	}
}
