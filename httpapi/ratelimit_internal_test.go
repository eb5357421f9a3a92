package httpapi

import (
	"strconv"
	"testing"
	"time"
)

// TestTokenLimiterBounded: failures under 20,000 distinct keys (a flood of made-up team names)
// keep at most maxBuckets buckets, and a fresh key is still limited after tokenBurst failures.
func TestTokenLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newTokenLimiter(func() time.Time { return now })
	for i := range 20000 {
		l.fail("198.51.100.7\x00t" + strconv.Itoa(i))
		if len(l.buckets) > maxBuckets {
			t.Fatalf("%d buckets after %d keys", len(l.buckets), i+1)
		}
	}
	for range tokenBurst {
		l.fail("k")
	}
	if ok, at := l.allow("k"); ok || !at.Equal(now.Add(tokenRefill)) {
		t.Fatalf("allow after %d failures = %v, %v", tokenBurst, ok, at)
	}
	t.Logf("%d buckets after 20,000 keys", len(l.buckets))
}
