package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/storage"
)

// Sync result states. task_state is one of TaskPending, TaskRunning, TaskDone, TaskFailed;
// rules_summary_status (server sync) is TaskDone when every rule ran, RulesPartial when some rules
// failed (a missing base DN) and TaskFailed when none ran. The real enums are not documented; these
// follow the seed sample ("done").
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

// Limits of sync jobs.
const (
	MaxAttributeMappings      = 10
	MaxActiveUserSyncJobs     = 10
	DefaultUserSyncFilter     = "(objectclass=user)"
	DefaultSIDField           = "objectSid"
	DefaultUPNField           = "userPrincipalName"
	DefaultHostnameAttribute  = "dNSHostName"
	defaultSyncResultsPerPage = 100
)

// AttributeMapping maps a directory attribute (Value) to a server label; IsGUID marks the attribute
// that holds the computer's object GUID.
type AttributeMapping = storage.AttributeMapping

// RuleAssignment of a server sync job (wire format). Priority: lower numbers win. ProjectName is
// filled on output. On input Priority may also be a JSON string holding a number (the seed sample).
type RuleAssignment struct {
	ID              string `json:"id,omitempty"`
	BaseDN          string `json:"base_dn"`
	LDAPQueryFilter string `json:"ldap_query_filter"`
	ProjectID       string `json:"project_id"`
	ProjectName     string `json:"project_name,omitempty"`
	Priority        int    `json:"priority"`
}

// UnmarshalJSON accepts priority as a number or a string holding one.
func (r *RuleAssignment) UnmarshalJSON(b []byte) error {
	type plain RuleAssignment
	var aux struct {
		plain
		Priority json.RawMessage `json:"priority"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return invalidf("rule_assignments: %v", err)
	}
	*r = RuleAssignment(aux.plain)
	p, err := intOrString(aux.Priority)
	if err != nil {
		return invalidf("rule_assignments.priority must be an integer")
	}
	r.Priority = p
	return nil
}

func intOrString(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	} else {
		s = string(raw)
	}
	return strconv.Atoi(strings.TrimSpace(s))
}

// ServerSyncJob is a server sync job (ASA "task settings") in the wire format. It encodes both
// hostname_attribute (what the real clients parse) and host_name_attribute (the seed's spelling)
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

// ServerSyncJobInput creates or updates a server sync job. Its UnmarshalJSON accepts both the real
// clients' and the seed's forms (see seed-vs-wire): host_name_attribute or hostname_attribute;
// start_hour_utc as an integer or an RFC 3339 time (its UTC hour); alt_names_attributes as an array
// or a string; additional_attribute_mapping and rule_assignments as an array or a single object.
// RunTest is accepted and ignored.
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

// UnmarshalJSON decodes the lenient input forms described on ServerSyncJobInput. Errors are
// ErrInvalid.
func (in *ServerSyncJobInput) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return invalidf("server sync job: the body is not a JSON object")
	}
	get := func(k string) json.RawMessage {
		for key, v := range raw {
			if strings.EqualFold(key, k) {
				return v
			}
		}
		return nil
	}
	var out ServerSyncJobInput
	str := func(k string, dst *string) error {
		if v := get(k); v != nil && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return invalidf("%s must be a string", k)
			}
		}
		return nil
	}
	for k, dst := range map[string]*string{
		"name": &out.Name, "access_address_attribute": &out.AccessAddressAttribute,
		"os_attribute": &out.OSAttribute, "bastion_attribute": &out.BastionAttribute,
		"hostname_attribute": &out.HostnameAttribute,
	} {
		if err := str(k, dst); err != nil {
			return err
		}
	}
	if out.HostnameAttribute == "" {
		if err := str("host_name_attribute", &out.HostnameAttribute); err != nil {
			return err
		}
	}
	var err error
	if out.Frequency, err = intOrString(get("frequency")); err != nil {
		return invalidf("frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(get("start_hour_utc")); err != nil {
		return err
	}
	for k, dst := range map[string]*bool{"is_active": &out.IsActive, "run_test": &out.RunTest} {
		if v := get(k); v != nil && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return invalidf("%s must be a boolean", k)
			}
		}
	}
	if err := oneOrMany(get("alt_names_attributes"), &out.AltNamesAttributes); err != nil {
		return invalidf("alt_names_attributes must be a string or an array of strings")
	}
	if err := oneOrMany(get("additional_attribute_mapping"), &out.AdditionalAttributeMapping); err != nil {
		return invalidf("additional_attribute_mapping must be an object or an array of {label, value, is_guid}")
	}
	if err := oneOrMany(get("rule_assignments"), &out.RuleAssignments); err != nil {
		if ErrorClass(err) != nil {
			return err
		}
		return invalidf("rule_assignments must be an object or an array of rule assignments")
	}
	*in = out
	return nil
}

// oneOrMany decodes a JSON array, or a single value as a one-element slice.
func oneOrMany[T any](raw json.RawMessage, dst *[]T) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '[' {
		return json.Unmarshal(raw, dst)
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return err
	}
	*dst = []T{one}
	return nil
}

// decodeStartHour accepts an integer hour or an RFC 3339 time (its UTC hour).
func decodeStartHour(raw json.RawMessage) (*int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			h := t.UTC().Hour()
			return &h, nil
		}
		if h, err := strconv.Atoi(s); err == nil {
			return &h, nil
		}
		return nil, invalidf("start_hour_utc must be an hour 0-23 or an RFC 3339 time")
	}
	h, err := strconv.Atoi(string(raw))
	if err != nil {
		return nil, invalidf("start_hour_utc must be an hour 0-23")
	}
	return &h, nil
}

// Schedule is the body of the schedule operations: {frequency, start_hour_utc}. Its UnmarshalJSON
// also accepts a whole job as the body (the seed's form), ignoring the other fields, and
// start_hour_utc as an RFC 3339 time.
type Schedule struct {
	Frequency    int  `json:"frequency"`
	StartHourUTC *int `json:"start_hour_utc,omitempty"`
}

// UnmarshalJSON decodes a Schedule leniently. Errors are ErrInvalid.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return invalidf("schedule: the body is not a JSON object")
	}
	var out Schedule
	var err error
	if out.Frequency, err = intOrString(raw["frequency"]); err != nil {
		return invalidf("frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(raw["start_hour_utc"]); err != nil {
		return err
	}
	*s = out
	return nil
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

func (e *Engine) serverJobView(tx storage.ReadTx, j *storage.ServerSyncJob) ServerSyncJob {
	out := ServerSyncJob{
		ID: j.ID, Name: j.Name, Frequency: j.Frequency, IsActive: j.IsActive,
		HostnameAttribute: j.HostnameAttribute, HostNameAttribute: j.HostnameAttribute,
		AccessAddressAttribute: j.AccessAddressAttribute, OSAttribute: j.OSAttribute,
		BastionAttribute: j.BastionAttribute, AltNamesAttributes: slices.Clone(j.AltNamesAttributes),
		AdditionalAttributeMapping: slices.Clone(j.AdditionalAttributeMapping),
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
	c, err := e.teamConnection(tx, p, connID)
	if err != nil {
		return nil, nil, err
	}
	j, err := storage.ServerSyncJobs.Get(tx, jobID)
	if err != nil || j.ConnectionID != c.ID {
		return nil, nil, notFoundf("server sync job %q does not exist for AD connection %q", jobID, connID)
	}
	return c, j, nil
}

// checkRuleProjects checks that every rule's project is a project of p's team that p may
// administer (resource_admin, or delegated_resource_admin of its resource group).
func (e *Engine) checkRuleProjects(tx storage.ReadTx, p Principal, rules []RuleAssignment) error {
	for _, r := range rules {
		pr, err := storage.Projects.Get(tx, r.ProjectID)
		if err != nil || pr.TeamID != p.TeamID {
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
	j.AdditionalAttributeMapping = slices.Clone(in.AdditionalAttributeMapping)
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

// CreateServerSyncJob creates a server sync job of a connection. An active job becomes the
// connection's only active one (any other is deactivated) and is due at once: the next Tick runs
// it. Needs resource_admin, or delegated_resource_admin of every rule's project. Errors: ErrInvalid
// (frequency not 1/6/12/24, start_hour_utc without frequency 24 or outside 0-23, no rule, more than
// 10 attribute mappings, a bad base DN or filter, duplicate priorities, unknown project),
// ErrNotFound (connection), ErrForbidden. Safe for concurrent use.
func (e *Engine) CreateServerSyncJob(ctx context.Context, p Principal, connID string, in ServerSyncJobInput) (ServerSyncJob, error) {
	if err := p.requireJobAdmin(); err != nil {
		return ServerSyncJob{}, err
	}
	if err := in.validate(); err != nil {
		return ServerSyncJob{}, err
	}
	now := e.now()
	var out ServerSyncJob
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		if err := e.checkRuleProjects(tx, p, in.RuleAssignments); err != nil {
			return err
		}
		j := &storage.ServerSyncJob{ID: e.newID(), TeamID: p.TeamID, ConnectionID: c.ID, CreatedAt: now, UpdatedAt: now}
		e.buildServerJob(in, j)
		if j.IsActive {
			if err := e.activateServerJob(tx, c, j, now); err != nil {
				return err
			}
		}
		if err := storage.ServerSyncJobs.Insert(tx, j); err != nil {
			return err
		}
		out = e.serverJobView(tx, j)
		return nil
	})
	return out, err
}

// UpdateServerSyncJob replaces a server sync job's settings. The real API describes the update as
// "a transactional delete & then create"; this engine keeps the job's id (clients that follow the
// id they sent keep working) and its results, and replaces everything else in one transaction.
// Activation follows IsActive as on create; deactivating clears the connection's
// active_task_settings_id. Needs as CreateServerSyncJob; the same errors, plus ErrNotFound for an
// unknown job.
func (e *Engine) UpdateServerSyncJob(ctx context.Context, p Principal, connID, jobID string, in ServerSyncJobInput) (ServerSyncJob, error) {
	if err := p.requireJobAdmin(); err != nil {
		return ServerSyncJob{}, err
	}
	if err := in.validate(); err != nil {
		return ServerSyncJob{}, err
	}
	now := e.now()
	var out ServerSyncJob
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		if err := e.checkJobRules(tx, p, j); err != nil {
			return err
		}
		if err := e.checkRuleProjects(tx, p, in.RuleAssignments); err != nil {
			return err
		}
		wasActive := j.IsActive
		e.buildServerJob(in, j)
		j.UpdatedAt = now
		switch {
		case j.IsActive && !wasActive:
			if err := e.activateServerJob(tx, c, j, now); err != nil {
				return err
			}
		case !j.IsActive:
			j.NextRunAt = time.Time{}
			if c.ActiveTaskSettingsID == j.ID {
				c.ActiveTaskSettingsID, c.UpdatedAt = "", now
				if err := storage.Connections.Update(tx, c); err != nil {
					return err
				}
			}
		default:
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		}
		if err := storage.ServerSyncJobs.Update(tx, j); err != nil {
			return err
		}
		out = e.serverJobView(tx, j)
		return nil
	})
	return out, err
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
	if err := p.requireJobRead(); err != nil {
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
func (e *Engine) ServerSyncJobs(ctx context.Context, p Principal, connID string, page PageRequest) (Page[ServerSyncJob], error) {
	if err := p.requireJobRead(); err != nil {
		return Page[ServerSyncJob]{}, err
	}
	var out []ServerSyncJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		js, err := storage.ServerSyncJobs.List(tx, storage.ServerSyncJobsByConnection, c.ID)
		for _, j := range js {
			out = append(out, e.serverJobView(tx, j))
		}
		return err
	})
	if err != nil {
		return Page[ServerSyncJob]{}, err
	}
	return paginate(out, func(j ServerSyncJob) string { return j.ID }, page)
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
		if c.ActiveTaskSettingsID == j.ID {
			c.ActiveTaskSettingsID, c.UpdatedAt = "", e.now()
			if err := storage.Connections.Update(tx, c); err != nil {
				return err
			}
		}
		if err := deleteResults(tx, j.ID); err != nil {
			return err
		}
		return storage.ServerSyncJobs.Delete(tx, j.ID)
	})
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
		if c.ActiveTaskSettingsID == j.ID {
			c.ActiveTaskSettingsID, c.UpdatedAt = "", now
			if err := storage.Connections.Update(tx, c); err != nil {
				return err
			}
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
	if err := p.requireJobRead(); err != nil {
		return Page[ServerSyncResult]{}, err
	}
	return jobResults(ctx, e, e.serverJobLookup(p, connID, jobID), serverResultView, func(r ServerSyncResult) string { return r.ID }, page)
}

// ServerSyncResult returns one result of a server sync job. Needs as ServerSyncJob. ErrNotFound
// for an unknown connection, job or result.
func (e *Engine) ServerSyncResult(ctx context.Context, p Principal, connID, jobID, resultID string) (ServerSyncResult, error) {
	if err := p.requireJobRead(); err != nil {
		return ServerSyncResult{}, err
	}
	return jobResult(ctx, e, e.serverJobLookup(p, connID, jobID), resultID, serverResultView)
}

func (e *Engine) serverJobLookup(p Principal, connID, jobID string) func(storage.ReadTx) (string, error) {
	return func(tx storage.ReadTx) (string, error) {
		_, j, err := e.teamServerJob(tx, p, connID, jobID)
		if err != nil {
			return "", err
		}
		return j.ID, nil
	}
}

func (e *Engine) userJobLookup(p Principal, connID, jobID string) func(storage.ReadTx) (string, error) {
	return func(tx storage.ReadTx) (string, error) {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return "", err
		}
		return j.ID, nil
	}
}

// jobResults lists the results of the job that lookup finds (checking team and connection).
func jobResults[T any](ctx context.Context, e *Engine, lookup func(storage.ReadTx) (string, error), view func(*storage.SyncResult) T, id func(T) string, page PageRequest) (Page[T], error) {
	var out []T
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		jobID, err := lookup(tx)
		if err != nil {
			return err
		}
		rs, err := storage.SyncResults.List(tx, storage.SyncResultsByJob, jobID)
		for _, r := range rs {
			out = append(out, view(r))
		}
		return err
	})
	if err != nil {
		return Page[T]{}, err
	}
	return paginate(out, id, page)
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

// Servers returns the servers discovered for a connection, ordered by id. Needs as ServerSyncJob.
// ErrNotFound for an unknown connection.
func (e *Engine) Servers(ctx context.Context, p Principal, connID string) ([]storage.Server, error) {
	if err := p.requireJobRead(); err != nil {
		return nil, err
	}
	var out []storage.Server
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		ss, err := storage.Servers.List(tx, storage.ServersByConnection, c.ID)
		for _, s := range ss {
			out = append(out, *s)
		}
		return err
	})
	slices.SortFunc(out, func(a, b storage.Server) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// summaryLine formats a one-line summary of counts.
func summaryLine(what string, found, added, updated, removed int) string {
	return fmt.Sprintf("%d %s found: %d added, %d updated, %d removed", found, what, added, updated, removed)
}

// UserSyncJob is a user sync job in the wire format: lower-case snake keys as the real clients use
// (the seed's LDAP_query_filter / SID_Field / UPN_Field are accepted on input by
// UserSyncJobInput). RunTest always reads back false.
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
// DefaultUserSyncFilter, sid_field objectSid, upn_field userPrincipalName, frequency 24. Its
// UnmarshalJSON accepts keys in any case (LDAP_query_filter, SID_Field, …) and start_hour_utc as
// an integer or an RFC 3339 time.
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

// UnmarshalJSON decodes a user sync job leniently (see UserSyncJobInput). Errors are ErrInvalid.
func (in *UserSyncJobInput) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return invalidf("user sync job: the body is not a JSON object")
	}
	lower := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		lower[strings.ToLower(k)] = v
	}
	var out UserSyncJobInput
	for k, dst := range map[string]*string{
		"name": &out.Name, "base_dn": &out.BaseDN, "ldap_query_filter": &out.LDAPQueryFilter,
		"sid_field": &out.SIDField, "upn_field": &out.UPNField,
	} {
		if v, ok := lower[k]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return invalidf("%s must be a string", k)
			}
		}
	}
	for k, dst := range map[string]*bool{"is_active": &out.IsActive, "run_test": &out.RunTest} {
		if v, ok := lower[k]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return invalidf("%s must be a boolean", k)
			}
		}
	}
	var err error
	if out.Frequency, err = intOrString(lower["frequency"]); err != nil {
		return invalidf("frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(lower["start_hour_utc"]); err != nil {
		return err
	}
	*in = out
	return nil
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
	c, err := e.teamConnection(tx, p, connID)
	if err != nil {
		return nil, nil, err
	}
	j, err := storage.UserSyncJobs.Get(tx, jobID)
	if err != nil || j.ConnectionID != c.ID {
		return nil, nil, notFoundf("user sync job %q does not exist for AD connection %q", jobID, connID)
	}
	return c, j, nil
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
	if err := p.require(RoleResourceAdmin); err != nil {
		return UserSyncJob{}, err
	}
	if err := in.normalize(); err != nil {
		return UserSyncJob{}, err
	}
	now := e.now()
	var out UserSyncJob
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		j := &storage.UserSyncJob{
			ID: e.newID(), TeamID: p.TeamID, ConnectionID: c.ID, Name: in.Name, Frequency: in.Frequency,
			StartHourUTC: in.StartHourUTC, BaseDN: in.BaseDN, LDAPQueryFilter: in.LDAPQueryFilter,
			SIDField: in.SIDField, UPNField: in.UPNField, CreatedAt: now, UpdatedAt: now,
		}
		if in.IsActive {
			if err := activateUserJob(tx, j, now); err != nil {
				return err
			}
		}
		if err := storage.UserSyncJobs.Insert(tx, j); err != nil {
			return err
		}
		out = e.userJobView(tx, j)
		return nil
	})
	return out, err
}

// UpdateUserSyncJob replaces a user sync job's settings, keeping its id and results. Needs
// resource_admin. Errors as CreateUserSyncJob, plus ErrNotFound for an unknown job.
func (e *Engine) UpdateUserSyncJob(ctx context.Context, p Principal, connID, jobID string, in UserSyncJobInput) (UserSyncJob, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return UserSyncJob{}, err
	}
	if err := in.normalize(); err != nil {
		return UserSyncJob{}, err
	}
	now := e.now()
	var out UserSyncJob
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, j, err := e.teamUserJob(tx, p, connID, jobID)
		if err != nil {
			return err
		}
		wasActive := j.IsActive
		j.Name, j.Frequency, j.StartHourUTC, j.BaseDN = in.Name, in.Frequency, in.StartHourUTC, in.BaseDN
		j.LDAPQueryFilter, j.SIDField, j.UPNField, j.UpdatedAt = in.LDAPQueryFilter, in.SIDField, in.UPNField, now
		switch {
		case in.IsActive && !wasActive:
			if err := activateUserJob(tx, j, now); err != nil {
				return err
			}
		case !in.IsActive:
			j.IsActive, j.NextRunAt = false, time.Time{}
		default:
			j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, now)
		}
		if err := storage.UserSyncJobs.Update(tx, j); err != nil {
			return err
		}
		out = e.userJobView(tx, j)
		return nil
	})
	return out, err
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
	var out []UserSyncJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		js, err := storage.UserSyncJobs.List(tx, storage.UserSyncJobsByConnection, c.ID)
		for _, j := range js {
			if (status == JobStatusActive && !j.IsActive) || (status == JobStatusInactive && j.IsActive) {
				continue
			}
			out = append(out, e.userJobView(tx, j))
		}
		return err
	})
	if err != nil {
		return Page[UserSyncJob]{}, err
	}
	return paginate(out, func(j UserSyncJob) string { return j.ID }, page)
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
	var conn *storage.Connection
	var job *storage.UserSyncJob
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if conn, err = storage.Connections.Get(tx, connID); err != nil {
			return wrapNotFound(err, "AD connection %q does not exist", connID)
		}
		if job, err = storage.UserSyncJobs.Get(tx, jobID); err != nil || job.ConnectionID != connID {
			return notFoundf("user sync job %q does not exist", jobID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	started := e.now()
	res := &storage.SyncResult{
		ID: e.newID(), TeamID: conn.TeamID, ConnectionID: conn.ID, JobID: job.ID, JobKind: jobKindUser,
		JobName: job.Name, CreatedAt: started,
	}
	s := accountSync{
		conn:    conn,
		sources: []accountSource{{job.BaseDN, job.LDAPQueryFilter, job.SIDField, job.UPNField}},
		scope:   []string{normDN(job.BaseDN)},
		test:    test,
		res:     res,
	}
	if test {
		res.TestRequestID = e.newID()
	} else {
		s.final = func(tx storage.WriteTx) error {
			j, err := storage.UserSyncJobs.Get(tx, job.ID)
			if err != nil {
				return nil // deleted meanwhile
			}
			j.LastRunAt = started
			if j.IsActive {
				j.NextRunAt = nextRun(j.Frequency, j.StartHourUTC, started)
			}
			return storage.UserSyncJobs.Update(tx, j)
		}
	}
	return e.syncAccounts(ctx, s)
}

// RunUserSyncTest creates a test request for a user sync job: it computes what a run would
// import and records the result with its ad_user_sync_test_request_id, changing no account.
// Needs resource_admin. Errors: ErrNotFound; a directory failure is recorded in the result, which
// is returned with a nil error.
func (e *Engine) RunUserSyncTest(ctx context.Context, p Principal, connID, jobID string) (UserSyncResult, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return UserSyncResult{}, err
	}
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		_, _, err := e.teamUserJob(tx, p, connID, jobID)
		return err
	}); err != nil {
		return UserSyncResult{}, err
	}
	res, err := e.runUserJob(ctx, connID, jobID, true)
	if res == nil {
		return UserSyncResult{}, err
	}
	return userResultView(res), nil
}

// RunUserSyncJob runs a user sync job now, whether active or not, and returns its result (what
// a due job's Tick does). Needs resource_admin. Errors: ErrNotFound; ErrConflict while a sync of
// the connection runs; a failed run's directory error after recording the failed result.
func (e *Engine) RunUserSyncJob(ctx context.Context, p Principal, connID, jobID string) (UserSyncResult, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return UserSyncResult{}, err
	}
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		_, _, err := e.teamUserJob(tx, p, connID, jobID)
		return err
	}); err != nil {
		return UserSyncResult{}, err
	}
	unlock, ok := e.syncLocks.tryLock(connID)
	if !ok {
		return UserSyncResult{}, conflictf("a sync of AD connection %q is already running", connID)
	}
	defer unlock()
	res, err := e.runUserJob(ctx, connID, jobID, false)
	if res == nil {
		return UserSyncResult{}, err
	}
	return userResultView(res), err
}

// UserSyncResults lists the results of a user sync job, paged by id. Needs resource_admin or
// security_admin. ErrNotFound for an unknown connection or job.
func (e *Engine) UserSyncResults(ctx context.Context, p Principal, connID, jobID string, page PageRequest) (Page[UserSyncResult], error) {
	if err := p.requireConnRead(); err != nil {
		return Page[UserSyncResult]{}, err
	}
	return jobResults(ctx, e, e.userJobLookup(p, connID, jobID), userResultView, func(r UserSyncResult) string { return r.ID }, page)
}

// UserSyncResult returns one result of a user sync job. Needs resource_admin or security_admin.
// ErrNotFound for an unknown connection, job or result.
func (e *Engine) UserSyncResult(ctx context.Context, p Principal, connID, jobID, resultID string) (UserSyncResult, error) {
	if err := p.requireConnRead(); err != nil {
		return UserSyncResult{}, err
	}
	return jobResult(ctx, e, e.userJobLookup(p, connID, jobID), resultID, userResultView)
}
