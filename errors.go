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

func notFoundf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrNotFound)
}

func conflictf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrConflict)
}

func invalidf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrInvalid)
}

func forbiddenf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrForbidden)
}

func unauthorizedf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrUnauthorized)
}

func unavailablef(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, format, args...), ErrUnavailable)
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
