package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/opakit/opa/internal/errclass"
)

// CORS (the Fetch standard's CORS protocol), decided here since the real API serves no browser
// pages of other origins (docs/wire.md#cors): a request whose Origin the policy allows gets
// Access-Control-Allow-Origin (the origin, or "*" for a policy that allows any) and
// Access-Control-Expose-Headers naming the headers clients read (Link for paging, the
// X-RateLimit-* headers for back-off); a preflight (OPTIONS with Access-Control-Request-Method)
// from such an origin is answered 204 with the methods and request headers the API takes, before
// the request log and the faults see it, so that an injected fault reaches the page as the API's
// answer instead of as a failed preflight. A request from any other origin gets no CORS header at
// all, and its preflight the answer the API gives any OPTIONS request. Credentials (cookies) are
// not part of it: the API authenticates with the Authorization header.
const (
	corsAllowMethods  = "GET, POST, PUT, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type"
	corsExposeHeaders = "Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Retry-At"
	corsMaxAge        = "600"
)

// CORSPolicy says which browser origins may call the API from their pages. Make one with
// NewCORSPolicy and give it to WithCORS. It is immutable and safe for concurrent use.
type CORSPolicy struct {
	any     bool
	origins map[string]bool
}

// NewCORSPolicy returns a policy allowing origins, each "*" (any origin) or an origin as a browser
// sends it in the Origin header, "scheme://host[:port]" with scheme http or https: a default port
// (80, 443) is dropped and the scheme and host are lower-cased, so "HTTP://Example.com:80" allows
// "http://example.com". Errors: ErrInvalid naming the first entry that is neither, or no entry.
func NewCORSPolicy(origins ...string) (*CORSPolicy, error) {
	if len(origins) == 0 {
		return nil, errclass.Mark(errclass.Invalid, "a CORS policy needs at least one origin")
	}
	p := &CORSPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		if strings.TrimSpace(o) == "*" {
			p.any = true
			continue
		}
		norm, ok := normalizeOrigin(strings.TrimSpace(o))
		if !ok {
			return nil, errclass.Mark(errclass.Invalid, "%q is not an origin: give scheme://host[:port] (http or https, no path) or *", o)
		}
		p.origins[norm] = true
	}
	return p, nil
}

// normalizeOrigin returns the serialization a browser sends for the origin s, or false when s is
// not an http or https origin without a path, query, fragment or user.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.ForceQuery || strings.HasSuffix(s, "#") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return "", false
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
		port = ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 address
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// allows reports whether a page of origin (an Origin header) may call the API.
func (p *CORSPolicy) allows(origin string) bool {
	return p.any || p.origins[origin]
}

// WithCORS lets pages of the policy's origins call the API from a browser (see CORSPolicy). A nil
// policy, the default, sends no CORS headers.
func WithCORS(p *CORSPolicy) Option {
	return func(h *Handler) { h.cors = p }
}

// applyCORS sets the CORS headers of a request and reports whether it answered it (an allowed
// preflight).
func (h *Handler) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	if h.cors == nil {
		return false
	}
	hd := w.Header()
	if !h.cors.any {
		hd.Add("Vary", "Origin") // the answer depends on the Origin header
	}
	origin := r.Header.Get("Origin")
	if origin == "" || !h.cors.allows(origin) {
		return false
	}
	allow := origin
	if h.cors.any {
		allow = "*"
	}
	hd.Set("Access-Control-Allow-Origin", allow)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", corsAllowMethods)
		hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		hd.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	hd.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	return false
}
