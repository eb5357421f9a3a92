package pgstore

import (
	"context"
	"io"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/opakit/opa/storage"
)

// TestClassify: each kind of failure pgx reports gets the storage class Update and the callers
// act on.
func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name                         string
		ctx                          context.Context
		err                          error
		retry, conflict, unavailable bool
	}{
		{"serialization failure", context.Background(), pg("40001"), true, false, false},
		{"deadlock", context.Background(), pg("40P01"), true, false, false},
		{"unique violation", context.Background(), pg("23505"), true, true, false},
		{"admin shutdown", context.Background(), pg("57P01"), false, false, true},
		{"cannot connect now", context.Background(), pg("57P03"), false, false, true},
		{"connection failure", context.Background(), pg("08006"), false, false, true},
		{"too many connections", context.Background(), pg("53300"), false, false, true},
		{"dropped connection", context.Background(), io.ErrUnexpectedEOF, false, false, true},
		{"syntax error", context.Background(), pg("42601"), false, false, false},
		{"canceled context", canceled, pg("57014"), false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.ctx, tc.err, "test")
			got := [3]bool{errors.Is(err, errRetry), errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrUnavailable)}
			if want := [3]bool{tc.retry, tc.conflict, tc.unavailable}; got != want {
				t.Errorf("classify(%v) = %v: retry, conflict, unavailable = %v, want %v", tc.err, err, got, want)
			}
			if tc.ctx.Err() != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("classify with a canceled context = %v, want context.Canceled", err)
			}
		})
	}
}
