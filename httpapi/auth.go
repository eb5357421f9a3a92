package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// rateLimit is the advertised per-minute request budget. The fake does not enforce it (inject a
// 429 fault under /_fake/faults to test a client's back-off); it counts requests so that
// X-RateLimit-Remaining moves like the real header.
const rateLimit = 10000

// apiFunc is a /v1 operation acting as the authenticated principal.
type apiFunc func(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error

// v1 wraps a /v1 team operation: rate-limit headers, bearer authentication for the path's team,
// and the /v1 error body for any error.
func (h *Handler) v1(fn apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.rateHeaders(w)
		e := h.Engine()
		p, err := h.authenticate(r.Context(), e, r.PathValue("team_name"), bearer(r, "Bearer"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := fn(w, r, e, p); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// public wraps a /v1 operation that needs no credentials (the service token exchange).
func (h *Handler) public(fn func(w http.ResponseWriter, r *http.Request, e *opa.Engine) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.rateHeaders(w)
		if err := fn(w, r, h.Engine()); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// okta wraps an /api/v1 operation: "SSWS <token>" or "Bearer <token>" authentication and Okta's
// error body.
func (h *Handler) okta(fn apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.rateHeaders(w)
		e := h.Engine()
		p, err := h.oktaPrincipal(r.Context(), e, r)
		if err != nil {
			h.writeOktaError(w, r, err)
			return
		}
		if err := fn(w, r, e, p); err != nil {
			h.writeOktaError(w, r, err)
		}
	})
}

// authenticate resolves a /v1 bearer token of the team: a token of the service token exchange, or
// a user token the controls issued (Controller.IssueUserToken).
func (h *Handler) authenticate(ctx context.Context, e *opa.Engine, team, tok string) (opa.Principal, error) {
	p, err := e.Authenticate(ctx, team, tok)
	if err != nil && h.ctl != nil {
		if up, uerr := h.ctl.userPrincipal(ctx, e, team, tok); uerr == nil {
			return up, nil
		}
	}
	return p, err
}

// oktaPrincipal resolves an /api/v1 credential: a user token the controls issued, a registered
// Okta API token, or a bearer token from the service token exchange of any team.
func (h *Handler) oktaPrincipal(ctx context.Context, e *opa.Engine, r *http.Request) (opa.Principal, error) {
	fail := errclass.Mark(errclass.Unauthorized, "authentication failed")
	tok := bearer(r, "SSWS")
	if tok == "" {
		tok = bearer(r, "Bearer")
	}
	if tok == "" {
		return opa.Principal{}, fail
	}
	fail = errclass.Tag(errclass.Mark(errclass.Unauthorized, "invalid token provided"), errInvalidToken)
	if h.ctl != nil {
		if p, err := h.ctl.userPrincipal(ctx, e, "", tok); err == nil {
			return p, nil
		}
	}
	if ot, ok := h.oktaTokens[tok]; ok {
		p, err := e.PrincipalForUser(ctx, ot.Team, ot.User)
		if err != nil {
			return opa.Principal{}, fail
		}
		return p, nil
	}
	var teams []string
	_ = e.Store().View(ctx, func(tx storage.ReadTx) error {
		ts, err := storage.Teams.All(tx)
		for _, t := range ts {
			teams = append(teams, t.Name)
		}
		return err
	})
	for _, t := range teams {
		if p, err := e.Authenticate(ctx, t, tok); err == nil {
			return p, nil
		}
	}
	return opa.Principal{}, fail
}

// bearer returns the credential of an "Authorization: <scheme> <token>" header (scheme matched
// case-insensitively), or "".
func bearer(r *http.Request, scheme string) string {
	a := r.Header.Get("Authorization")
	if len(a) <= len(scheme)+1 || !strings.EqualFold(a[:len(scheme)], scheme) || a[len(scheme)] != ' ' {
		return ""
	}
	return strings.TrimSpace(a[len(scheme)+1:])
}

// rateHeaders sets X-RateLimit-Limit, -Remaining and -Reset for a fixed one-minute window.
func (h *Handler) rateHeaders(w http.ResponseWriter) {
	now := time.Now().Unix()
	window := now / 60
	h.rateMu.Lock()
	if window != h.rateWindow {
		h.rateWindow, h.rateUsed = window, 0
	}
	h.rateUsed++
	remaining := max(0, rateLimit-h.rateUsed)
	h.rateMu.Unlock()
	hd := w.Header()
	hd.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
	hd.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	hd.Set("X-RateLimit-Reset", strconv.FormatInt((window+1)*60, 10))
}
