//go:build !unix

package filestore

import (
	"os"
	"sync"

	"github.com/cockroachdb/errors"
)

// errWouldBlock is returned by lockFile when another holder has the lock.
var errWouldBlock = errors.New("lock held")

var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

// lockFile locks f within this process only (these platforms have no flock) and returns the
// release.
func lockFile(f *os.File) (func(), error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	name := f.Name()
	if held[name] {
		return nil, errWouldBlock
	}
	held[name] = true
	return func() {
		heldMu.Lock()
		defer heldMu.Unlock()
		delete(held, name)
	}, nil
}
