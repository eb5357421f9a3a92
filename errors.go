package opa

import (
	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

// Error classes. Every error the engine returns is marked with at most one of them; match with
// errors.Is (github.com/cockroachdb/errors or the standard library). Messages say what was wrong in
// terms a user can act on and never contain a secret.
var (
	// ErrNotFound: the object does not exist, belongs to another team, or is not visible to the
	// principal (end users get not found, never forbidden, for what they may not see).
	ErrNotFound = errclass.NotFound
	// ErrConflict: the request clashes with the current state (a duplicate, a sync already running,
	// an account checked out by someone else, a reorder against changed rules).
	ErrConflict = errclass.Conflict
	// ErrInvalid: the input is malformed or out of range. Nothing was changed.
	ErrInvalid = errclass.Invalid
	// ErrUnauthorized: no credentials, or bad or expired ones.
	ErrUnauthorized = errclass.Unauthorized
	// ErrForbidden: the principal is known but lacks the role or access method the operation needs.
	ErrForbidden = errclass.Forbidden
	// ErrUnavailable: a dependency is down (no agent connected to the directory, store closed).
	ErrUnavailable = errclass.Unavailable
	// ErrTimeout: a dependency did not answer in time (the directory agent timed out).
	ErrTimeout = errclass.Timeout
	// ErrCorrupt: durable state failed verification.
	ErrCorrupt = errclass.Corrupt
)

// ErrMissingRole marks an ErrForbidden whose cause is a role the principal does not hold, as
// opposed to an access method that does not authorize the operation or a condition that is not
// met. It is not a class of its own: ErrorClass still returns ErrForbidden, and errors.Is(err,
// ErrMissingRole) tells the two apart. The HTTP API answers it 401 authorization_error
// ("Missing capability: role"), as the API reference does.
var ErrMissingRole = errors.New("missing role")

// The constructors of classed errors, one per class: each returns a new error with the message,
// marked with its class through errclass (the one way every package of the module builds them).
// Messages never contain a secret.

func notFoundf(format string, args ...any) error { return errclass.Mark(ErrNotFound, format, args...) }

func conflictf(format string, args ...any) error { return errclass.Mark(ErrConflict, format, args...) }

func invalidf(format string, args ...any) error { return errclass.Mark(ErrInvalid, format, args...) }

func forbiddenf(format string, args ...any) error {
	return errclass.Mark(ErrForbidden, format, args...)
}

// missingRolef is forbiddenf for a role the principal does not hold (tagged ErrMissingRole).
func missingRolef(format string, args ...any) error {
	return errclass.Tag(errclass.Mark(ErrForbidden, format, args...), ErrMissingRole)
}

func unauthorizedf(format string, args ...any) error {
	return errclass.Mark(ErrUnauthorized, format, args...)
}

func unavailablef(format string, args ...any) error {
	return errclass.Mark(ErrUnavailable, format, args...)
}

func corruptf(format string, args ...any) error { return errclass.Mark(ErrCorrupt, format, args...) }

// wrapConflict gives a storage conflict a message a user can act on; other errors pass through.
func wrapConflict(err error, format string, args ...any) error {
	if errors.Is(err, ErrConflict) {
		return errclass.Mark(ErrConflict, format, args...)
	}
	return err
}

// wrapNotFound gives a storage not-found a message a user can act on; other errors pass through.
func wrapNotFound(err error, format string, args ...any) error {
	if errors.Is(err, ErrNotFound) {
		return errclass.Mark(ErrNotFound, format, args...)
	}
	return err
}

// ErrorClass returns the class err is marked with (one of the Err values above), or nil.
func ErrorClass(err error) error {
	for _, c := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrUnauthorized, ErrForbidden, ErrUnavailable, ErrTimeout, ErrCorrupt} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// errorCodeOf names the class of err ("not_found", "conflict", …), "internal" for none. Audit
// details use it: error messages may name things the trail should not repeat.
func errorCodeOf(err error) string {
	switch ErrorClass(err) {
	case ErrNotFound:
		return "not_found"
	case ErrConflict:
		return "conflict"
	case ErrInvalid:
		return "invalid"
	case ErrUnavailable:
		return "unavailable"
	case ErrTimeout:
		return "timeout"
	case ErrForbidden:
		return "forbidden"
	case ErrUnauthorized:
		return "unauthorized"
	}
	return "internal"
}
