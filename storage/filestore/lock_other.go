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

// lockFile locks f within this process only: other platforms have no flock.
func lockFile(f *os.File) error {
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[f.Name()] {
		return errWouldBlock
	}
	held[f.Name()] = true
	return nil
}
