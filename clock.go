package opa

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Clock tells the time. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that moves only when told to. It is safe for concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a ManualClock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t (backwards too).
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// IDSource makes ids for new objects. Implementations must be safe for concurrent use.
type IDSource interface {
	NewID() string
}

type randomIDs struct{}

func (randomIDs) NewID() string { return uuid.NewString() }

// SeededIDs yields a deterministic sequence of UUIDv4-shaped ids. Safe for concurrent use.
type SeededIDs struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

// NewSeededIDs returns a SeededIDs seeded with seed.
func NewSeededIDs(seed uint64) *SeededIDs {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &SeededIDs{rng: rand.NewChaCha8(s)}
}

// NewID returns the next id.
func (s *SeededIDs) NewID() string {
	var b [16]byte
	s.mu.Lock()
	_, _ = s.rng.Read(b[:])
	s.mu.Unlock()
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	u, err := uuid.FromBytes(b[:])
	if err != nil {
		panic(fmt.Sprintf("uuid.FromBytes of 16 bytes: %v", err))
	}
	return u.String()
}
