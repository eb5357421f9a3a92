package filestore

import (
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/errors"
)

// File is an open file of an FS. Sync must make the written data durable (fdatasync is enough:
// it persists the size of a grown file too).
type File interface {
	io.Reader
	io.Writer
	io.WriterAt
	// Sync flushes the file's data (and its size) to stable storage.
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Close closes the file.
	Close() error
}

// FS is the file system the store works through. Every file operation of the store goes through
// it, so tests can inject faults (a failed fsync, a short write, ENOSPC, EIO). Implementations
// must be safe for concurrent use.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Rename renames a file atomically within a directory.
	Rename(oldname, newname string) error
	// Remove removes a file.
	Remove(name string) error
	// ReadDir returns the names of the entries of dir.
	ReadDir(dir string) ([]string, error)
	// MkdirAll creates dir and its parents.
	MkdirAll(dir string, perm os.FileMode) error
	// SyncDir makes the entries of dir (creations, renames, removals) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file name, creating it if needed, and returns its
	// release. It fails at once if another holder (in this or another process) has the lock.
	Lock(name string) (io.Closer, error)
}

// OSFS is the FS of the operating system. Its File.Sync is fdatasync on Linux and fsync elsewhere;
// its Lock is flock(LOCK_EX|LOCK_NB) on Unix. It is safe for concurrent use.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile opens a file with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Rename calls os.Rename.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove calls os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// MkdirAll calls os.MkdirAll.
func (OSFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// ReadDir returns the entry names of dir.
func (OSFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// SyncDir opens dir and fsyncs it.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lock takes an exclusive, non-blocking lock on name.
func (OSFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return lockCloser{f: f, unlock: unlock}, nil
}

type lockCloser struct {
	f      *os.File
	unlock func()
}

func (l lockCloser) Close() error {
	l.unlock()
	return l.f.Close()
}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return datasync(f.File) }

// DropCache evicts the file's clean cached pages (posix_fadvise POSIX_FADV_DONTNEED on Linux;
// nothing elsewhere).
func (f osFile) DropCache() error { return dropCache(f.File) }

// CacheDropper is implemented by a File that can evict its clean pages from the page cache, so
// that the next read comes from the device. The store uses it, when a File has it, to read its
// files back after a failed fsync.
type CacheDropper interface {
	DropCache() error
}

// readFile reads the whole file name through fsys; with uncached, after evicting it from the page
// cache where the File can (CacheDropper).
func readFile(fsys FS, name string, uncached bool) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if d, ok := f.(CacheDropper); ok && uncached {
		if err := d.DropCache(); err != nil {
			return nil, errors.Wrapf(err, "filestore: evict %s from the page cache", filepath.Base(name))
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, errors.Wrapf(err, "filestore: read %s", filepath.Base(name))
	}
	return b, nil
}
