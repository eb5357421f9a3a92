package opa

import (
	"context"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Scheduling, decided here:
//
//   - Jobs are driven by Engine.Tick and the engine's clock. An active job with NextRunAt at or
//     before the clock runs in the Tick, then its NextRunAt moves on: frequency 1, 6 or 12 hours
//     after the run, or for frequency 24 the next start_hour_utc:00 strictly after the run (24 hours
//     after it when no start hour is set).
//   - Activating a job (create or update with is_active, schedule, user job state) makes it due at
//     once (NextRunAt = now) rather than running it inside the API call: the call stays fast and
//     the next Tick runs it, which is what "runs immediately on activation" means for an engine
//     whose server ticks every few seconds. Tests call Tick after activating.
//   - Runs of one connection never overlap, in one engine or across engines on one store: they
//     hold the connection's sync lease (lease.go). The scheduler claims a due job by taking that
//     lease in a transaction that checks the job is still due at the NextRunAt it saw, so each due
//     time runs once however many engines tick: a job that another engine ran meanwhile has moved
//     on and is not claimed. A scheduled run that finds the lease held is skipped and stays due for
//     the next Tick; a force sync that finds it held returns ErrConflict. A run whose engine dies
//     leaves the job due: when the lease expires, the next Tick of any engine runs it.

// nextRun returns when a job with the schedule runs next after a run (or activation) at now.
func nextRun(freq int, startHour *int, now time.Time) time.Time {
	now = now.UTC()
	if freq == 24 && startHour != nil {
		t := time.Date(now.Year(), now.Month(), now.Day(), *startHour, 0, 0, 0, time.UTC)
		for !t.After(now) {
			t = t.Add(24 * time.Hour)
		}
		return t
	}
	if freq <= 0 {
		freq = 24
	}
	return now.Add(time.Duration(freq) * time.Hour)
}

// dueJob is a sync job the scheduler found due.
type dueJob struct {
	conn, job string
	server    bool      // a server sync job; otherwise a user sync job
	next      time.Time // the NextRunAt that made it due
}

// isDue reports whether an active job whose next run is at next is due at now.
func isDue(active bool, next, now time.Time) bool {
	return active && !next.IsZero() && !next.After(now)
}

// dueSyncJobs returns the active server and user sync jobs that are due at now, server jobs
// first, each kind in id order. It costs O(jobs).
func (e *Engine) dueSyncJobs(ctx context.Context, now time.Time) ([]dueJob, error) {
	var jobs []dueJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		ss, err := storage.ServerSyncJobs.All(tx)
		if err != nil {
			return err
		}
		for _, j := range ss {
			if isDue(j.IsActive, j.NextRunAt, now) {
				jobs = append(jobs, dueJob{j.ConnectionID, j.ID, true, j.NextRunAt})
			}
		}
		us, err := storage.UserSyncJobs.All(tx)
		if err != nil {
			return err
		}
		for _, j := range us {
			if isDue(j.IsActive, j.NextRunAt, now) {
				jobs = append(jobs, dueJob{j.ConnectionID, j.ID, false, j.NextRunAt})
			}
		}
		return nil
	})
	return jobs, err
}

// errNotDue: a job the scheduler listed was run (or changed) meanwhile.
var errNotDue = errors.New("the job is no longer due")

// claimDueJob takes the sync lease of d's connection in a transaction that finds d still due at
// the NextRunAt the scan saw. errLeaseHeld while a run of the connection is under way; errNotDue
// when the job ran, changed or went meanwhile.
func (e *Engine) claimDueJob(ctx context.Context, d dueJob, now time.Time) (*heldLease, error) {
	kind := jobKindUser
	if d.server {
		kind = jobKindServer
	}
	return e.tryLease(ctx, syncLeaseKey(d.conn), func(tx storage.WriteTx) error {
		j, err := loadSyncJob(tx, kind, d.job)
		if err != nil {
			return errNotDue
		}
		active, next := false, time.Time{}
		if j.server != nil {
			active, next = j.server.IsActive, j.server.NextRunAt
		} else {
			active, next = j.user.IsActive, j.user.NextRunAt
		}
		if !isDue(active, next, now) || !next.Equal(d.next) {
			return errNotDue
		}
		return nil
	})
}

// runDueSyncJobs is the Tick step: it claims and runs every sync job dueSyncJobs finds, skipping
// (and leaving due) those whose connection has a run under way, here or in another engine, and
// those another engine ran meanwhile.
func (e *Engine) runDueSyncJobs(ctx context.Context) error {
	now := e.now()
	jobs, err := e.dueSyncJobs(ctx, now)
	if err != nil {
		return err
	}
	var errs error
	for _, d := range jobs {
		if ctx.Err() != nil {
			return errors.CombineErrors(errs, ctx.Err())
		}
		l, err := e.claimDueJob(ctx, d, now)
		if errors.Is(err, errLeaseHeld) || errors.Is(err, errNotDue) {
			continue // a run of the connection is under way, or the job ran; it stays due or moved on
		}
		if err != nil {
			errs = errors.CombineErrors(errs, err)
			continue
		}
		if d.server {
			_, err = e.runServerJob(l.ctx, d.conn, d.job, false)
		} else {
			_, err = e.runUserJob(l.ctx, d.conn, d.job, false)
		}
		l.release()
		if err != nil && !errors.Is(err, ErrNotFound) {
			e.log.Warn("sync job run failed", "connection", d.conn, "job", d.job, "error", err)
			errs = errors.CombineErrors(errs, err)
		}
	}
	return errs
}

// Schedule is the body of the schedule operations: {frequency, start_hour_utc}. It decodes only
// this form; the HTTP API (package httpapi) also accepts the seeds' spellings (docs/wire.md).
type Schedule struct {
	Frequency    int  `json:"frequency"`
	StartHourUTC *int `json:"start_hour_utc,omitempty"`
}

func validateSchedule(freq int, start *int) error {
	switch freq {
	case 1, 6, 12, 24:
	default:
		return invalidf("frequency must be 1, 6, 12 or 24 hours, got %d", freq)
	}
	if start != nil {
		if freq != 24 {
			return invalidf("start_hour_utc is only allowed with frequency 24")
		}
		if *start < 0 || *start > 23 {
			return invalidf("start_hour_utc must be between 0 and 23, got %d", *start)
		}
	}
	return nil
}
