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
//   - Runs of one connection never overlap: they take the connection's lock (Engine.syncLocks). A
//     scheduled run that finds the lock held is skipped and stays due for the next Tick; a force
//     sync that finds it held returns ErrConflict.

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
	server    bool // a server sync job; otherwise a user sync job
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
				jobs = append(jobs, dueJob{j.ConnectionID, j.ID, true})
			}
		}
		us, err := storage.UserSyncJobs.All(tx)
		if err != nil {
			return err
		}
		for _, j := range us {
			if isDue(j.IsActive, j.NextRunAt, now) {
				jobs = append(jobs, dueJob{j.ConnectionID, j.ID, false})
			}
		}
		return nil
	})
	return jobs, err
}

// runDueSyncJobs is the Tick step: it runs every sync job dueSyncJobs finds, skipping (and
// leaving due) those whose connection has a run under way.
func (e *Engine) runDueSyncJobs(ctx context.Context) error {
	jobs, err := e.dueSyncJobs(ctx, e.now())
	if err != nil {
		return err
	}
	var errs error
	for _, d := range jobs {
		if ctx.Err() != nil {
			return errors.CombineErrors(errs, ctx.Err())
		}
		unlock, ok := e.syncLocks.tryLock(d.conn)
		if !ok {
			continue // a run of the connection is under way; the job stays due
		}
		var err error
		if d.server {
			_, err = e.runServerJob(ctx, d.conn, d.job, false)
		} else {
			_, err = e.runUserJob(ctx, d.conn, d.job, false)
		}
		unlock()
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
