package opa

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// AttributeMapping maps a directory attribute (Value) to a server label; IsGUID marks the attribute
// that holds the computer's object GUID.
type AttributeMapping struct {
	Label  string `json:"label"`
	Value  string `json:"value"`
	IsGUID bool   `json:"is_guid"`
}

func attributeMappingsOf(ms []storage.AttributeMapping) []AttributeMapping {
	if ms == nil {
		return nil
	}
	out := make([]AttributeMapping, len(ms))
	for i, m := range ms {
		out[i] = AttributeMapping(m)
	}
	return out
}

func storedAttributeMappings(ms []AttributeMapping) []storage.AttributeMapping {
	if ms == nil {
		return nil
	}
	out := make([]storage.AttributeMapping, len(ms))
	for i, m := range ms {
		out[i] = storage.AttributeMapping(m)
	}
	return out
}

// RuleAssignment of a server sync job (wire format). Priority: lower numbers win. ProjectName is
// filled on output.
type RuleAssignment struct {
	ID              string `json:"id,omitempty"`
	BaseDN          string `json:"base_dn"`
	LDAPQueryFilter string `json:"ldap_query_filter"`
	ProjectID       string `json:"project_id"`
	ProjectName     string `json:"project_name,omitempty"`
	Priority        int    `json:"priority"`
}

// ServerSyncJob is a server sync job (ASA "task settings") in the wire format. It encodes both
// hostname_attribute (what the real clients parse) and host_name_attribute (the reference sample's
// spelling; docs/wire.md#seed-samples)
// with the same value; RunTest always reads back false. RecentTaskResult is the latest result.
type ServerSyncJob struct {
	ID                         string             `json:"id"`
	Name                       string             `json:"name"`
	Frequency                  int                `json:"frequency"`
	StartHourUTC               *int               `json:"start_hour_utc,omitempty"`
	IsActive                   bool               `json:"is_active"`
	RunTest                    bool               `json:"run_test"`
	HostnameAttribute          string             `json:"hostname_attribute"`
	HostNameAttribute          string             `json:"host_name_attribute"`
	AccessAddressAttribute     string             `json:"access_address_attribute,omitempty"`
	OSAttribute                string             `json:"os_attribute,omitempty"`
	BastionAttribute           string             `json:"bastion_attribute,omitempty"`
	AltNamesAttributes         []string           `json:"alt_names_attributes,omitempty"`
	AdditionalAttributeMapping []AttributeMapping `json:"additional_attribute_mapping,omitempty"`
	RuleAssignments            []RuleAssignment   `json:"rule_assignments"`
	RecentTaskResult           *ServerSyncResult  `json:"recent_task_result,omitempty"`
}

// ServerSyncJobInput creates or updates a server sync job, in the real clients' wire form; the
// HTTP API (package httpapi) also accepts the seeds' spellings (docs/wire.md). RunTest is accepted
// and ignored.
type ServerSyncJobInput struct {
	Name                       string             `json:"name"`
	Frequency                  int                `json:"frequency"`
	StartHourUTC               *int               `json:"start_hour_utc,omitempty"`
	IsActive                   bool               `json:"is_active"`
	RunTest                    bool               `json:"run_test"`
	HostnameAttribute          string             `json:"hostname_attribute"`
	AccessAddressAttribute     string             `json:"access_address_attribute,omitempty"`
	OSAttribute                string             `json:"os_attribute,omitempty"`
	BastionAttribute           string             `json:"bastion_attribute,omitempty"`
	AltNamesAttributes         []string           `json:"alt_names_attributes,omitempty"`
	AdditionalAttributeMapping []AttributeMapping `json:"additional_attribute_mapping,omitempty"`
	RuleAssignments            []RuleAssignment   `json:"rule_assignments"`
}

func (in *ServerSyncJobInput) validate() error {
	if err := validName(in.Name); err != nil {
		return err
	}
	if err := validateSchedule(in.Frequency, in.StartHourUTC); err != nil {
		return err
	}
	if len(in.RuleAssignments) == 0 {
		return invalidf("rule_assignments needs at least one rule")
	}
	if len(in.AdditionalAttributeMapping) > MaxAttributeMappings {
		return invalidf("additional_attribute_mapping allows at most %d mappings", MaxAttributeMappings)
	}
	guids := 0
	for _, m := range in.AdditionalAttributeMapping {
		if strings.TrimSpace(m.Label) == "" || strings.TrimSpace(m.Value) == "" {
			return invalidf("additional_attribute_mapping entries need a label and a value")
		}
		if m.IsGUID {
			guids++
		}
	}
	if guids > 1 {
		return invalidf("at most one additional_attribute_mapping may be is_guid")
	}
	prios := map[int]bool{}
	for _, r := range in.RuleAssignments {
		if err := validateDN(r.BaseDN); err != nil {
			return err
		}
		if err := validateFilter(r.LDAPQueryFilter); err != nil {
			return err
		}
		if r.ProjectID == "" {
			return invalidf("every rule assignment needs a project_id")
		}
		if r.Priority < 1 {
			return invalidf("rule assignment priorities must be positive integers")
		}
		if prios[r.Priority] {
			return invalidf("rule assignment priority %d is used twice", r.Priority)
		}
		prios[r.Priority] = true
	}
	return nil
}

func (e *Engine) serverJobView(tx storage.ReadTx, j *storage.ServerSyncJob) ServerSyncJob {
	out := ServerSyncJob{
		ID: j.ID, Name: j.Name, Frequency: j.Frequency, IsActive: j.IsActive,
		HostnameAttribute: j.HostnameAttribute, HostNameAttribute: j.HostnameAttribute,
		AccessAddressAttribute: j.AccessAddressAttribute, OSAttribute: j.OSAttribute,
		BastionAttribute: j.BastionAttribute, AltNamesAttributes: slices.Clone(j.AltNamesAttributes),
		AdditionalAttributeMapping: attributeMappingsOf(j.AdditionalAttributeMapping),
	}
	if j.StartHourUTC != nil {
		h := *j.StartHourUTC
		out.StartHourUTC = &h
	}
	for _, r := range j.RuleAssignments {
		ra := RuleAssignment{ID: r.ID, BaseDN: r.BaseDN, LDAPQueryFilter: r.LDAPQueryFilter, ProjectID: r.ProjectID, Priority: r.Priority}
		if pr, err := storage.Projects.Get(tx, r.ProjectID); err == nil {
			ra.ProjectName = pr.Name
		}
		out.RuleAssignments = append(out.RuleAssignments, ra)
	}
	if r := latestResult(tx, j.ID); r != nil {
		v := serverResultView(r)
		out.RecentTaskResult = &v
	}
	return out
}

// teamServerJob returns the server sync job of the connection, checking team and connection.
func (e *Engine) teamServerJob(tx storage.ReadTx, p Principal, connID, jobID string) (*storage.Connection, *storage.ServerSyncJob, error) {
	c, j, err := e.teamSyncJob(tx, p, jobKindServer, connID, jobID)
	return c, j.server, err
}

// checkRuleProjects checks that every rule's project is a project of p's team that p may
// administer (resource_admin, or delegated_resource_admin of its resource group).
func (e *Engine) checkRuleProjects(tx storage.ReadTx, p Principal, rules []RuleAssignment) error {
	for _, r := range rules {
		pr, err := storage.Projects.Get(tx, r.ProjectID)
		if err != nil || pr.TeamID != p.TeamID || !pr.DeletedAt.IsZero() {
			return invalidf("project %q of a rule assignment does not exist", r.ProjectID)
		}
		if err := p.requireIn(RoleResourceAdmin, pr.ResourceGroupID); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) buildServerJob(in ServerSyncJobInput, j *storage.ServerSyncJob) {
	j.Name, j.Frequency, j.IsActive = in.Name, in.Frequency, in.IsActive
	j.StartHourUTC = nil
	if in.StartHourUTC != nil {
		h := *in.StartHourUTC
		j.StartHourUTC = &h
	}
	j.HostnameAttribute = in.HostnameAttribute
	j.AccessAddressAttribute, j.OSAttribute, j.BastionAttribute = in.AccessAddressAttribute, in.OSAttribute, in.BastionAttribute
	j.AltNamesAttributes = slices.Clone(in.AltNamesAttributes)
	j.AdditionalAttributeMapping = storedAttributeMappings(in.AdditionalAttributeMapping)
	j.RuleAssignments = j.RuleAssignments[:0:0]
	for _, r := range in.RuleAssignments {
		id := r.ID
		if id == "" {
			id = e.newID()
		}
		j.RuleAssignments = append(j.RuleAssignments, storage.RuleAssignment{
			ID: id, BaseDN: r.BaseDN, LDAPQueryFilter: r.LDAPQueryFilter, ProjectID: r.ProjectID, Priority: r.Priority,
		})
	}
}

// activateServerJob makes j the connection's only active server sync job, due now. It deactivates
// the others and points the connection's active_task_settings_id at j.
func (e *Engine) activateServerJob(tx storage.WriteTx, c *storage.Connection, j *storage.ServerSyncJob, now time.Time) error {
	jobs, err := storage.ServerSyncJobs.List(tx, storage.ServerSyncJobsByConnection, c.ID)
	if err != nil {
		return err
	}
	for _, o := range jobs {
		if o.ID != j.ID && o.IsActive {
			o.IsActive, o.NextRunAt, o.UpdatedAt = false, time.Time{}, now
			if err := storage.ServerSyncJobs.Update(tx, o); err != nil {
				return err
			}
		}
	}
	j.IsActive, j.NextRunAt = true, now
	c.ActiveTaskSettingsID, c.UpdatedAt = j.ID, now
	return storage.Connections.Update(tx, c)
}

// releaseActiveJob clears the connection's active_task_settings_id when it names jobID (the job
// is deactivated or deleted).
func releaseActiveJob(tx storage.WriteTx, c *storage.Connection, jobID string, now time.Time) error {
	if c.ActiveTaskSettingsID != jobID {
		return nil
	}
	c.ActiveTaskSettingsID, c.UpdatedAt = "", now
	return storage.Connections.Update(tx, c)
}

// CreateServerSyncJob creates a server sync job of a connection. An active job becomes the
// connection's only active one (any other is deactivated) and is due at once: the next Tick runs
// it. Needs resource_admin, or delegated_resource_admin of every rule's project. Errors: ErrInvalid
// (frequency not 1/6/12/24, start_hour_utc without frequency 24 or outside 0-23, no rule, more than
// 10 attribute mappings, a bad base DN or filter, duplicate priorities, unknown project),
// ErrNotFound (connection), ErrForbidden. Safe for concurrent use.
func (e *Engine) CreateServerSyncJob(ctx context.Context, p Principal, connID string, in ServerSyncJobInput) (ServerSyncJob, error) {
	return writeJob(ctx, e, p.requireJobAdmin(), in.validate, func(tx storage.WriteTx, now time.Time) (ServerSyncJob, error) {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return ServerSyncJob{}, err
		}
		if err := e.checkRuleProjects(tx, p, in.RuleAssignments); err != nil {
			return ServerSyncJob{}, err
		}
		j := &storage.ServerSyncJob{ID: e.newID(), TeamID: p.TeamID, ConnectionID: c.ID, CreatedAt: now, UpdatedAt: now}
		e.buildServerJob(in, j)
		if j.IsActive {
			if err := e.activateServerJob(tx, c, j, now); err != nil {
				return ServerSyncJob{}, err
			}
		}
		if err := storage.ServerSyncJobs.Insert(tx, j); err != nil {
			return ServerSyncJob{}, err
		}
		return e.serverJobView(tx, j), nil
	})
}

// UpdateServerSyncJob replaces a server sync job's settings. The real API describes the update as
// "a transactional delete & then create"; this engine keeps the job's id (clients that follow the
// id they sent keep working) and its results, and replaces everything else in one transaction.
// Activation follows IsActive as on create; deactivating clears the connection's
// active_task_settings_id. Needs as CreateServerSyncJob; the same errors, plus ErrNotFound for an
// unknown job.
func (e *Engine) UpdateServerSyncJob(ctx context.Context, p Principal, connID, jobID string, in ServerSyncJobInput) (ServerSyncJob, error) {
	return writeJob(ctx, e, p.requireJobAdmin(), in.validate, func(tx storage.WriteTx, now time.Time) (ServerSyncJob, error) {
		c, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return ServerSyncJob{}, err
		}
		if err := e.checkJobRules(tx, p, j); err != nil {
			return ServerSyncJob{}, err
		}
		if err := e.checkRuleProjects(tx, p, in.RuleAssignments); err != nil {
			return ServerSyncJob{}, err
		}
		wasActive := j.IsActive
		e.buildServerJob(in, j)
		j.UpdatedAt = now
		switch {
		case j.IsActive && !wasActive:
			if err := e.activateServerJob(tx, c, j, now); err != nil {
				return ServerSyncJob{}, err
			}
		case !j.IsActive:
			j.NextRunAt = time.Time{}
			if err := releaseActiveJob(tx, c, j.ID, now); err != nil {
				return ServerSyncJob{}, err
			}
		default:
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		}
		if err := storage.ServerSyncJobs.Update(tx, j); err != nil {
			return ServerSyncJob{}, err
		}
		return e.serverJobView(tx, j), nil
	})
}

// checkJobRules checks that a delegated admin may administer every project the stored job uses.
func (e *Engine) checkJobRules(tx storage.ReadTx, p Principal, j *storage.ServerSyncJob) error {
	if p.HasRole(RoleResourceAdmin) {
		return nil
	}
	rules := make([]RuleAssignment, len(j.RuleAssignments))
	for i, r := range j.RuleAssignments {
		rules[i] = RuleAssignment{ProjectID: r.ProjectID}
	}
	return e.checkRuleProjects(tx, p, rules)
}

// ServerSyncJob returns a server sync job with its latest result. Needs resource_admin,
// delegated_resource_admin or security_admin. ErrNotFound for an unknown connection or job.
func (e *Engine) ServerSyncJob(ctx context.Context, p Principal, connID, jobID string) (ServerSyncJob, error) {
	if err := p.requireResourceRead(); err != nil {
		return ServerSyncJob{}, err
	}
	var out ServerSyncJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		_, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		out = e.serverJobView(tx, j)
		return nil
	})
	return out, err
}

// ServerSyncJobs lists the server sync jobs of a connection, paged. Needs as ServerSyncJob.
//
// Cost: a seek of the connection's jobs and one page, O(page + log N).
func (e *Engine) ServerSyncJobs(ctx context.Context, p Principal, connID string, page PageRequest) (Page[ServerSyncJob], error) {
	if err := p.requireResourceRead(); err != nil {
		return Page[ServerSyncJob]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[ServerSyncJob]{}, err
	}
	var out Page[ServerSyncJob]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		src := pageSource[storage.ServerSyncJob]{table: storage.ServerSyncJobs, index: storage.ServerSyncJobsByConnection, args: []string{c.ID},
			in: func(j *storage.ServerSyncJob) bool { return j.ConnectionID == c.ID }}
		out, err = rangePage(tx, src, page, func(j *storage.ServerSyncJob) string { return j.ID },
			func(j *storage.ServerSyncJob) ServerSyncJob { return e.serverJobView(tx, j) })
		return err
	})
	return out, err
}

// DeleteServerSyncJob deletes a server sync job and its results (the servers it discovered stay).
// Needs as UpdateServerSyncJob. ErrNotFound for an unknown connection or job.
func (e *Engine) DeleteServerSyncJob(ctx context.Context, p Principal, connID, jobID string) error {
	if err := p.requireJobAdmin(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		if err := e.checkJobRules(tx, p, j); err != nil {
			return err
		}
		if err := releaseActiveJob(tx, c, j.ID, e.now()); err != nil {
			return err
		}
		if err := deleteResults(tx, j.ID); err != nil {
			return err
		}
		return storage.ServerSyncJobs.Delete(tx, j.ID)
	})
}

// DeactivateServerSyncJob deactivates a server sync job; the connection then has no active one.
// Needs as UpdateServerSyncJob. ErrNotFound for an unknown connection or job.
func (e *Engine) DeactivateServerSyncJob(ctx context.Context, p Principal, connID, jobID string) error {
	if err := p.requireJobAdmin(); err != nil {
		return err
	}
	now := e.now()
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		if err := e.checkJobRules(tx, p, j); err != nil {
			return err
		}
		j.IsActive, j.NextRunAt, j.UpdatedAt = false, time.Time{}, now
		if err := releaseActiveJob(tx, c, j.ID, now); err != nil {
			return err
		}
		return storage.ServerSyncJobs.Update(tx, j)
	})
}

// ScheduleServerSyncJob sets a server sync job's schedule and activates it (the ASA "schedule"
// operation activates a job): it becomes the connection's only active job and is due at once.
// Needs as UpdateServerSyncJob. Errors: ErrInvalid (bad frequency or start hour), ErrNotFound.
func (e *Engine) ScheduleServerSyncJob(ctx context.Context, p Principal, connID, jobID string, s Schedule) error {
	if err := p.requireJobAdmin(); err != nil {
		return err
	}
	if err := validateSchedule(s.Frequency, s.StartHourUTC); err != nil {
		return err
	}
	now := e.now()
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		if err := e.checkJobRules(tx, p, j); err != nil {
			return err
		}
		j.Frequency, j.StartHourUTC, j.UpdatedAt = s.Frequency, s.StartHourUTC, now
		if j.IsActive {
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		} else if err := e.activateServerJob(tx, c, j, now); err != nil {
			return err
		}
		return storage.ServerSyncJobs.Update(tx, j)
	})
}

// ServerSyncResults lists the results (runs and test requests) of a server sync job, paged by id.
// Needs as ServerSyncJob. ErrNotFound for an unknown connection or job.
func (e *Engine) ServerSyncResults(ctx context.Context, p Principal, connID, jobID string, page PageRequest) (Page[ServerSyncResult], error) {
	if err := p.requireResourceRead(); err != nil {
		return Page[ServerSyncResult]{}, err
	}
	return jobResults(ctx, e, e.jobLookup(p, jobKindServer, connID, jobID), serverResultView, page)
}

// ServerSyncResult returns one result of a server sync job. Needs as ServerSyncJob. ErrNotFound
// for an unknown connection, job or result.
func (e *Engine) ServerSyncResult(ctx context.Context, p Principal, connID, jobID, resultID string) (ServerSyncResult, error) {
	if err := p.requireResourceRead(); err != nil {
		return ServerSyncResult{}, err
	}
	return jobResult(ctx, e, e.jobLookup(p, jobKindServer, connID, jobID), resultID, serverResultView)
}
