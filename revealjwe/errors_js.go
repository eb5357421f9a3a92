package revealjwe

// The standard library's errors package is used on purpose: cockroachdb/errors would make the
// browser download much larger (see the package doc and BENCHMARKS.md). Callers match with errors.Is,
// which works the same with either package.
import (
	"errors"
	"fmt"
)

// ErrInvalidKey marks every error about a public key that cannot be used for a reveal: malformed
// JSON, a private or symmetric key, an unsupported key type, curve or algorithm, a weak RSA modulus,
// or a point that is not on its curve.
var ErrInvalidKey = errors.New("invalid public key")

// ErrInvalidArgument marks errors about arguments other than the public key: an unknown key kind,
// a nil key.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrDecrypt is the only error Decrypt returns. It deliberately says nothing about the cause.
var ErrDecrypt = errors.New("revealjwe: decryption failed")

// invalidKeyf returns an error wrapping ErrInvalidKey. The message must never contain key material.
func invalidKeyf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, args...))
}

// invalidArgf returns an error wrapping ErrInvalidArgument.
func invalidArgf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
