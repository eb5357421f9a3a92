package revealjwe

// The js build does not use cockroachdb/errors: it would make the browser download much larger
// (see the package doc and BENCHMARKS.md). Its sentinels are a small local type instead, wrapped
// with fmt.Errorf's %w, so callers match them with errors.Is exactly as in native builds.
import "fmt"

// sentinel is a constant error value for the js build.
type sentinel string

func (s sentinel) Error() string { return string(s) }

// ErrInvalidKey marks every error about a public key that cannot be used for a reveal: malformed
// JSON, a private or symmetric key, an unsupported key type, curve or algorithm, a weak RSA modulus,
// or a point that is not on its curve.
var ErrInvalidKey = error(sentinel("invalid public key"))

// ErrInvalidArgument marks errors about arguments other than the public key: an unknown key kind,
// a nil key.
var ErrInvalidArgument = error(sentinel("invalid argument"))

// ErrDecrypt is the only error Decrypt returns. It deliberately says nothing about the cause.
var ErrDecrypt = error(sentinel("revealjwe: decryption failed"))

// invalidKeyf returns an error wrapping ErrInvalidKey. The message must never contain key material.
func invalidKeyf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, args...))
}

// invalidArgf returns an error wrapping ErrInvalidArgument.
func invalidArgf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
