// Package errclass holds the error classes shared by every package of the module. The root package
// opa re-exports them as opa.ErrNotFound and so on; code outside the module matches against those.
package errclass

import "github.com/cockroachdb/errors"

// The classes. Each is a sentinel used as an errors.Mark, so errors.Is(err, NotFound) holds for any
// error marked with it, however deeply it is wrapped.
var (
	NotFound     = errors.New("not found")
	Conflict     = errors.New("conflict")
	Invalid      = errors.New("invalid input")
	Unauthorized = errors.New("unauthorized")
	Forbidden    = errors.New("forbidden")
	Unavailable  = errors.New("unavailable")
	Timeout      = errors.New("timeout")
	Corrupt      = errors.New("corrupt")
)

// Mark returns an error with the given message, marked with class. The message must never contain
// a secret.
func Mark(class error, format string, args ...any) error {
	return errors.Mark(errors.NewWithDepthf(1, format, args...), class)
}

// Wrap marks err with class and wraps it with a message.
func Wrap(err, class error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return errors.Mark(errors.WrapWithDepthf(1, err, format, args...), class)
}
