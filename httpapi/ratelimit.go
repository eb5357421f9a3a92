package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Failed service token exchanges are limited per client IP and team (as the engine resolves it,
// however the path spells it; see teamKey) with a token bucket: a burst of tokenBurst failures,
// refilled at one per tokenRefill. While the bucket is empty every exchange from that client for
// that team (right or wrong) is answered 429, so a brute force of key secrets learns nothing and
// proceeds at most tokenBurst + t/tokenRefill guesses in time t. Successful exchanges cost nothing.
const (
	tokenBurst   = 10
	tokenRefill  = 6 * time.Second
	maxBuckets   = 10000 // buckets kept at most (refilled ones are dropped first)
	limitMessage = "Too many failed authentication attempts; retry later"
)

// tokenLimiter holds the buckets. It is safe for concurrent use.
type tokenLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newTokenLimiter(now func() time.Time) *tokenLimiter {
	return &tokenLimiter{now: now, buckets: map[string]*bucket{}}
}

// refill brings b up to date at now (a clock moved backwards refills nothing).
func refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(tokenBurst, b.tokens+float64(d)/float64(tokenRefill))
	}
	b.last = now
}

// allow reports whether key may try now, and if not, when it may.
func (l *tokenLimiter) allow(key string) (bool, time.Time) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true, time.Time{}
	}
	refill(b, now)
	if b.tokens >= 1 {
		return true, time.Time{}
	}
	return false, now.Add(time.Duration((1 - b.tokens) * float64(tokenRefill)))
}

// fail spends one token of key's bucket.
func (l *tokenLimiter) fail(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			// Drop refilled buckets; if that is not enough (a flood of distinct team names),
			// drop arbitrary ones so memory stays bounded.
			for k, ob := range l.buckets {
				if refill(ob, now); ob.tokens >= tokenBurst {
					delete(l.buckets, k)
				}
			}
			for k := range l.buckets {
				if len(l.buckets) < maxBuckets*9/10 {
					break
				}
				delete(l.buckets, k)
			}
		}
		b = &bucket{tokens: tokenBurst, last: now}
		l.buckets[key] = b
	}
	refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// teamKey names the team of a service token exchange as the engine resolves it: its id, so that
// every spelling the case-insensitive team lookup accepts shares one bucket; a name no team has
// is lower-cased the way the lookup compares it.
func (h *Handler) teamKey(r *http.Request) string {
	name := r.PathValue("team_name")
	if t, err := h.Engine().Team(r.Context(), name); err == nil {
		return "id:" + t.ID
	}
	return "name:" + strings.ToLower(name)
}

// limitStatusWriter remembers the status written.
type limitStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *limitStatusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// limitTokens wraps the service token exchange with the failed-attempt limiter, on the handler's
// clock (the engine's, so tests drive it with opa.ManualClock). A refused attempt is 429 with
// X-RateLimit-Retry-At (Unix seconds), Retry-After and the body
// {"type":"too_many_requests","code":429,"message":…}.
func (h *Handler) limitTokens(next http.Handler) http.Handler {
	l := newTokenLimiter(func() time.Time { return h.now() })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		key := ip + "\x00" + h.teamKey(r)
		if ok, at := l.allow(key); !ok {
			h.rateHeaders(w)
			w.Header().Set("X-RateLimit-Retry-At", strconv.FormatInt(at.Unix(), 10))
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(at.Sub(h.now()).Seconds()+0.999))))
			encode(w, http.StatusTooManyRequests, v1Error{Type: "too_many_requests", Code: http.StatusTooManyRequests, Message: limitMessage})
			return
		}
		sw := &limitStatusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized {
			l.fail(key)
		}
	})
}
