package opa

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Sync result states. task_state is one of TaskPending, TaskRunning, TaskDone, TaskFailed;
// rules_summary_status (server sync) is TaskDone when every rule ran, RulesPartial when some rules
// failed (a missing base DN) and TaskFailed when none ran. The real enums are not documented; these
// follow the reference sample ("done"; docs/wire.md#sync-jobs).
const (
	TaskPending  = "pending"
	TaskRunning  = "running"
	TaskDone     = "done"
	TaskFailed   = "failed"
	RulesPartial = "partial"
)

// Job kinds recorded in storage.SyncResult.JobKind.
const (
	jobKindServer = "server"
	jobKindUser   = "user"
	jobKindForce  = "force"
)

// ServerSyncResult is a result of a server sync job run or test request (wire format).
type ServerSyncResult struct {
	ID                 string       `json:"id"`
	ADTaskSettingsID   string       `json:"ad_task_settings_id"`
	ADTaskSettingsName string       `json:"ad_task_settings_name"`
	ADTestRequestID    string       `json:"ad_test_request_id,omitempty"`
	TaskState          string       `json:"task_state"`
	RulesSummaryStatus string       `json:"rules_summary_status"`
	Status             ResultStatus `json:"status"`
	CreatedAt          time.Time    `json:"created_at"`
	UpdatedAt          time.Time    `json:"updated_at"`
}

// UserSyncResult is a result of a user sync job run or test request (wire format).
type UserSyncResult struct {
	ID                         string       `json:"id"`
	ADUserSyncTaskSettingsID   string       `json:"ad_user_sync_task_settings_id"`
	ADUserSyncTaskSettingsName string       `json:"ad_user_sync_task_settings_name"`
	ADUserSyncTestRequestID    string       `json:"ad_user_sync_test_request_id,omitempty"`
	TaskState                  string       `json:"task_state"`
	Status                     ResultStatus `json:"status"`
	CreatedAt                  time.Time    `json:"created_at"`
	UpdatedAt                  time.Time    `json:"updated_at"`
}

// ResultStatus is the status object of a result: a one-line summary and a detailed summary.
type ResultStatus struct {
	Summary         string `json:"summary"`
	DetailedSummary string `json:"detailed_summary"`
}

func serverResultView(r *storage.SyncResult) ServerSyncResult {
	return ServerSyncResult{
		ID: r.ID, ADTaskSettingsID: r.JobID, ADTaskSettingsName: r.JobName, ADTestRequestID: r.TestRequestID,
		TaskState: r.TaskState, RulesSummaryStatus: r.RulesSummaryStatus,
		Status:    ResultStatus{Summary: r.Summary, DetailedSummary: r.DetailedSummary},
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func userResultView(r *storage.SyncResult) UserSyncResult {
	return UserSyncResult{
		ID: r.ID, ADUserSyncTaskSettingsID: r.JobID, ADUserSyncTaskSettingsName: r.JobName,
		ADUserSyncTestRequestID: r.TestRequestID, TaskState: r.TaskState,
		Status:    ResultStatus{Summary: r.Summary, DetailedSummary: r.DetailedSummary},
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// latestResult returns the newest non-test result of a job, or nil.
func latestResult(tx storage.ReadTx, jobID string) *storage.SyncResult {
	rs, err := storage.SyncResults.List(tx, storage.SyncResultsByJob, jobID)
	if err != nil {
		return nil
	}
	var best *storage.SyncResult
	for _, r := range rs {
		if best == nil || r.CreatedAt.After(best.CreatedAt) || (r.CreatedAt.Equal(best.CreatedAt) && r.ID > best.ID) {
			best = r
		}
	}
	return best
}

func deleteResults(tx storage.WriteTx, jobID string) error {
	rs, err := storage.SyncResults.List(tx, storage.SyncResultsByJob, jobID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := storage.SyncResults.Delete(tx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// jobResults returns a page of the results of the job that lookup finds (checking team and
// connection), by id.
//
// Cost: a seek of the job's results and one page, O(page + log N).
func jobResults[T any](ctx context.Context, e *Engine, lookup func(storage.ReadTx) (string, error), view func(*storage.SyncResult) T, page PageRequest) (Page[T], error) {
	if err := page.validate(); err != nil {
		return Page[T]{}, err
	}
	var out Page[T]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		jobID, err := lookup(tx)
		if err != nil {
			return err
		}
		src := pageSource[storage.SyncResult]{table: storage.SyncResults, index: storage.SyncResultsByJob, args: []string{jobID},
			in: func(r *storage.SyncResult) bool { return r.JobID == jobID }}
		out, err = rangePage(tx, src, page, func(r *storage.SyncResult) string { return r.ID }, view)
		return err
	})
	return out, err
}

// jobResult returns one result of the job that lookup finds.
func jobResult[T any](ctx context.Context, e *Engine, lookup func(storage.ReadTx) (string, error), resultID string, view func(*storage.SyncResult) T) (T, error) {
	var out T
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		jobID, err := lookup(tx)
		if err != nil {
			return err
		}
		r, err := storage.SyncResults.Get(tx, resultID)
		if err != nil || r.JobID != jobID {
			return notFoundf("result %q of sync job %q does not exist", resultID, jobID)
		}
		out = view(r)
		return nil
	})
	return out, err
}

// summaryLine formats a one-line summary of counts.
func summaryLine(what string, found, added, updated, removed int) string {
	return fmt.Sprintf("%d %s found: %d added, %d updated, %d removed", found, what, added, updated, removed)
}

// finishFailed records a failed run's result (and, for a scheduled run, moves the job's schedule
// on so a broken directory is not hammered every Tick) and returns the run's error.
func (e *Engine) finishFailed(ctx context.Context, res *storage.SyncResult, advance func(storage.WriteTx) error, cause error) (*storage.SyncResult, error) {
	res.TaskState, res.RulesSummaryStatus = TaskFailed, TaskFailed
	res.Summary = "the run failed: " + errors.UnwrapAll(cause).Error()
	res.DetailedSummary = cause.Error()
	res.UpdatedAt = e.now()
	// Recording uses a fresh context: the run's may be the one that expired.
	werr := e.store.Update(context.WithoutCancel(ctx), func(tx storage.WriteTx) error {
		if advance != nil {
			if err := advance(tx); err != nil {
				return err
			}
		}
		return storage.SyncResults.Insert(tx, res)
	})
	return res, errors.CombineErrors(cause, werr)
}
