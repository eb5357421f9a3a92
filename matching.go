package opa

import (
	"time"

	"github.com/opakit/opa/storage"
)

// EvalSummary counts what a re-evaluation of a connection's accounts did.
type EvalSummary struct {
	Managed   int
	Unmanaged int
	Matched   int
	Unmatched int
	Changed   int
}

// evaluateConnection applies the connection's account rules and matching to all its accounts
// inside tx. PLACEHOLDER owned by the accounts/rules work (issue 4), which replaces this body; it
// exists so the sync work can call it from the start.
func (e *Engine) evaluateConnection(tx storage.WriteTx, conn *storage.Connection, now time.Time) (EvalSummary, error) {
	_, _, _ = tx, conn, now
	return EvalSummary{}, nil
}
