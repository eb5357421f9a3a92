package opa

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// ASAProject is a team-level project of Advanced Server Access, addressed by name: the project
// that ASA server sync jobs assign servers to and that groups are assigned to (ProjectGroup). It
// has no resource group and holds no account settings (see Project for those).
type ASAProject struct {
	ID                     string    `json:"id"`
	TeamID                 string    `json:"team_id"`
	Name                   string    `json:"name"`
	NextUnixUID            int       `json:"next_unix_uid"`
	NextUnixGID            int       `json:"next_unix_gid"`
	CreateServerUsers      bool      `json:"create_server_users"`
	ForwardTraffic         bool      `json:"forward_traffic"`
	RDPSessionRecording    bool      `json:"rdp_session_recording"`
	SSHSessionRecording    bool      `json:"ssh_session_recording"`
	RequirePreauthForCreds bool      `json:"require_preauth_for_creds"`
	GatewaySelector        string    `json:"gateway_selector,omitempty"`
	SSHCertificateType     string    `json:"ssh_certificate_type"`
	UserOnDemandPeriod     int       `json:"user_on_demand_period"`
	CreatedAt              time.Time `json:"created_at"`
	DeletedAt              time.Time `json:"deleted_at,omitzero"`
}

func asaProjectOf(pr *storage.Project) ASAProject {
	return ASAProject{
		ID: pr.ID, TeamID: pr.TeamID, Name: pr.Name, NextUnixUID: pr.NextUnixUID, NextUnixGID: pr.NextUnixGID,
		CreateServerUsers: pr.CreateServerUsers, ForwardTraffic: pr.ForwardTraffic,
		RDPSessionRecording: pr.RDPSessionRecording, SSHSessionRecording: pr.SSHSessionRecording,
		RequirePreauthForCreds: pr.RequirePreauthForCreds, GatewaySelector: pr.GatewaySelector,
		SSHCertificateType: pr.SSHCertificateType, UserOnDemandPeriod: pr.UserOnDemandPeriod,
		CreatedAt: pr.CreatedAt, DeletedAt: pr.DeletedAt,
	}
}

// Defaults of a new ASA project for the settings its create request leaves out.
const (
	DefaultNextUnixUID        = 60001
	DefaultNextUnixGID        = 63001
	DefaultSSHCertificateType = "CERT_TYPE_ED25519_01"
)

// SSHCertificateTypes returns the accepted ssh_certificate_type values. Each call returns a new
// slice.
func SSHCertificateTypes() []string {
	return []string{"CERT_TYPE_ED25519_01", "CERT_TYPE_ECDSA_521_01", "CERT_TYPE_ECDSA_384_01", "CERT_TYPE_ECDSA_256_01",
		"CERT_TYPE_RSA_01", "CERT_TYPE_RSA_SHA2_256_01", "CERT_TYPE_RSA_SHA2_512_01"}
}

// ASAProjectInput holds the settings of an ASA project to create or change. A nil field is left
// as it is (on create: its default; bools default to false).
type ASAProjectInput struct {
	Name                   string
	NextUnixUID            *int
	NextUnixGID            *int
	CreateServerUsers      *bool
	ForwardTraffic         *bool
	RDPSessionRecording    *bool
	SSHSessionRecording    *bool
	RequirePreauthForCreds *bool
	GatewaySelector        *string
	SSHCertificateType     *string
	UserOnDemandPeriod     *int
}

var projectNameRE = regexp.MustCompile(`^[\w\-.]{1,255}$`)

// apply sets the non-nil settings on pr, checking each.
func (in ASAProjectInput) apply(pr *storage.Project) error {
	for _, n := range []struct {
		v    *int
		dst  *int
		name string
		min  int
	}{{in.NextUnixUID, &pr.NextUnixUID, "next_unix_uid", 1}, {in.NextUnixGID, &pr.NextUnixGID, "next_unix_gid", 1},
		{in.UserOnDemandPeriod, &pr.UserOnDemandPeriod, "user_on_demand_period", 0}} {
		if n.v == nil {
			continue
		}
		if *n.v < n.min || *n.v > 1<<31-1 {
			return invalidf("%s must be between %d and %d", n.name, n.min, 1<<31-1)
		}
		*n.dst = *n.v
	}
	for _, b := range []struct{ v, dst *bool }{
		{in.CreateServerUsers, &pr.CreateServerUsers}, {in.ForwardTraffic, &pr.ForwardTraffic},
		{in.RDPSessionRecording, &pr.RDPSessionRecording}, {in.SSHSessionRecording, &pr.SSHSessionRecording},
		{in.RequirePreauthForCreds, &pr.RequirePreauthForCreds}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	return applyServerAccess(pr, in.GatewaySelector, in.SSHCertificateType)
}

// applyServerAccess sets a project's gateway selector and SSH certificate type when given.
func applyServerAccess(pr *storage.Project, gatewaySelector, certType *string) error {
	if gatewaySelector != nil {
		if err := checkLabelSelector(*gatewaySelector); err != nil {
			return err
		}
		pr.GatewaySelector = *gatewaySelector
	}
	if certType != nil {
		if !slices.Contains(SSHCertificateTypes(), *certType) {
			return invalidf("ssh_certificate_type must be one of %s", strings.Join(SSHCertificateTypes(), ", "))
		}
		pr.SSHCertificateType = *certType
	}
	return nil
}

// checkLabelSelector checks a selector of comma-separated key=value labels ("" selects nothing).
func checkLabelSelector(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 1024 {
		return invalidf("a label selector must be at most 1024 characters")
	}
	for _, part := range strings.Split(s, ",") {
		k, _, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return invalidf("label selector %q must be comma-separated key=value pairs", s)
		}
	}
	return nil
}

// requireASAProjectRead allows reading ASA projects: resource and security admins (team-wide).
func (p Principal) requireASAProjectRead() error { return p.requireConnRead() }

// CreateASAProject creates an ASA project with in's settings and the defaults for the rest. A
// deleted project of the same name is replaced. Needs resource_admin. Errors: ErrInvalid (bad
// name or setting), ErrConflict (a live project has the name).
func (e *Engine) CreateASAProject(ctx context.Context, p Principal, in ASAProjectInput) (ASAProject, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return ASAProject{}, err
	}
	if !projectNameRE.MatchString(in.Name) {
		return ASAProject{}, invalidf("project name must be 1-255 letters, digits, '_', '-' or '.'")
	}
	pr := storage.Project{ID: e.newID(), TeamID: p.TeamID, Name: in.Name, ASAName: in.Name,
		NextUnixUID: DefaultNextUnixUID, NextUnixGID: DefaultNextUnixGID, SSHCertificateType: DefaultSSHCertificateType,
		ADCheckout: defaultCheckoutSettings(), UDCheckout: defaultCheckoutSettings(),
		ADPassword: defaultPasswordPolicy(), UDPassword: defaultPasswordPolicy(), CreatedAt: e.now()}
	if err := in.apply(&pr); err != nil {
		return ASAProject{}, err
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if old, err := storage.Projects.First(tx, storage.ProjectsByASAName, p.TeamID, in.Name); err == nil && !old.DeletedAt.IsZero() {
			if err := e.purgeProject(tx, old); err != nil {
				return err
			}
		}
		return wrapConflict(storage.Projects.Insert(tx, &pr), "a project named %q already exists", in.Name)
	})
	if err != nil {
		return ASAProject{}, err
	}
	return asaProjectOf(&pr), nil
}

// ASAProject returns the ASA project of p's team with the name (case-insensitive), deleted or not
// (a deleted one has DeletedAt set). Needs resource_admin or security_admin. ErrNotFound if there
// is none.
func (e *Engine) ASAProject(ctx context.Context, p Principal, name string) (ASAProject, error) {
	if err := p.requireASAProjectRead(); err != nil {
		return ASAProject{}, err
	}
	var out ASAProject
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamASAProject(tx, p, name, true)
		if err == nil {
			out = asaProjectOf(pr)
		}
		return err
	})
	return out, err
}

// ASAProjectFilter selects the ASA projects of a list. Contains keeps names containing it
// (case-insensitive); Self keeps the projects one of the principal's groups is assigned to.
type ASAProjectFilter struct {
	Contains string
	Self     bool
}

// ListASAProjects returns one page of the live ASA projects of p's team that f selects, in id
// order. Cost: a seek in the team's projects by id plus one page (rangePage): O(log N + k), k the
// page plus the projects passed over between the cursor and the page's end (the team's
// resource-group projects, deleted ASA projects and those f refuses); with Self, the list first
// reads the live assignments of the principal's groups (ProjectGroupsByGroup). Needs
// resource_admin or security_admin. ErrInvalid for a bad page request. Safe for concurrent use.
func (e *Engine) ListASAProjects(ctx context.Context, p Principal, f ASAProjectFilter, page PageRequest) (Page[ASAProject], error) {
	if err := p.requireASAProjectRead(); err != nil {
		return Page[ASAProject]{}, err
	}
	var out Page[ASAProject]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var member func(*storage.Project) bool
		if f.Self {
			in, err := principalProjects(tx, p)
			if err != nil {
				return err
			}
			member = func(pr *storage.Project) bool { return in[pr.ID] }
		}
		var err error
		out, err = rangePage(tx, teamASAProjects(p.TeamID, f, member), page, func(pr *storage.Project) string { return pr.ID }, asaProjectOf)
		return err
	})
	return out, err
}

// teamASAProjects is the list of the live ASA projects of a team that f selects, read from
// ProjectsByTeam (which also holds the team's resource-group projects, left out by the filter).
// member reports whether the principal is in a project (f.Self).
func teamASAProjects(teamID string, f ASAProjectFilter, member func(*storage.Project) bool) pageSource[storage.Project] {
	sub := strings.ToLower(f.Contains)
	return pageSource[storage.Project]{table: storage.Projects, index: storage.ProjectsByTeam, args: []string{teamID},
		in: func(pr *storage.Project) bool { return pr.TeamID == teamID }, borrow: true,
		keep: func(pr *storage.Project) bool {
			if pr.ASAName == "" || !pr.DeletedAt.IsZero() || sub != "" && !strings.Contains(strings.ToLower(pr.Name), sub) {
				return false
			}
			return !f.Self || member(pr)
		}}
}

// principalProjects returns the ids of the projects one of p's groups is assigned to (live
// assignments only): O(assignments of p's groups).
func principalProjects(tx storage.ReadTx, p Principal) (map[string]bool, error) {
	in := map[string]bool{}
	for _, g := range p.GroupIDs {
		pgs, err := storage.ProjectGroups.BorrowList(tx, storage.ProjectGroupsByGroup, g)
		if err != nil {
			return nil, err
		}
		for _, pg := range pgs {
			if pg.RemovedAt.IsZero() {
				in[pg.ProjectID] = true
			}
		}
	}
	return in, nil
}

// UpdateASAProject changes the settings in that are not nil (a merge: the others stay); in.Name
// must be empty or the project's name (projects are not renamed). Needs resource_admin. Errors:
// ErrNotFound for an unknown or deleted project, ErrInvalid for a bad setting or a rename.
func (e *Engine) UpdateASAProject(ctx context.Context, p Principal, name string, in ASAProjectInput) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamASAProject(tx, p, name, false)
		if err != nil {
			return err
		}
		if in.Name != "" && !strings.EqualFold(in.Name, pr.Name) {
			return invalidf("projects cannot be renamed")
		}
		if err := in.apply(pr); err != nil {
			return err
		}
		return storage.Projects.Update(tx, pr)
	})
}

// DeleteASAProject soft-deletes an ASA project: it stays readable by name with DeletedAt set,
// leaves the lists, and its group assignments are removed. Needs resource_admin. Errors:
// ErrNotFound for an unknown or deleted project; ErrConflict while a server sync job assigns
// servers to it.
func (e *Engine) DeleteASAProject(ctx context.Context, p Principal, name string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamASAProject(tx, p, name, false)
		if err != nil {
			return err
		}
		if err := projectInSyncJobs(tx, p.TeamID, pr); err != nil {
			return err
		}
		now := e.now()
		pgs, err := storage.ProjectGroups.List(tx, storage.ProjectGroupsByProject, pr.ID)
		if err != nil {
			return err
		}
		for _, pg := range pgs {
			if pg.RemovedAt.IsZero() {
				pg.RemovedAt = now
				if err := storage.ProjectGroups.Update(tx, pg); err != nil {
					return err
				}
			}
		}
		pr.DeletedAt = now
		return storage.Projects.Update(tx, pr)
	})
}

// teamASAProject finds an ASA project of p's team by name; a deleted one only with deleted.
func (e *Engine) teamASAProject(tx storage.ReadTx, p Principal, name string, deleted bool) (*storage.Project, error) {
	pr, err := storage.Projects.First(tx, storage.ProjectsByASAName, p.TeamID, name)
	if err != nil {
		return nil, wrapNotFound(err, "project %q does not exist", name)
	}
	if !deleted && !pr.DeletedAt.IsZero() {
		return nil, notFoundf("project %q does not exist", name)
	}
	return pr, nil
}

// purgeProject removes a deleted project's record and its group assignments, so that a new
// project can take its name.
func (e *Engine) purgeProject(tx storage.WriteTx, pr *storage.Project) error {
	pgs, err := storage.ProjectGroups.List(tx, storage.ProjectGroupsByProject, pr.ID)
	if err != nil {
		return err
	}
	for _, pg := range pgs {
		if err := storage.ProjectGroups.Delete(tx, pg.ID); err != nil {
			return err
		}
	}
	return storage.Projects.Delete(tx, pr.ID)
}

// projectInSyncJobs returns ErrConflict if a server sync job of the team assigns servers to the
// project. It costs O(the team's connections and jobs).
func projectInSyncJobs(tx storage.ReadTx, teamID string, pr *storage.Project) error {
	conns, err := storage.Connections.BorrowList(tx, storage.ConnectionsByTeam, teamID)
	if err != nil {
		return err
	}
	for _, c := range conns {
		jobs, err := storage.ServerSyncJobs.BorrowList(tx, storage.ServerSyncJobsByConnection, c.ID)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			for _, ra := range j.RuleAssignments {
				if ra.ProjectID == pr.ID {
					return conflictf("project %q is assigned servers by the server sync job %q; change the job first", pr.Name, j.ID)
				}
			}
		}
	}
	return nil
}
