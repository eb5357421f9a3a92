//go:build !linux

package storage_test

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
