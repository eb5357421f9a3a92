package opa

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Server is a computer a server sync job discovered in the directory and assigned to a project.
type Server struct {
	ID                string            `json:"id"`
	TeamID            string            `json:"team_id"`
	ConnectionID      string            `json:"connection_id"`
	JobID             string            `json:"job_id"`
	ProjectID         string            `json:"project_id"`
	DistinguishedName string            `json:"distinguished_name"`
	ObjectGUID        string            `json:"object_guid,omitempty"`
	Hostname          string            `json:"hostname"`
	AccessAddress     string            `json:"access_address,omitempty"`
	OS                string            `json:"os,omitempty"`
	Bastion           string            `json:"bastion,omitempty"`
	AltNames          []string          `json:"alt_names,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
}

// Servers returns the servers discovered for a connection, ordered by id. Needs as ServerSyncJob.
// ErrNotFound for an unknown connection.
func (e *Engine) Servers(ctx context.Context, p Principal, connID string) ([]Server, error) {
	if err := p.requireResourceRead(); err != nil {
		return nil, err
	}
	var out []Server
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		ss, err := storage.Servers.List(tx, storage.ServersByConnection, c.ID)
		for _, s := range ss {
			out = append(out, Server(*s))
		}
		return err
	})
	slices.SortFunc(out, func(a, b Server) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// ruleStat is what one rule assignment did in a server sync run.
type ruleStat struct {
	rule     storage.RuleAssignment
	matched  int
	assigned int
	err      error
}

// serverPlan is the computed outcome of a server sync run.
type serverPlan struct {
	servers map[string]*storage.Server // by normalized DN
	rules   []ruleStat
}

// planServerSync searches the computers of each rule and assigns each computer to the project of
// the highest-priority (lowest number) rule that matches it. A rule whose base DN does not exist
// fails alone; any other directory error fails the plan.
func (e *Engine) planServerSync(ctx context.Context, dir directory.Directory, j *storage.ServerSyncJob) (serverPlan, error) {
	rules := slices.Clone(j.RuleAssignments)
	slices.SortFunc(rules, func(a, b storage.RuleAssignment) int { return a.Priority - b.Priority })
	plan := serverPlan{servers: map[string]*storage.Server{}}
	attrs := serverAttributes(j)
	for _, r := range rules {
		st := ruleStat{rule: r}
		entries, err := dir.Search(ctx, directory.SearchRequest{
			BaseDN: r.BaseDN, Scope: directory.ScopeSubtree,
			Filter: "(&(objectClass=computer)" + r.LDAPQueryFilter + ")", Attributes: attrs,
		})
		switch {
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid):
			st.err = err
		case err != nil:
			return serverPlan{}, err
		}
		for _, en := range entries {
			st.matched++
			key := normDN(en.DN)
			if _, taken := plan.servers[key]; taken {
				continue // a higher-priority rule has it
			}
			st.assigned++
			plan.servers[key] = serverFromEntry(j, r.ProjectID, en)
		}
		plan.rules = append(plan.rules, st)
	}
	return plan, nil
}

func serverAttributes(j *storage.ServerSyncJob) []string {
	attrs := []string{"cn", "objectGUID", hostnameAttr(j), osAttr(j)}
	for _, a := range []string{j.AccessAddressAttribute, j.BastionAttribute} {
		if a != "" {
			attrs = append(attrs, a)
		}
	}
	attrs = append(attrs, j.AltNamesAttributes...)
	for _, m := range j.AdditionalAttributeMapping {
		attrs = append(attrs, m.Value)
	}
	return attrs
}

func hostnameAttr(j *storage.ServerSyncJob) string {
	if j.HostnameAttribute != "" {
		return j.HostnameAttribute
	}
	return DefaultHostnameAttribute
}

func osAttr(j *storage.ServerSyncJob) string {
	if j.OSAttribute != "" {
		return j.OSAttribute
	}
	return "operatingSystem"
}

func serverFromEntry(j *storage.ServerSyncJob, projectID string, en *directory.Entry) *storage.Server {
	s := &storage.Server{
		TeamID: j.TeamID, ConnectionID: j.ConnectionID, JobID: j.ID, ProjectID: projectID,
		DistinguishedName: en.DN, Hostname: en.Get(hostnameAttr(j)), OS: en.Get(osAttr(j)),
	}
	if s.Hostname == "" {
		s.Hostname = en.Get("cn")
	}
	if j.AccessAddressAttribute != "" {
		s.AccessAddress = en.Get(j.AccessAddressAttribute)
	}
	if j.BastionAttribute != "" {
		s.Bastion = en.Get(j.BastionAttribute)
	}
	for _, a := range j.AltNamesAttributes {
		s.AltNames = append(s.AltNames, en.GetAll(a)...)
	}
	for _, m := range j.AdditionalAttributeMapping {
		v := en.Get(m.Value)
		if v == "" {
			continue
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[m.Label] = v
		if m.IsGUID {
			s.ObjectGUID = v
		}
	}
	return s
}

// sameServer reports whether two servers differ only in bookkeeping fields.
func sameServer(a, b *storage.Server) bool {
	x, y := *a, *b
	x.ID, y.ID = "", ""
	x.CreatedAt, y.CreatedAt = time.Time{}, time.Time{}
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	if len(x.AltNames) == 0 {
		x.AltNames = nil
	}
	if len(y.AltNames) == 0 {
		y.AltNames = nil
	}
	if len(x.Labels) == 0 {
		x.Labels = nil
	}
	if len(y.Labels) == 0 {
		y.Labels = nil
	}
	return reflect.DeepEqual(x, y)
}

// runServerJob runs a server sync job (test=false: the caller holds the connection's mutex) or a
// test request (test=true: nothing but the result is written). It records and returns the result;
// a failed run records a failed result and returns the error too.
func (e *Engine) runServerJob(ctx context.Context, connID, jobID string, test bool) (*storage.SyncResult, error) {
	run, err := e.startRun(ctx, jobKindServer, connID, jobID, test)
	if err != nil {
		return nil, err
	}
	var existing []*storage.Server
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		existing, err = storage.Servers.List(tx, storage.ServersByConnection, connID)
		return err
	}); err != nil {
		return nil, err
	}
	conn, job, started, res, advance := run.conn, run.job.server, run.started, run.res, run.advance
	plan, err := e.serverPlanFor(ctx, conn, job)
	if err != nil {
		return e.finishFailed(ctx, res, advance, err)
	}

	var inserts, updates, deletes []*storage.Server
	seen := map[string]bool{}
	for _, old := range existing {
		key := normDN(old.DistinguishedName)
		seen[key] = true
		want, ok := plan.servers[key]
		if !ok {
			deletes = append(deletes, old)
			continue
		}
		w := *want
		w.ID, w.CreatedAt, w.UpdatedAt = old.ID, old.CreatedAt, old.UpdatedAt
		if !sameServer(&w, old) {
			w.UpdatedAt = started
			updates = append(updates, &w)
		}
	}
	keys := make([]string, 0, len(plan.servers))
	for k := range plan.servers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !seen[k] {
			s := *plan.servers[k]
			s.ID, s.CreatedAt, s.UpdatedAt = e.newID(), started, started
			inserts = append(inserts, &s)
		}
	}
	failedRules := 0
	var detail []string
	for _, st := range plan.rules {
		line := fmt.Sprintf("rule %s (priority %d, base DN %q): %d computers matched, %d assigned to project %s",
			st.rule.ID, st.rule.Priority, st.rule.BaseDN, st.matched, st.assigned, st.rule.ProjectID)
		if st.err != nil {
			failedRules++
			line = fmt.Sprintf("rule %s (priority %d, base DN %q) failed: %v", st.rule.ID, st.rule.Priority, st.rule.BaseDN, st.err)
		}
		detail = append(detail, line)
	}
	if failedRules > 0 {
		deletes = nil // a rule that could not run must not make its servers vanish
	}
	res.RulesSummaryStatus = TaskDone
	switch {
	case failedRules == len(plan.rules):
		res.RulesSummaryStatus = TaskFailed
	case failedRules > 0:
		res.RulesSummaryStatus = RulesPartial
	}
	res.TaskState = TaskDone
	res.Added, res.Updated, res.Removed = len(inserts), len(updates), len(deletes)
	res.Matched = len(plan.servers)
	prefix := ""
	if test {
		prefix = "test request: "
	}
	res.Summary = prefix + summaryLine("servers", len(plan.servers), res.Added, res.Updated, res.Removed)
	res.DetailedSummary = strings.Join(detail, "\n")

	if !test {
		var ops []func(storage.WriteTx) error
		for _, s := range inserts {
			ops = append(ops, func(tx storage.WriteTx) error { return storage.Servers.Insert(tx, s) })
		}
		for _, s := range updates {
			ops = append(ops, func(tx storage.WriteTx) error { return storage.Servers.Update(tx, s) })
		}
		for _, s := range deletes {
			ops = append(ops, func(tx storage.WriteTx) error {
				err := storage.Servers.Delete(tx, s.ID)
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			})
		}
		if err := e.applyChunked(ctx, ops, nil); err != nil {
			return e.finishFailed(ctx, res, advance, err)
		}
	}
	res.UpdatedAt = e.now()
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		if advance != nil {
			if err := advance(tx); err != nil {
				return err
			}
		}
		return storage.SyncResults.Insert(tx, res)
	})
	return res, err
}

func (e *Engine) serverPlanFor(ctx context.Context, conn *storage.Connection, job *storage.ServerSyncJob) (serverPlan, error) {
	dir, err := e.directoryFor(ctx, conn)
	if err != nil {
		return serverPlan{}, err
	}
	return e.planServerSync(ctx, dir, job)
}

// mayRunServerJob checks that p may run the job: resource_admin, or delegated_resource_admin of
// every project the job assigns to.
func (e *Engine) mayRunServerJob(ctx context.Context, p Principal, connID, jobID string) error {
	if err := p.requireJobAdmin(); err != nil {
		return err
	}
	return e.store.View(ctx, func(tx storage.ReadTx) error {
		_, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		return e.checkJobRules(tx, p, j)
	})
}

// RunServerSyncTest creates a test request for a server sync job: it computes what a run would do
// and records the result with its ad_test_request_id, changing no server. Needs resource_admin (or
// delegated_resource_admin of the job's projects). Errors: ErrNotFound; the directory's
// ErrUnavailable or ErrTimeout are recorded in the result, which is returned with a nil error.
func (e *Engine) RunServerSyncTest(ctx context.Context, p Principal, connID, jobID string) (ServerSyncResult, error) {
	return e.runServerJobNow(ctx, p, connID, jobID, true)
}

// RunServerSyncJob runs a server sync job now, whether active or not, and returns its result. It
// is what a due job's Tick does, for embedders and tests. Needs as RunServerSyncTest. Errors:
// ErrNotFound; ErrConflict while a sync of the connection runs; a failed run's directory error
// (ErrUnavailable, ErrTimeout), after recording the failed result.
func (e *Engine) RunServerSyncJob(ctx context.Context, p Principal, connID, jobID string) (ServerSyncResult, error) {
	return e.runServerJobNow(ctx, p, connID, jobID, false)
}

func (e *Engine) runServerJobNow(ctx context.Context, p Principal, connID, jobID string, test bool) (ServerSyncResult, error) {
	return runJobNow(ctx, e, connID, test,
		func() error { return e.mayRunServerJob(ctx, p, connID, jobID) },
		func(ctx context.Context) (*storage.SyncResult, error) {
			return e.runServerJob(ctx, connID, jobID, test)
		},
		serverResultView)
}
