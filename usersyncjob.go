package opa

import (
	"context"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// UserSyncJob is a user sync job in the wire format: lower-case snake keys as the real clients use
// (the HTTP API accepts the seed's LDAP_query_filter / SID_Field / UPN_Field on input). RunTest
// always reads back false.
type UserSyncJob struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Frequency        int             `json:"frequency"`
	StartHourUTC     *int            `json:"start_hour_utc,omitempty"`
	IsActive         bool            `json:"is_active"`
	RunTest          bool            `json:"run_test"`
	BaseDN           string          `json:"base_dn"`
	LDAPQueryFilter  string          `json:"ldap_query_filter"`
	SIDField         string          `json:"sid_field"`
	UPNField         string          `json:"upn_field"`
	RecentTaskResult *UserSyncResult `json:"recent_task_result,omitempty"`
}

// UserSyncJobInput creates or updates a user sync job. Defaults: ldap_query_filter
// DefaultUserSyncFilter, sid_field objectSid, upn_field userPrincipalName, frequency 24. The HTTP
// API (package httpapi) also accepts the seed's spellings (LDAP_query_filter, SID_Field, ...;
// docs/wire.md).
type UserSyncJobInput struct {
	Name            string `json:"name"`
	Frequency       int    `json:"frequency"`
	StartHourUTC    *int   `json:"start_hour_utc,omitempty"`
	IsActive        bool   `json:"is_active"`
	RunTest         bool   `json:"run_test"`
	BaseDN          string `json:"base_dn"`
	LDAPQueryFilter string `json:"ldap_query_filter"`
	SIDField        string `json:"sid_field"`
	UPNField        string `json:"upn_field"`
}

func (in *UserSyncJobInput) normalize() error {
	if in.LDAPQueryFilter == "" {
		in.LDAPQueryFilter = DefaultUserSyncFilter
	}
	if in.SIDField == "" {
		in.SIDField = DefaultSIDField
	}
	if in.UPNField == "" {
		in.UPNField = DefaultUPNField
	}
	if in.Frequency == 0 {
		in.Frequency = 24
	}
	if err := validName(in.Name); err != nil {
		return err
	}
	if err := validateSchedule(in.Frequency, in.StartHourUTC); err != nil {
		return err
	}
	if err := validateDN(in.BaseDN); err != nil {
		return err
	}
	if err := validateFilter(in.LDAPQueryFilter); err != nil {
		return err
	}
	if len(in.SIDField) > 255 || len(in.UPNField) > 255 {
		return invalidf("sid_field and upn_field must be at most 255 characters")
	}
	return nil
}

func (e *Engine) userJobView(tx storage.ReadTx, j *storage.UserSyncJob) UserSyncJob {
	out := UserSyncJob{
		ID: j.ID, Name: j.Name, Frequency: j.Frequency, IsActive: j.IsActive, BaseDN: j.BaseDN,
		LDAPQueryFilter: j.LDAPQueryFilter, SIDField: j.SIDField, UPNField: j.UPNField,
	}
	if j.StartHourUTC != nil {
		h := *j.StartHourUTC
		out.StartHourUTC = &h
	}
	if r := latestResult(tx, j.ID); r != nil {
		v := userResultView(r)
		out.RecentTaskResult = &v
	}
	return out
}

func (e *Engine) teamUserJob(tx storage.ReadTx, p Principal, connID, jobID string) (*storage.Connection, *storage.UserSyncJob, error) {
	c, j, err := e.teamSyncJob(tx, p, jobKindUser, connID, jobID)
	return c, j.user, err
}

// activateUserJob makes j active and due now, unless the connection already has
// MaxActiveUserSyncJobs other active jobs (ErrConflict).
func activateUserJob(tx storage.ReadTx, j *storage.UserSyncJob, now time.Time) error {
	js, err := storage.UserSyncJobs.List(tx, storage.UserSyncJobsByConnection, j.ConnectionID)
	if err != nil {
		return err
	}
	active := 0
	for _, o := range js {
		if o.ID != j.ID && o.IsActive {
			active++
		}
	}
	if active >= MaxActiveUserSyncJobs {
		return conflictf("the AD connection already has %d active user sync jobs; deactivate one first", MaxActiveUserSyncJobs)
	}
	j.IsActive, j.NextRunAt = true, now
	return nil
}

// CreateUserSyncJob creates a user sync job of a connection; an active one is due at once (the
// next Tick runs it). Needs resource_admin. Errors: ErrInvalid (name, frequency, start hour, base
// DN, filter), ErrNotFound (connection), ErrConflict (an 11th active job). Safe for concurrent use.
func (e *Engine) CreateUserSyncJob(ctx context.Context, p Principal, connID string, in UserSyncJobInput) (UserSyncJob, error) {
	return writeJob(ctx, e, p.require(RoleResourceAdmin), in.normalize, func(tx storage.WriteTx, now time.Time) (UserSyncJob, error) {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return UserSyncJob{}, err
		}
		j := &storage.UserSyncJob{
			ID: e.newID(), TeamID: p.TeamID, ConnectionID: c.ID, Name: in.Name, Frequency: in.Frequency,
			StartHourUTC: in.StartHourUTC, BaseDN: in.BaseDN, LDAPQueryFilter: in.LDAPQueryFilter,
			SIDField: in.SIDField, UPNField: in.UPNField, CreatedAt: now, UpdatedAt: now,
		}
		if in.IsActive {
			if err := activateUserJob(tx, j, now); err != nil {
				return UserSyncJob{}, err
			}
		}
		if err := storage.UserSyncJobs.Insert(tx, j); err != nil {
			return UserSyncJob{}, err
		}
		return e.userJobView(tx, j), nil
	})
}

// UpdateUserSyncJob replaces a user sync job's settings, keeping its id and results. Needs
// resource_admin. Errors as CreateUserSyncJob, plus ErrNotFound for an unknown job.
func (e *Engine) UpdateUserSyncJob(ctx context.Context, p Principal, connID, jobID string, in UserSyncJobInput) (UserSyncJob, error) {
	return writeJob(ctx, e, p.require(RoleResourceAdmin), in.normalize, func(tx storage.WriteTx, now time.Time) (UserSyncJob, error) {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return UserSyncJob{}, err
		}
		wasActive := j.IsActive
		j.Name, j.Frequency, j.StartHourUTC, j.BaseDN = in.Name, in.Frequency, in.StartHourUTC, in.BaseDN
		j.LDAPQueryFilter, j.SIDField, j.UPNField, j.UpdatedAt = in.LDAPQueryFilter, in.SIDField, in.UPNField, now
		switch {
		case in.IsActive && !wasActive:
			if err := activateUserJob(tx, j, now); err != nil {
				return UserSyncJob{}, err
			}
		case !in.IsActive:
			j.IsActive, j.NextRunAt = false, time.Time{}
		default:
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		}
		if err := storage.UserSyncJobs.Update(tx, j); err != nil {
			return UserSyncJob{}, err
		}
		return e.userJobView(tx, j), nil
	})
}

// Status filters of UserSyncJobs.
const (
	JobStatusActive   = "ACTIVE"
	JobStatusInactive = "INACTIVE"
)

// UserSyncJobs lists the user sync jobs of a connection, paged; status "", ACTIVE or INACTIVE
// filters them. Needs resource_admin or security_admin. ErrInvalid for another status, ErrNotFound
// for an unknown connection.
func (e *Engine) UserSyncJobs(ctx context.Context, p Principal, connID, status string, page PageRequest) (Page[UserSyncJob], error) {
	if err := p.requireConnRead(); err != nil {
		return Page[UserSyncJob]{}, err
	}
	status = strings.ToUpper(status)
	if status != "" && status != JobStatusActive && status != JobStatusInactive {
		return Page[UserSyncJob]{}, invalidf("status must be ACTIVE or INACTIVE")
	}
	if err := page.validate(); err != nil {
		return Page[UserSyncJob]{}, err
	}
	var out Page[UserSyncJob]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		src := pageSource[storage.UserSyncJob]{table: storage.UserSyncJobs, index: storage.UserSyncJobsByConnection, args: []string{c.ID},
			in: func(j *storage.UserSyncJob) bool { return j.ConnectionID == c.ID },
			keep: func(j *storage.UserSyncJob) bool {
				return status == "" || j.IsActive == (status == JobStatusActive)
			}}
		out, err = rangePage(tx, src, page, func(j *storage.UserSyncJob) string { return j.ID },
			func(j *storage.UserSyncJob) UserSyncJob { return e.userJobView(tx, j) })
		return err
	})
	return out, err
}

// UserSyncJob returns a user sync job with its latest result. Needs resource_admin or
// security_admin. ErrNotFound for an unknown connection or job.
func (e *Engine) UserSyncJob(ctx context.Context, p Principal, connID, jobID string) (UserSyncJob, error) {
	if err := p.requireConnRead(); err != nil {
		return UserSyncJob{}, err
	}
	var out UserSyncJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		out = e.userJobView(tx, j)
		return nil
	})
	return out, err
}

// DeleteUserSyncJob deletes a user sync job and its results; the accounts it imported stay.
// Needs resource_admin. ErrNotFound for an unknown connection or job.
func (e *Engine) DeleteUserSyncJob(ctx context.Context, p Principal, connID, jobID string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		if err := deleteResults(tx, j.ID); err != nil {
			return err
		}
		return storage.UserSyncJobs.Delete(tx, j.ID)
	})
}

// ScheduleUserSyncJob sets a user sync job's frequency and start hour; an active job's next run
// moves accordingly (activation is SetUserSyncJobState). Needs resource_admin. Errors: ErrInvalid,
// ErrNotFound.
func (e *Engine) ScheduleUserSyncJob(ctx context.Context, p Principal, connID, jobID string, s Schedule) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := validateSchedule(s.Frequency, s.StartHourUTC); err != nil {
		return err
	}
	now := e.now()
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		j.Frequency, j.StartHourUTC, j.UpdatedAt = s.Frequency, s.StartHourUTC, now
		if j.IsActive {
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		}
		return storage.UserSyncJobs.Update(tx, j)
	})
}

// SetUserSyncJobState activates (due at once) or deactivates a user sync job. Needs
// resource_admin. Errors: ErrNotFound, ErrConflict (an 11th active job).
func (e *Engine) SetUserSyncJobState(ctx context.Context, p Principal, connID, jobID string, active bool) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	now := e.now()
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		switch {
		case active && !j.IsActive:
			if err := activateUserJob(tx, j, now); err != nil {
				return err
			}
		case !active:
			j.IsActive, j.NextRunAt = false, time.Time{}
		default:
			return nil
		}
		j.UpdatedAt = now
		return storage.UserSyncJobs.Update(tx, j)
	})
}

// runUserJob runs a user sync job (the caller holds the connection's mutex) or its test request.
func (e *Engine) runUserJob(ctx context.Context, connID, jobID string, test bool) (*storage.SyncResult, error) {
	run, err := e.startRun(ctx, jobKindUser, connID, jobID, test)
	if err != nil {
		return nil, err
	}
	job := run.job.user
	return e.syncAccounts(ctx, accountSync{
		conn:    run.conn,
		sources: []accountSource{{job.BaseDN, job.LDAPQueryFilter, job.SIDField, job.UPNField}},
		scope:   []string{normDN(job.BaseDN)},
		test:    test,
		res:     run.res,
		final:   run.advance,
	})
}

// RunUserSyncTest creates a test request for a user sync job: it computes what a run would
// import and records the result with its ad_user_sync_test_request_id, changing no account.
// Needs resource_admin. Errors: ErrNotFound; a directory failure is recorded in the result, which
// is returned with a nil error.
func (e *Engine) RunUserSyncTest(ctx context.Context, p Principal, connID, jobID string) (UserSyncResult, error) {
	return e.runUserJobNow(ctx, p, connID, jobID, true)
}

// RunUserSyncJob runs a user sync job now, whether active or not, and returns its result (what
// a due job's Tick does). Needs resource_admin. Errors: ErrNotFound; ErrConflict while a sync of
// the connection runs; a failed run's directory error after recording the failed result.
func (e *Engine) RunUserSyncJob(ctx context.Context, p Principal, connID, jobID string) (UserSyncResult, error) {
	return e.runUserJobNow(ctx, p, connID, jobID, false)
}

func (e *Engine) runUserJobNow(ctx context.Context, p Principal, connID, jobID string, test bool) (UserSyncResult, error) {
	return runJobNow(ctx, e, connID, test,
		func() error {
			if err := p.require(RoleResourceAdmin); err != nil {
				return err
			}
			return e.store.View(ctx, func(tx storage.ReadTx) error {
				_, _, err := e.teamUserJob(tx, p, connID, jobID)
				return err
			})
		},
		func(ctx context.Context) (*storage.SyncResult, error) { return e.runUserJob(ctx, connID, jobID, test) },
		userResultView)
}

// UserSyncResults lists the results of a user sync job, paged by id. Needs resource_admin or
// security_admin. ErrNotFound for an unknown connection or job.
func (e *Engine) UserSyncResults(ctx context.Context, p Principal, connID, jobID string, page PageRequest) (Page[UserSyncResult], error) {
	if err := p.requireConnRead(); err != nil {
		return Page[UserSyncResult]{}, err
	}
	return jobResults(ctx, e, e.jobLookup(p, jobKindUser, connID, jobID), userResultView, page)
}

// UserSyncResult returns one result of a user sync job. Needs resource_admin or security_admin.
// ErrNotFound for an unknown connection, job or result.
func (e *Engine) UserSyncResult(ctx context.Context, p Principal, connID, jobID, resultID string) (UserSyncResult, error) {
	if err := p.requireConnRead(); err != nil {
		return UserSyncResult{}, err
	}
	return jobResult(ctx, e, e.jobLookup(p, jobKindUser, connID, jobID), resultID, userResultView)
}
