//go:build unix

package filestore

import (
	"os"
	"syscall"

	"github.com/cockroachdb/errors"
)

// errWouldBlock is returned by lockFile when another holder has the lock.
var errWouldBlock = syscall.EWOULDBLOCK

// lockFile takes flock(LOCK_EX|LOCK_NB) on f and returns the release (closing f releases it too).
// flock locks belong to the open file description, so a second open of the same file in the same
// process is refused too.
func lockFile(f *os.File) (func(), error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return nil, err
	}
	if errors.Is(lerr, syscall.EWOULDBLOCK) {
		return nil, errWouldBlock
	}
	if lerr != nil {
		return nil, lerr
	}
	return func() {}, nil
}
