//go:build !js

package revealjwe

import (
	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

// ErrInvalidKey marks every error about a public key that cannot be used for a reveal: malformed
// JSON, a private or symmetric key, an unsupported key type, curve or algorithm, a weak RSA modulus,
// or a point that is not on its curve. Such errors are also marked with errclass.Invalid.
var ErrInvalidKey = errors.New("invalid public key")

// ErrInvalidArgument marks errors about arguments other than the public key: an unknown key kind,
// a nil key. Such errors are also marked with errclass.Invalid.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrDecrypt is the only error Decrypt returns. It deliberately says nothing about the cause.
var ErrDecrypt = errors.New("revealjwe: decryption failed")

// invalidKeyf returns an error marked with ErrInvalidKey and errclass.Invalid. The message must
// never contain key material.
func invalidKeyf(format string, args ...any) error {
	err := errors.NewWithDepthf(1, "invalid public key: "+format, args...)
	return errclass.Tag(errclass.Tag(err, ErrInvalidKey), errclass.Invalid)
}

// invalidArgf returns an error marked with ErrInvalidArgument and errclass.Invalid.
func invalidArgf(format string, args ...any) error {
	err := errors.NewWithDepthf(1, "invalid argument: "+format, args...)
	return errclass.Tag(errclass.Tag(err, ErrInvalidArgument), errclass.Invalid)
}
