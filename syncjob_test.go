package opa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
)

func (s *syncEnv) serverJobInput(active bool) opa.ServerSyncJobInput {
	return opa.ServerSyncJobInput{
		Name: "servers", Frequency: 24, StartHourUTC: ptr(3), IsActive: active, RunTest: true,
		HostnameAttribute: "dNSHostName", OSAttribute: "operatingSystem", AccessAddressAttribute: "dNSHostName",
		AltNamesAttributes:         []string{"cn"},
		AdditionalAttributeMapping: []opa.AttributeMapping{{Label: "region", Value: "location"}, {Label: "guid", Value: "objectGUID", IsGUID: true}},
		RuleAssignments: []opa.RuleAssignment{
			{BaseDN: s.dn["linux"], LDAPQueryFilter: "(objectClass=computer)", ProjectID: s.db.ID, Priority: 1},
			{BaseDN: s.dn["servers"], LDAPQueryFilter: "(operatingSystem=*)", ProjectID: s.web.ID, Priority: 2},
		},
	}
}

func TestServerSyncJobValidation(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	mod := func(f func(*opa.ServerSyncJobInput)) opa.ServerSyncJobInput {
		in := s.serverJobInput(false)
		f(&in)
		return in
	}
	tests := map[string]opa.ServerSyncJobInput{
		"frequency 5":           mod(func(in *opa.ServerSyncJobInput) { in.Frequency = 5 }),
		"start hour without 24": mod(func(in *opa.ServerSyncJobInput) { in.Frequency = 6 }),
		"start hour 24":         mod(func(in *opa.ServerSyncJobInput) { in.StartHourUTC = ptr(24) }),
		"no rules":              mod(func(in *opa.ServerSyncJobInput) { in.RuleAssignments = nil }),
		"bad filter":            mod(func(in *opa.ServerSyncJobInput) { in.RuleAssignments[0].LDAPQueryFilter = "(cn=x" }),
		"bad base dn":           mod(func(in *opa.ServerSyncJobInput) { in.RuleAssignments[0].BaseDN = "not a dn" }),
		"same priority":         mod(func(in *opa.ServerSyncJobInput) { in.RuleAssignments[1].Priority = 1 }),
		"unknown project":       mod(func(in *opa.ServerSyncJobInput) { in.RuleAssignments[0].ProjectID = "nope" }),
		"11 mappings": mod(func(in *opa.ServerSyncJobInput) {
			for i := 0; i < 10; i++ {
				in.AdditionalAttributeMapping = append(in.AdditionalAttributeMapping, opa.AttributeMapping{Label: "l", Value: "v"})
			}
		}),
		"no name": mod(func(in *opa.ServerSyncJobInput) { in.Name = "" }),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.e.CreateServerSyncJob(ctx, s.admin, c.ID, in)
			wantErr(t, name, err, opa.ErrInvalid)
		})
	}
	_, err := s.e.CreateServerSyncJob(ctx, s.admin, "nope", s.serverJobInput(false))
	wantErr(t, "unknown connection", err, opa.ErrNotFound)
	_, err = s.e.CreateServerSyncJob(ctx, s.other, c.ID, s.serverJobInput(false))
	wantErr(t, "other team", err, opa.ErrNotFound)
	_, err = s.e.CreateServerSyncJob(ctx, s.security, c.ID, s.serverJobInput(false))
	wantErr(t, "security admin", err, opa.ErrForbidden)
	wantErr(t, "bad schedule", s.e.ScheduleServerSyncJob(ctx, s.admin, c.ID, "nope", opa.Schedule{Frequency: 3}), opa.ErrInvalid)
}

func TestServerSyncJobLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	j1, err := s.e.CreateServerSyncJob(ctx, s.admin, c.ID, s.serverJobInput(true))
	must(t, err)
	if j1.RunTest || !j1.IsActive || j1.HostNameAttribute != "dNSHostName" || len(j1.RuleAssignments) != 2 || j1.RuleAssignments[0].ProjectName != "db" {
		t.Fatalf("created %+v", j1)
	}
	conn, _ := s.e.ADConnection(ctx, s.admin, c.ID)
	if conn.ActiveTaskSettingsID != j1.ID {
		t.Fatalf("active_task_settings_id %q, want %q", conn.ActiveTaskSettingsID, j1.ID)
	}
	// A second active job deactivates the first.
	j2, err := s.e.CreateServerSyncJob(ctx, s.admin, c.ID, s.serverJobInput(true))
	must(t, err)
	got1, _ := s.e.ServerSyncJob(ctx, s.security, c.ID, j1.ID)
	conn, _ = s.e.ADConnection(ctx, s.admin, c.ID)
	if got1.IsActive || conn.ActiveTaskSettingsID != j2.ID {
		t.Fatalf("after second activation: job1 active=%v, connection's active job %q", got1.IsActive, conn.ActiveTaskSettingsID)
	}

	// Activation makes the job due: the next Tick runs it.
	must(t, s.e.Tick(ctx))
	servers, err := s.e.Servers(ctx, s.admin, c.ID)
	must(t, err)
	byHost := map[string]opa.Server{}
	for _, sv := range servers {
		byHost[sv.Hostname] = sv
	}
	if len(servers) != 3 || byHost["db1.corp.example.com"].ProjectID != s.db.ID || byHost["web1.corp.example.com"].ProjectID != s.web.ID {
		t.Fatalf("servers %+v", servers)
	}
	web1 := byHost["web1.corp.example.com"]
	entry, _ := s.dir.Entry(s.dn["web1"])
	want := opa.Server{Hostname: "web1.corp.example.com", AccessAddress: "web1.corp.example.com", OS: "Windows Server 2022",
		AltNames: []string{"WEB1"}, Labels: map[string]string{"region": "eu-west", "guid": entry.Get("objectGUID")}, ObjectGUID: entry.Get("objectGUID")}
	gotSub := opa.Server{Hostname: web1.Hostname, AccessAddress: web1.AccessAddress, OS: web1.OS, AltNames: web1.AltNames, Labels: web1.Labels, ObjectGUID: web1.ObjectGUID}
	if d := cmp.Diff(want, gotSub); d != "" {
		t.Fatalf("web1 (-want +got):\n%s", d)
	}
	job, _ := s.e.ServerSyncJob(ctx, s.admin, c.ID, j2.ID)
	r := job.RecentTaskResult
	if r == nil || r.TaskState != opa.TaskDone || r.RulesSummaryStatus != opa.TaskDone || !strings.Contains(r.Status.Summary, "3 servers found: 3 added") {
		t.Fatalf("recent result %+v", r)
	}
	// Not due again until the next 03:00 UTC.
	must(t, s.e.Tick(ctx))
	res, _ := s.e.ServerSyncResults(ctx, s.admin, c.ID, j2.ID, opa.PageRequest{})
	if len(res.Items) != 1 {
		t.Fatalf("%d results, want 1", len(res.Items))
	}
	s.clock.Set(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC))
	must(t, s.dir.Remove(s.dn["web2"]))
	must(t, s.dir.Modify(s.dn["web1"], "operatingSystem", "Windows Server 2025"))
	must(t, s.e.Tick(ctx))
	res, _ = s.e.ServerSyncResults(ctx, s.admin, c.ID, j2.ID, opa.PageRequest{})
	if len(res.Items) != 2 {
		t.Fatalf("%d results after 03:00, want 2", len(res.Items))
	}
	servers, _ = s.e.Servers(ctx, s.admin, c.ID)
	if len(servers) != 2 {
		t.Fatalf("web2 should be gone: %+v", servers)
	}
	job, _ = s.e.ServerSyncJob(ctx, s.admin, c.ID, j2.ID)
	if !strings.Contains(job.RecentTaskResult.Status.Summary, "0 added, 1 updated, 1 removed") {
		t.Fatalf("summary %q", job.RecentTaskResult.Status.Summary)
	}

	// A test request records a result and changes nothing.
	must(t, s.dir.Modify(s.dn["db1"], "operatingSystem", "Debian"))
	tr, err := s.e.RunServerSyncTest(ctx, s.admin, c.ID, j2.ID)
	must(t, err)
	if tr.ADTestRequestID == "" || !strings.Contains(tr.Status.Summary, "1 updated") {
		t.Fatalf("test result %+v", tr)
	}
	after, _ := s.e.Servers(ctx, s.admin, c.ID)
	if d := cmp.Diff(servers, after); d != "" {
		t.Fatalf("a test request changed servers (-before +after):\n%s", d)
	}
	detail, err := s.e.ServerSyncResult(ctx, s.admin, c.ID, j2.ID, tr.ID)
	must(t, err)
	if detail.ADTestRequestID != tr.ADTestRequestID {
		t.Fatalf("detail %+v", detail)
	}
	_, err = s.e.ServerSyncResult(ctx, s.admin, c.ID, j1.ID, tr.ID)
	wantErr(t, "result of another job", err, opa.ErrNotFound)

	// Update keeps the id; deactivate and delete clear the connection's active job.
	in := s.serverJobInput(true)
	in.Name = "renamed"
	up, err := s.e.UpdateServerSyncJob(ctx, s.admin, c.ID, j2.ID, in)
	must(t, err)
	if up.ID != j2.ID || up.Name != "renamed" {
		t.Fatalf("updated %+v", up)
	}
	must(t, s.e.DeactivateServerSyncJob(ctx, s.admin, c.ID, j2.ID))
	conn, _ = s.e.ADConnection(ctx, s.admin, c.ID)
	if conn.ActiveTaskSettingsID != "" {
		t.Fatalf("active job after deactivate: %q", conn.ActiveTaskSettingsID)
	}
	must(t, s.e.ScheduleServerSyncJob(ctx, s.admin, c.ID, j1.ID, opa.Schedule{Frequency: 6}))
	conn, _ = s.e.ADConnection(ctx, s.admin, c.ID)
	if conn.ActiveTaskSettingsID != j1.ID {
		t.Fatalf("schedule should activate job1, active is %q", conn.ActiveTaskSettingsID)
	}
	list, err := s.e.ServerSyncJobs(ctx, s.security, c.ID, opa.PageRequest{})
	must(t, err)
	if len(list.Items) != 2 {
		t.Fatalf("list %d", len(list.Items))
	}
	must(t, s.e.DeleteServerSyncJob(ctx, s.admin, c.ID, j1.ID))
	_, err = s.e.ServerSyncJob(ctx, s.admin, c.ID, j1.ID)
	wantErr(t, "deleted job", err, opa.ErrNotFound)
	conn, _ = s.e.ADConnection(ctx, s.admin, c.ID)
	if conn.ActiveTaskSettingsID != "" {
		t.Fatalf("active job after delete: %q", conn.ActiveTaskSettingsID)
	}

	// Deleting the connection removes jobs, results and servers.
	must(t, s.e.DeleteADConnection(ctx, s.admin, c.ID))
	err = s.e.Store().View(ctx, func(tx storage.ReadTx) error {
		for _, n := range []int{count(tx, storage.Servers, storage.ServersByConnection, c.ID), count(tx, storage.SyncResults, storage.SyncResultsByConnection, c.ID), count(tx, storage.ServerSyncJobs, storage.ServerSyncJobsByConnection, c.ID)} {
			if n != 0 {
				t.Errorf("rows left after delete: %d", n)
			}
		}
		return nil
	})
	must(t, err)
}

func count[T any](tx storage.ReadTx, tb storage.Table[T], byConnection storage.IndexName[T], connID string) int {
	rs, _ := tb.List(tx, byConnection, connID)
	return len(rs)
}

func (s *syncEnv) userJobInput(active bool) opa.UserSyncJobInput {
	return opa.UserSyncJobInput{Name: "users", BaseDN: s.dn["users"], IsActive: active, Frequency: 6}
}

func TestUserSyncJobs(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	j, err := s.e.CreateUserSyncJob(ctx, s.admin, c.ID, s.userJobInput(true))
	must(t, err)
	if j.LDAPQueryFilter != "(objectclass=user)" || j.SIDField != "objectSid" || j.UPNField != "userPrincipalName" || j.RunTest {
		t.Fatalf("defaults %+v", j)
	}
	for name, in := range map[string]opa.UserSyncJobInput{
		"frequency 2":       {Name: "x", BaseDN: s.dn["users"], Frequency: 2},
		"start hour w/o 24": {Name: "x", BaseDN: s.dn["users"], Frequency: 12, StartHourUTC: ptr(1)},
		"bad filter":        {Name: "x", BaseDN: s.dn["users"], LDAPQueryFilter: "objectclass=user"},
		"no base dn":        {Name: "x"},
	} {
		_, err := s.e.CreateUserSyncJob(ctx, s.admin, c.ID, in)
		wantErr(t, name, err, opa.ErrInvalid)
	}
	// Up to 10 active jobs.
	for i := 1; i < 10; i++ {
		_, err := s.e.CreateUserSyncJob(ctx, s.admin, c.ID, opa.UserSyncJobInput{Name: "more", BaseDN: s.dn["users"], IsActive: true})
		must(t, err)
	}
	extra, err := s.e.CreateUserSyncJob(ctx, s.admin, c.ID, opa.UserSyncJobInput{Name: "eleventh", BaseDN: s.dn["users"]})
	must(t, err)
	wantErr(t, "11th active", s.e.SetUserSyncJobState(ctx, s.admin, c.ID, extra.ID, true), opa.ErrConflict)
	inactive, err := s.e.UserSyncJobs(ctx, s.security, c.ID, "INACTIVE", opa.PageRequest{})
	must(t, err)
	active, err := s.e.UserSyncJobs(ctx, s.security, c.ID, "ACTIVE", opa.PageRequest{})
	must(t, err)
	if len(inactive.Items) != 1 || len(active.Items) != 10 {
		t.Fatalf("filter: %d inactive, %d active", len(inactive.Items), len(active.Items))
	}
	_, err = s.e.UserSyncJobs(ctx, s.admin, c.ID, "SLEEPING", opa.PageRequest{})
	wantErr(t, "bad status filter", err, opa.ErrInvalid)

	// Runs: the Tick runs all due jobs of the connection, one after the other.
	must(t, s.e.Tick(ctx))
	accts := s.accounts(t, c.ID)
	if len(accts) != 3 {
		t.Fatalf("%d accounts, want 3", len(accts))
	}
	jd := accts["jdoe"]
	if jd.UPN != "jdoe@corp.example.com" || jd.FirstName != "Jane" || jd.LastName != "Doe" || jd.Email != "jane@example.com" ||
		jd.Domain != "corp.example.com" || !strings.HasPrefix(jd.SID, "S-1-5-21-") || cmp.Diff([]string{"Ops"}, jd.OktaGroupNames) != "" {
		t.Fatalf("jdoe %+v", jd)
	}
	if cmp.Diff([]string{"DBAs", "Ops"}, accts["adm.jdoe"].OktaGroupNames) != "" {
		t.Fatalf("groups %v", accts["adm.jdoe"].OktaGroupNames)
	}
	st, _ := s.e.SyncStatus(ctx, s.admin, c.ID)
	if st != opa.SyncCompleted {
		t.Fatalf("sync status %q", st)
	}

	// Changes: one user renamed, one gone; a test request sees them and changes nothing.
	must(t, s.dir.Modify(s.dn["jdoe"], "mail", "jane.doe@example.com"))
	must(t, s.dir.Remove(s.dn["svc"]))
	tr, err := s.e.RunUserSyncTest(ctx, s.admin, c.ID, j.ID)
	must(t, err)
	if tr.ADUserSyncTestRequestID == "" || !strings.Contains(tr.Status.Summary, "0 added, 1 updated, 1 removed") {
		t.Fatalf("test result %+v", tr)
	}
	if d := cmp.Diff(accts, s.accounts(t, c.ID)); d != "" {
		t.Fatalf("a test request changed accounts:\n%s", d)
	}
	r, err := s.e.RunUserSyncJob(ctx, s.admin, c.ID, j.ID)
	must(t, err)
	if r.TaskState != opa.TaskDone || !strings.Contains(r.Status.Summary, "1 updated, 1 removed") {
		t.Fatalf("run result %+v", r)
	}
	accts = s.accounts(t, c.ID)
	if accts["jdoe"].Email != "jane.doe@example.com" || !accts["svc_backup"].Missing || accts["jdoe"].Missing {
		t.Fatalf("after run: %+v", accts)
	}
	results, err := s.e.UserSyncResults(ctx, s.admin, c.ID, j.ID, opa.PageRequest{})
	must(t, err)
	if len(results.Items) != 3 { // tick run, test request, run
		t.Fatalf("%d results", len(results.Items))
	}
	got, err := s.e.UserSyncResult(ctx, s.security, c.ID, j.ID, r.ID)
	must(t, err)
	if got.ADUserSyncTaskSettingsID != j.ID || got.ADUserSyncTaskSettingsName != "users" {
		t.Fatalf("result %+v", got)
	}
	job, _ := s.e.UserSyncJob(ctx, s.admin, c.ID, j.ID)
	if job.RecentTaskResult == nil {
		t.Fatal("no recent result")
	}

	// Schedule, update, delete.
	must(t, s.e.ScheduleUserSyncJob(ctx, s.admin, c.ID, j.ID, opa.Schedule{Frequency: 24, StartHourUTC: ptr(7)}))
	wantErr(t, "schedule start hour w/o 24", s.e.ScheduleUserSyncJob(ctx, s.admin, c.ID, j.ID, opa.Schedule{Frequency: 1, StartHourUTC: ptr(7)}), opa.ErrInvalid)
	in := s.userJobInput(true)
	in.LDAPQueryFilter = "(sAMAccountName=adm.*)"
	up, err := s.e.UpdateUserSyncJob(ctx, s.admin, c.ID, j.ID, in)
	must(t, err)
	if up.ID != j.ID || up.LDAPQueryFilter != in.LDAPQueryFilter {
		t.Fatalf("updated %+v", up)
	}
	must(t, s.e.SetUserSyncJobState(ctx, s.admin, c.ID, j.ID, false))
	must(t, s.e.DeleteUserSyncJob(ctx, s.admin, c.ID, j.ID))
	_, err = s.e.UserSyncJob(ctx, s.admin, c.ID, j.ID)
	wantErr(t, "deleted", err, opa.ErrNotFound)
	_, err = s.e.UserSyncJob(ctx, s.other, c.ID, extra.ID)
	wantErr(t, "other team", err, opa.ErrNotFound)
	_, err = s.e.CreateUserSyncJob(ctx, s.enduser, c.ID, s.userJobInput(false))
	wantErr(t, "end user", err, opa.ErrForbidden)
}

// accounts returns the connection's accounts by sAMAccountName.
func (s *syncEnv) accounts(t testing.TB, connID string) map[string]storage.Account {
	t.Helper()
	out := map[string]storage.Account{}
	must(t, s.e.Store().View(context.Background(), func(tx storage.ReadTx) error {
		as, err := storage.Accounts.List(tx, storage.AccountsByConnection, connID)
		for _, a := range as {
			out[a.SAMAccountName] = *a
		}
		return err
	}))
	return out
}
