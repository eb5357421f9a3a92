//go:build js

package revealjwe

// classInvalid is always true in the js build: its errors carry only this package's sentinels
// (ErrInvalidKey, ErrInvalidArgument), not the module's classes, which live in cockroachdb/errors
// and are left out of the browser download on purpose (see the package doc).
func classInvalid(error) bool { return true }
