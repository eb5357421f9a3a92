package opa

import (
	"context"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// This file holds what server sync jobs (serversyncjob.go) and user sync jobs (usersyncjob.go)
// share: their limits and defaults and the validation of their input. Running them is in
// serversync.go and accountimport.go, their results in syncresult.go, and when they run in
// scheduler.go.

// Limits of sync jobs.
const (
	MaxAttributeMappings     = 10
	MaxActiveUserSyncJobs    = 10
	DefaultUserSyncFilter    = "(objectclass=user)"
	DefaultSIDField          = "objectSid"
	DefaultUPNField          = "userPrincipalName"
	DefaultHostnameAttribute = "dNSHostName"
)

func validateFilter(f string) error {
	if _, err := ldap.CompileFilter(f); err != nil {
		return invalidf("ldap_query_filter %q is not a valid LDAP filter (RFC 4515)", f)
	}
	return nil
}

func validateDN(dn string) error {
	if strings.TrimSpace(dn) == "" {
		return invalidf("base_dn is required")
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		return invalidf("base_dn %q is not a valid distinguished name", dn)
	}
	return nil
}

func validName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return invalidf("name must be 1-255 characters")
	}
	return nil
}

// normDN returns a DN's canonical form (directory.NormalizeDN) for comparisons; a DN that does
// not parse is only lower-cased.
func normDN(dn string) string {
	if n, err := directory.NormalizeDN(dn); err == nil {
		return n
	}
	return strings.ToLower(dn)
}

// underDN reports whether dn is base or lies below it; both are normalized.
func underDN(dn, base string) bool {
	return base == "" || dn == base || strings.HasSuffix(dn, ","+base)
}

// syncJob is a stored sync job of either kind, as the flows both kinds share see it (the way
// resource serves AD and UD accounts). Exactly one of server and user is set.
type syncJob struct {
	server *storage.ServerSyncJob
	user   *storage.UserSyncJob
}

func (j syncJob) id() string {
	if j.server != nil {
		return j.server.ID
	}
	return j.user.ID
}

func (j syncJob) connectionID() string {
	if j.server != nil {
		return j.server.ConnectionID
	}
	return j.user.ConnectionID
}

func (j syncJob) name() string {
	if j.server != nil {
		return j.server.Name
	}
	return j.user.Name
}

// noun names the job's kind in messages.
func jobNoun(kind string) string {
	if kind == jobKindServer {
		return "server sync job"
	}
	return "user sync job"
}

// loadSyncJob reads the job of kind (jobKindServer or jobKindUser) with the id.
func loadSyncJob(tx storage.ReadTx, kind, id string) (syncJob, error) {
	if kind == jobKindServer {
		j, err := storage.ServerSyncJobs.Get(tx, id)
		return syncJob{server: j}, err
	}
	j, err := storage.UserSyncJobs.Get(tx, id)
	return syncJob{user: j}, err
}

// teamSyncJob returns the connection and its job of kind, checking that the connection is p's
// team's and the job the connection's. ErrNotFound otherwise.
func (e *Engine) teamSyncJob(tx storage.ReadTx, p Principal, kind, connID, jobID string) (*storage.Connection, syncJob, error) {
	c, err := e.teamConnection(tx, p, connID)
	if err != nil {
		return nil, syncJob{}, err
	}
	j, err := loadSyncJob(tx, kind, jobID)
	if err != nil || j.connectionID() != c.ID {
		return nil, syncJob{}, notFoundf("%s %q does not exist for AD connection %q", jobNoun(kind), jobID, connID)
	}
	return c, j, nil
}

// jobLookup returns the lookup of the job results lists (jobResults, jobResult): the id of p's
// job of kind.
func (e *Engine) jobLookup(p Principal, kind, connID, jobID string) func(storage.ReadTx) (string, error) {
	return func(tx storage.ReadTx) (string, error) {
		_, j, err := e.teamSyncJob(tx, p, kind, connID, jobID)
		if err != nil {
			return "", err
		}
		return j.id(), nil
	}
}

// syncRun is a run (or test request) of a sync job about to start: the connection and job as
// they were read, its result, and, for a real run, advance, which records the run on the job and
// schedules the next one in the transaction that records the result.
type syncRun struct {
	conn    *storage.Connection
	job     syncJob
	started time.Time
	res     *storage.SyncResult
	advance func(storage.WriteTx) error
}

// startRun reads the connection and its job of kind and prepares the run's result. The caller of
// a real run (test false) holds the connection's sync lease and runs it under the lease's
// context, so the transaction that records the run (advance) commits only while the lease is
// still the caller's. ErrNotFound for an unknown connection or job.
func (e *Engine) startRun(ctx context.Context, kind, connID, jobID string, test bool) (syncRun, error) {
	var r syncRun
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if r.conn, err = storage.Connections.Get(tx, connID); err != nil {
			return wrapNotFound(err, "AD connection %q does not exist", connID)
		}
		if r.job, err = loadSyncJob(tx, kind, jobID); err != nil || r.job.connectionID() != connID {
			return notFoundf("%s %q does not exist", jobNoun(kind), jobID)
		}
		return nil
	})
	if err != nil {
		return syncRun{}, err
	}
	r.started = e.now()
	r.res = &storage.SyncResult{
		ID: e.newID(), TeamID: r.conn.TeamID, ConnectionID: r.conn.ID, JobID: r.job.id(), JobKind: kind,
		JobName: r.job.name(), CreatedAt: r.started,
	}
	if test {
		r.res.TestRequestID = e.newID()
		return r, nil
	}
	lease := leaseOf(ctx) // the connection's sync lease; the recording transaction checks it
	r.advance = func(tx storage.WriteTx) error {
		if err := lease.fence(tx); err != nil {
			return err
		}
		return advanceSyncJob(tx, kind, jobID, r.started)
	}
	return r, nil
}

// advanceSyncJob records a run of the job at started and, if the job is active, schedules its
// next run. A job deleted meanwhile is left alone.
func advanceSyncJob(tx storage.WriteTx, kind, jobID string, started time.Time) error {
	j, err := loadSyncJob(tx, kind, jobID)
	if err != nil {
		return nil // deleted meanwhile
	}
	if s := j.server; s != nil {
		s.LastRunAt = started
		if s.IsActive {
			s.NextRunAt = nextRun(s.Frequency, s.StartHourUTC, started)
		}
		return storage.ServerSyncJobs.Update(tx, s)
	}
	u := j.user
	u.LastRunAt = started
	if u.IsActive {
		u.NextRunAt = nextRun(u.Frequency, u.StartHourUTC, started)
	}
	return storage.UserSyncJobs.Update(tx, u)
}

// runJobNow is the skeleton of RunServerSyncJob and RunUserSyncJob (test false) and of their test
// requests (test true): authorize checks p's rights on the job; a real run then takes the
// connection's sync lease (ErrConflict while another run, in any engine on the store, holds it);
// run runs it under the context it is given and view shows its result. A test request's directory
// failure is recorded in its result, which is returned with a nil error; a failed real run returns
// its result and its error.
func runJobNow[T any](ctx context.Context, e *Engine, connID string, test bool, authorize func() error, run func(context.Context) (*storage.SyncResult, error), view func(*storage.SyncResult) T) (T, error) {
	var zero T
	if err := authorize(); err != nil {
		return zero, err
	}
	if !test {
		l, err := e.trySyncLease(ctx, connID)
		if err != nil {
			return zero, err
		}
		defer l.release()
		ctx = l.ctx
	}
	res, err := run(ctx)
	if res == nil {
		return zero, err
	}
	if test {
		return view(res), nil
	}
	return view(res), err
}

// writeJob is the skeleton of the sync job creates and updates: a failed role check (authErr) or
// validation (validate, which may normalize the input) returns at once; otherwise write runs in one
// write transaction at the engine's current time and its view is returned.
func writeJob[V any](ctx context.Context, e *Engine, authErr error, validate func() error, write func(tx storage.WriteTx, now time.Time) (V, error)) (V, error) {
	var out V
	if authErr != nil {
		return out, authErr
	}
	if err := validate(); err != nil {
		return out, err
	}
	now := e.now()
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		var err error
		out, err = write(tx, now)
		return err
	})
	return out, err
}
