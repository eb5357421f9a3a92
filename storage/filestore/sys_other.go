//go:build !linux

package filestore

import "os"

// datasync flushes f with fsync where fdatasync is not available.
func datasync(f *os.File) error { return f.Sync() }

// dropCache does nothing where posix_fadvise is not used.
func dropCache(*os.File) error { return nil }
