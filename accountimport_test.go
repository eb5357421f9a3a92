package opa_test

import (
	"context"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
)

func TestForceSync(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)

	// With no user sync job, the whole domain's person objects are read (computers are not).
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))
	accts := s.accounts(t, c.ID)
	if len(accts) != 3 {
		t.Fatalf("%d accounts, want the 3 users", len(accts))
	}
	st, err := s.e.SyncStatus(ctx, s.security, c.ID)
	must(t, err)
	if st != opa.SyncCompleted {
		t.Fatalf("status %q", st)
	}
	events, err := s.e.AuditEvents(ctx, s.sys, opa.AuditFilter{Action: opa.AuditForceSync})
	must(t, err)
	if len(events) != 1 || events[0].Outcome != "success" || events[0].ActorID != s.admin.UserID {
		t.Fatalf("audit %+v", events)
	}

	// With an active user sync job, only its base DN and filter count; others vanish.
	_, err = s.e.CreateUserSyncJob(ctx, s.admin, c.ID, opa.UserSyncJobInput{Name: "admins", BaseDN: s.dn["users"], LDAPQueryFilter: "(sAMAccountName=adm.*)", IsActive: true})
	must(t, err)
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))
	accts = s.accounts(t, c.ID)
	if accts["adm.jdoe"].Missing || !accts["jdoe"].Missing || !accts["svc_backup"].Missing {
		t.Fatalf("missing flags: %+v", accts)
	}

	// While a sync runs, a second force sync conflicts and the status says so.
	entered, release := s.dir.HoldSearches()
	done := make(chan error, 1)
	go func() { done <- s.e.ForceSync(ctx, s.admin, c.ID) }()
	<-entered
	wantErr(t, "overlapping force sync", s.e.ForceSync(ctx, s.admin, c.ID), opa.ErrConflict)
	st, _ = s.e.SyncStatus(ctx, s.admin, c.ID)
	if st != opa.SyncInProgress {
		t.Fatalf("status while running %q", st)
	}
	wantErr(t, "delete while running", s.e.DeleteADConnection(ctx, s.admin, c.ID), opa.ErrConflict)
	release()
	must(t, <-done)

	// Directory failures: no agent, agent timeout, context deadline.
	s.dir.SetNoAgent(true)
	wantErr(t, "no agent", s.e.ForceSync(ctx, s.admin, c.ID), opa.ErrUnavailable)
	st, _ = s.e.SyncStatus(ctx, s.admin, c.ID)
	if st != opa.SyncFailed {
		t.Fatalf("status after failure %q", st)
	}
	s.dir.SetNoAgent(false)
	s.dir.SetAgentTimeout(true)
	wantErr(t, "agent timeout", s.e.ForceSync(ctx, s.admin, c.ID), opa.ErrTimeout)
	s.dir.SetAgentTimeout(false)
	// The caller gives up while the agent is still searching.
	entered, release = s.dir.HoldSearches()
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- s.e.ForceSync(cctx, s.admin, c.ID) }()
	<-entered
	cancel()
	wantErr(t, "caller gave up", <-done, opa.ErrTimeout)
	release()
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))

	// A SYNC_IN_PROGRESS left by a dead process reads as failed and does not block a new sync.
	must(t, s.e.Store().Update(ctx, func(tx storage.WriteTx) error {
		cc, err := storage.Connections.Get(tx, c.ID)
		if err != nil {
			return err
		}
		cc.SyncStatus = opa.SyncInProgress
		return storage.Connections.Update(tx, cc)
	}))
	st, _ = s.e.SyncStatus(ctx, s.admin, c.ID)
	if st != opa.SyncFailed {
		t.Fatalf("stale in-progress reads %q", st)
	}
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))

	wantErr(t, "security admin", s.e.ForceSync(ctx, s.security, c.ID), opa.ErrForbidden)
	wantErr(t, "other team", s.e.ForceSync(ctx, s.other, c.ID), opa.ErrNotFound)
	wantErr(t, "unknown", s.e.ForceSync(ctx, s.admin, "nope"), opa.ErrNotFound)
	_, err = s.e.SyncStatus(ctx, s.other, c.ID)
	wantErr(t, "status other team", err, opa.ErrNotFound)
}

func TestSchedulerSkipsBusyConnection(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	j, err := s.e.CreateUserSyncJob(ctx, s.admin, c.ID, s.userJobInput(true))
	must(t, err)
	entered, release := s.dir.HoldSearches()
	done := make(chan error, 1)
	go func() { done <- s.e.ForceSync(ctx, s.admin, c.ID) }()
	<-entered
	must(t, s.e.Tick(ctx)) // the job is due but the connection is busy: skipped, still due
	release()
	must(t, <-done)
	rs, _ := s.e.UserSyncResults(ctx, s.admin, c.ID, j.ID, opa.PageRequest{})
	if len(rs.Items) != 0 {
		t.Fatalf("the busy tick ran the job")
	}
	must(t, s.e.Tick(ctx))
	rs, _ = s.e.UserSyncResults(ctx, s.admin, c.ID, j.ID, opa.PageRequest{})
	if len(rs.Items) != 1 {
		t.Fatalf("%d results after the free tick", len(rs.Items))
	}
	// Frequency 6: due again six hours after the run, not before.
	s.clock.Advance(5 * time.Hour)
	must(t, s.e.Tick(ctx))
	s.clock.Advance(time.Hour)
	must(t, s.e.Tick(ctx))
	rs, _ = s.e.UserSyncResults(ctx, s.admin, c.ID, j.ID, opa.PageRequest{})
	if len(rs.Items) != 2 {
		t.Fatalf("%d results after six hours, want 2", len(rs.Items))
	}
}
