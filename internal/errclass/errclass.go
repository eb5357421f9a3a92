// Package errclass holds the error classes shared by every package of the module. The root package
// opa re-exports them as opa.ErrNotFound and so on; code outside the module matches against those.
//
// An error is put into a class with Mark, Wrap or Tag, never with errors.Mark directly: the
// standard library's errors.Is only asks the errors on the chain (their Is methods, or ==), and a
// mark of github.com/cockroachdb/errors is invisible to it. Tag adds a link to the chain whose Is
// method names the class, and keeps the cockroachdb mark too, so both errors.Is functions match:
//
//	err := errclass.Mark(errclass.NotFound, "connection %q does not exist", id)
//	stderrors.Is(err, errclass.NotFound)           // true
//	errors.Is(errors.Wrap(err, "x"), errclass.NotFound) // true (github.com/cockroachdb/errors)
package errclass

import (
	"fmt"

	"github.com/cockroachdb/errors"
)

// The classes. Each is a sentinel: errors.Is(err, NotFound) holds, with the standard library's
// errors package and with github.com/cockroachdb/errors, for any error classed with Mark, Wrap or
// Tag, however deeply it is wrapped afterwards.
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

// Mark returns an error with the given message, in class. The message must never contain a secret.
func Mark(class error, format string, args ...any) error {
	return Tag(errors.NewWithDepthf(1, format, args...), class)
}

// Wrap puts err into class and wraps it with a message. It returns nil for a nil err.
func Wrap(err, class error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return Tag(errors.WrapWithDepthf(1, err, format, args...), class)
}

// Tag puts err into class without changing its message: errors.Is(Tag(err, class), class) holds
// with both errors packages, and so does every errors.Is that held for err. class may be any
// comparable sentinel error (a class above, or a package's own sentinel such as
// directory.ErrConstraint). It returns nil for a nil err.
func Tag(err, class error) error {
	if err == nil {
		return nil
	}
	return &tagged{cause: errors.Mark(err, class), class: class}
}

// tagged is the chain link Tag adds. Its Is method is what the standard library's errors.Is asks
// (github.com/cockroachdb/errors asks it too, and also sees the mark underneath).
type tagged struct {
	cause error
	class error
}

func (t *tagged) Error() string { return t.cause.Error() }

// Unwrap returns the marked cause, so the rest of the chain stays reachable.
func (t *tagged) Unwrap() error { return t.cause }

// Is reports whether target is the class the error was tagged with.
func (t *tagged) Is(target error) bool { return target == t.class }

// Format prints the chain the way github.com/cockroachdb/errors prints its own wrappers (%+v shows
// the stack of the cause).
func (t *tagged) Format(s fmt.State, verb rune) { errors.FormatError(t, s, verb) }

// SafeFormatError says the link adds no message of its own.
func (t *tagged) SafeFormatError(errors.Printer) (next error) { return t.cause }
