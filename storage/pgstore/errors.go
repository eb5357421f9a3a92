package pgstore

import (
	"context"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// ErrNewerSchema is the class of Open's error when the database was laid out by a newer version
// of pgstore than this one (a higher layout version, or tables or indexes this code does not
// know). Such a database is never written: upgrade the program, or point it at another database.
var ErrNewerSchema = errors.New("pgstore: the database schema is newer than this program")

// errRetry marks an error after which the transaction is aborted and may succeed if run again:
// a serialization failure, a deadlock, or a unique violation raised by a concurrent commit.
var errRetry = errors.New("pgstore: retryable")

// SQLSTATE codes the store acts on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
	codeTooManyConnections   = "53300"
)

// classify marks err from pgx with the storage error class it belongs to, wrapped with what:
//   - serialization failures, deadlocks and unique violations: errRetry (a unique violation also
//     ErrConflict, since that is what it means if the retries run out);
//   - connection exceptions (class 08), shutdowns, a full server, and every failure that did not
//     come from the server (a dropped connection, a refused dial): ErrUnavailable;
//   - a canceled or expired context: the context's error;
//   - anything else (a bug in a statement): the error as it is.
func classify(ctx context.Context, err error, what string) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return errors.Wrapf(cerr, "pgstore: %s", what)
	}
	err = errors.Wrapf(err, "pgstore: %s", what)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return errclass.Tag(err, storage.ErrUnavailable)
	}
	switch {
	case pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected:
		return errclass.Tag(err, errRetry)
	case pe.Code == codeUniqueViolation:
		return errclass.Tag(errclass.Tag(err, errRetry), storage.ErrConflict)
	case len(pe.Code) == 5 && pe.Code[:2] == "08",
		pe.Code == codeAdminShutdown, pe.Code == codeCrashShutdown, pe.Code == codeCannotConnectNow,
		pe.Code == codeTooManyConnections:
		return errclass.Tag(err, storage.ErrUnavailable)
	}
	return err
}

func notFound(table, id string) error {
	return errclass.Mark(storage.ErrNotFound, "%s %q not found", table, id)
}
