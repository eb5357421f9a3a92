package opatest

import (
	"sync"

	"github.com/opakit/opa"
)

// seededIDs is opa.SeededIDs that counts the ids it gave, so that a snapshot can record its
// position and a restored engine go on from there (and never give an id the store holds). It is
// safe for concurrent use.
type seededIDs struct {
	seed uint64

	mu  sync.Mutex
	src *opa.SeededIDs
	n   uint64
}

// newSeededIDs returns the source of seed that has given n ids already, or nil for seed 0 (random
// ids). Its cost is O(n).
func newSeededIDs(seed, n uint64) *seededIDs {
	if seed == 0 {
		return nil
	}
	s := &seededIDs{seed: seed, src: opa.NewSeededIDs(seed)}
	for range n {
		s.src.NewID()
	}
	s.n = n
	return s
}

// NewID implements opa.IDSource.
func (s *seededIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.src.NewID()
}

// position returns the seed and the number of ids given; 0, 0 for a nil (random) source.
func (s *seededIDs) position() (seed, n uint64) {
	if s == nil {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seed, s.n
}
