package opa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Connection statuses (ADConnectionStatus).
const (
	ConnectionConnected    = "connected"
	ConnectionDisconnected = "disconnected"
	ConnectionInactive     = "inactive"
)

// Sync statuses of a connection's AD accounts (ADAccountSyncStatus).
const (
	SyncNotSynced  = "NOT_SYNCED"
	SyncInProgress = "SYNC_IN_PROGRESS"
	SyncFailed     = "SYNC_FAILED"
	SyncCompleted  = "SYNC_COMPLETED"
)

// ADConnection is the ASA view of an AD connection (ADConnectionWithGatewayName), in the wire
// format. It never carries the service account password.
type ADConnection struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	GatewayID              string   `json:"gateway_id"`
	GatewayName            string   `json:"gateway_name"`
	Domain                 string   `json:"domain"`
	DomainControllers      []string `json:"domain_controllers"`
	ServiceAccountUsername string   `json:"service_account_username"`
	ActiveTaskSettingsID   string   `json:"active_task_settings_id"`
	UsePasswordless        bool     `json:"use_passwordless"`
	CertificateID          string   `json:"certificate_id,omitempty"`
}

// OPAConnection is the OPA view of an AD connection (ActiveDirectoryConnection), in the wire format.
type OPAConnection struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Domain        string `json:"domain"`
	AppInstanceID string `json:"app_instance_id"`
	Status        string `json:"status"`
}

// ADConnectionInput creates or updates an AD connection (ADConnectionRequest, wire format).
//
// ServiceAccountPassword is write-only: it is sealed at rest and no read returns it; on update an
// empty password keeps the stored one. AppInstanceID and Status are not part of the ASA request:
// they let fixtures create a connection with a known Okta app instance id and status. When empty,
// a new connection gets a generated Okta-style app instance id ("0oa" and 17 base-62 characters)
// and status connected; on update they are left unchanged.
type ADConnectionInput struct {
	Name                   string   `json:"name"`
	GatewayID              string   `json:"gateway_id"`
	GatewayName            string   `json:"gateway_name,omitempty"`
	Domain                 string   `json:"domain"`
	DomainControllers      []string `json:"domain_controllers,omitempty"`
	ServiceAccountUsername string   `json:"service_account_username,omitempty"`
	ServiceAccountPassword string   `json:"service_account_password,omitempty"`
	AppInstanceID          string   `json:"app_instance_id,omitempty"`
	Status                 string   `json:"status,omitempty"`
	// UsePasswordless makes the connection authenticate with CertificateID, a certificate of the
	// team (CreateCertificate); each needs the other.
	UsePasswordless bool   `json:"use_passwordless,omitempty"`
	CertificateID   string `json:"certificate_id,omitempty"`
}

var (
	domainRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	// connDomainRE is domainRE with "_" allowed in a label, as the service allows it in a
	// connection's domain (the provider's acceptance tests create test_acc_…-<random>.example.com).
	connDomainRE  = regexp.MustCompile(`^(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)
	appInstanceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func (in *ADConnectionInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Domain = strings.TrimSuffix(strings.TrimSpace(in.Domain), ".")
	switch {
	case in.Name == "" || len(in.Name) > 255:
		return invalidf("name must be 1-255 characters")
	case in.GatewayID != "" && !uuidRE.MatchString(in.GatewayID):
		return invalidf("gateway_id must be a UUID")
	case len(in.GatewayName) > 255:
		return invalidf("gateway_name must be at most 255 characters")
	case in.Domain == "" || len(in.Domain) > 253 || !connDomainRE.MatchString(in.Domain):
		return invalidf("domain %q must be a DNS domain name such as corp.example.com", in.Domain)
	case len(in.ServiceAccountUsername) > 255:
		return invalidf("service_account_username must be at most 255 characters")
	case len(in.ServiceAccountPassword) > 255:
		return invalidf("service_account_password must be at most 255 characters")
	case in.AppInstanceID != "" && !appInstanceRE.MatchString(in.AppInstanceID):
		return invalidf("app_instance_id must be 1-64 letters, digits, '-' or '_'")
	case in.Status != "" && in.Status != ConnectionConnected && in.Status != ConnectionDisconnected && in.Status != ConnectionInactive:
		return invalidf("status must be connected, disconnected or inactive")
	case in.UsePasswordless != (in.CertificateID != ""):
		return invalidf("use_passwordless and certificate_id go together")
	}
	for _, dc := range in.DomainControllers {
		if net.ParseIP(dc) == nil && (!domainRE.MatchString(dc) || len(dc) > 253) {
			return invalidf("domain controller %q must be a host name or an IP address", dc)
		}
	}
	return nil
}

// newAppInstanceID returns an Okta-style app instance id derived from a fresh engine id, so it is
// deterministic under WithSeed.
func (e *Engine) newAppInstanceID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	h := sha256.Sum256([]byte(e.newID()))
	b := []byte("0oa")
	for i := 0; i < 17; i++ {
		b = append(b, alphabet[int(h[i])%len(alphabet)])
	}
	return string(b)
}

func adView(c *storage.Connection) ADConnection {
	dcs := slices.Clone(c.DomainControllers)
	if dcs == nil {
		dcs = []string{}
	}
	return ADConnection{
		ID: c.ID, Name: c.Name, GatewayID: c.GatewayID, GatewayName: c.GatewayName, Domain: c.Domain,
		DomainControllers: dcs, ServiceAccountUsername: c.ServiceAccountUsername,
		ActiveTaskSettingsID: c.ActiveTaskSettingsID, UsePasswordless: c.UsePasswordless, CertificateID: c.CertificateID,
	}
}

func opaView(c *storage.Connection) OPAConnection {
	return OPAConnection{ID: c.ID, Name: c.Name, Domain: c.Domain, AppInstanceID: c.AppInstanceID, Status: c.Status}
}

// teamConnection returns the connection with the id if it is p's team's, ErrNotFound otherwise.
func (e *Engine) teamConnection(tx storage.ReadTx, p Principal, id string) (*storage.Connection, error) {
	c, err := storage.Connections.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "AD connection %q does not exist", id)
	}
	if err := p.sameTeam(c.TeamID, "AD connection", id); err != nil {
		return nil, err
	}
	return c, nil
}

// CreateADConnection creates an AD connection of p's team, with sync status NOT_SYNCED. Needs
// resource_admin. The service account password is sealed at rest and never returned or logged.
//
// Before anything is stored the service account is checked against the team's directory of the
// domain (Directory.Authenticate, through the engine's DirectoryResolver, which serves a team only
// its own directories): a directory that refuses the username and password makes the create fail
// with ErrInvalid, a message naming the username and never the password. gateway_id is required,
// as the ASA API requires it, except of a SystemPrincipal (fixtures and embedders setting up a
// fake may leave it out). When no directory
// answers (no agent of the team serves the domain, the domain controllers are down) the connection
// is created unchecked, and every directory operation through it fails until one does
// (docs/wire.md#connections). Errors: ErrInvalid for bad input or refused credentials,
// ErrConflict when the team already has a connection for the domain (case-insensitively) or the
// app instance id is taken. Safe for concurrent use.
func (e *Engine) CreateADConnection(ctx context.Context, p Principal, in ADConnectionInput) (ADConnection, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return ADConnection{}, err
	}
	if err := in.validate(); err != nil {
		return ADConnection{}, err
	}
	if in.GatewayID == "" && !p.IsSystem() {
		return ADConnection{}, invalidf("a gateway_id is required")
	}
	now := e.now()
	c := storage.Connection{
		ID: e.newID(), TeamID: p.TeamID, Name: in.Name, Domain: in.Domain, AppInstanceID: in.AppInstanceID,
		Status: in.Status, GatewayID: in.GatewayID, GatewayName: in.GatewayName,
		DomainControllers: slices.Clone(in.DomainControllers), ServiceAccountUsername: in.ServiceAccountUsername,
		UsePasswordless: in.UsePasswordless, CertificateID: in.CertificateID,
		SyncStatus: SyncNotSynced, CreatedAt: now, UpdatedAt: now,
	}
	if c.AppInstanceID == "" {
		c.AppInstanceID = e.newAppInstanceID()
	}
	if c.Status == "" {
		c.Status = ConnectionConnected
	}
	if in.ServiceAccountPassword != "" {
		c.ServiceAccountPassword = e.seal.seal(in.ServiceAccountPassword, purposeServiceAccountPassword, c.ID)
	}
	// The conflicts are checked before the directory is asked (a duplicate is a conflict whatever
	// its credentials), and again in the transaction that inserts.
	if err := e.store.View(ctx, func(tx storage.ReadTx) error { return connectionFree(tx, &c) }); err != nil {
		return ADConnection{}, err
	}
	if err := e.verifyServiceAccount(ctx, &c); err != nil {
		return ADConnection{}, err
	}
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := connectionFree(tx, &c); err != nil {
			return err
		}
		if err := checkConnectionCertificate(tx, p, in.CertificateID); err != nil {
			return err
		}
		c.GatewayName = gatewayNameOf(tx, c.TeamID, c.GatewayID, in.GatewayName)
		if err := wrapConflict(storage.Connections.Insert(tx, &c), "the team already has an AD connection for domain %q", c.Domain); err != nil {
			return err
		}
		return e.audit(tx, p, AuditConnectionSet, "active_directory_connection", c.ID, "created", "domain "+c.Domain)
	})
	if err != nil {
		return ADConnection{}, err
	}
	return adView(&c), nil
}

// checkConnectionCertificate checks that a connection's certificate_id, when set, names a
// certificate of p's team (ErrInvalid otherwise).
func checkConnectionCertificate(tx storage.ReadTx, p Principal, id string) error {
	if id == "" {
		return nil
	}
	if _, err := teamCertificate(tx, p, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return invalidf("certificate %q does not exist", id)
		}
		return err
	}
	return nil
}

// connectionFree returns ErrConflict when c's app instance id or its team's domain already
// belongs to a connection.
func connectionFree(tx storage.ReadTx, c *storage.Connection) error {
	if other, err := storage.Connections.First(tx, storage.ConnectionsByAppInstance, c.AppInstanceID); err == nil && other != nil {
		return conflictf("app instance %q already belongs to an AD connection", c.AppInstanceID)
	}
	if other, err := storage.Connections.First(tx, storage.ConnectionsByDomain, c.TeamID, c.Domain); err == nil && other != nil {
		return conflictf("the team already has an AD connection for domain %q", c.Domain)
	}
	return nil
}

// UpdateADConnection replaces the properties of an AD connection (the ASA PUT). An empty
// ServiceAccountPassword keeps the stored password; empty AppInstanceID and Status keep theirs.
// When the domain, the domain controllers, the service account username or its password change,
// the service account is checked against the directory first, as CreateADConnection does (refused
// credentials: ErrInvalid, and nothing changes). Needs resource_admin. Errors: ErrNotFound,
// ErrInvalid, ErrConflict (domain or app instance taken, or the connection's directory settings
// changed by another request meanwhile: retry). Safe for concurrent use.
func (e *Engine) UpdateADConnection(ctx context.Context, p Principal, id string, in ADConnectionInput) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	var cur *storage.Connection
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		cur, err = e.teamConnection(tx, p, id)
		return err
	}); err != nil {
		return err
	}
	next := *cur
	next.Domain, next.DomainControllers, next.ServiceAccountUsername = in.Domain, slices.Clone(in.DomainControllers), in.ServiceAccountUsername
	if in.ServiceAccountPassword != "" {
		next.ServiceAccountPassword = e.seal.seal(in.ServiceAccountPassword, purposeServiceAccountPassword, cur.ID)
	}
	if !sameDirectorySettings(cur, &next) || in.ServiceAccountPassword != "" {
		if err := e.verifyServiceAccount(ctx, &next); err != nil {
			return err
		}
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := e.teamConnection(tx, p, id)
		if err != nil {
			return err
		}
		if !sameDirectorySettings(c, cur) || !bytes.Equal(c.ServiceAccountPassword, cur.ServiceAccountPassword) {
			return conflictf("AD connection %q changed meanwhile; read it again and retry", id)
		}
		if err := checkConnectionCertificate(tx, p, in.CertificateID); err != nil {
			return err
		}
		c.UsePasswordless, c.CertificateID = in.UsePasswordless, in.CertificateID
		c.Name, c.Domain, c.GatewayID = in.Name, in.Domain, in.GatewayID
		c.GatewayName = gatewayNameOf(tx, c.TeamID, in.GatewayID, in.GatewayName)
		c.DomainControllers = next.DomainControllers
		c.ServiceAccountUsername = in.ServiceAccountUsername
		c.ServiceAccountPassword = next.ServiceAccountPassword
		if in.AppInstanceID != "" && in.AppInstanceID != c.AppInstanceID {
			if other, err := storage.Connections.First(tx, storage.ConnectionsByAppInstance, in.AppInstanceID); err == nil && other.ID != c.ID {
				return conflictf("app instance %q already belongs to an AD connection", in.AppInstanceID)
			}
			c.AppInstanceID = in.AppInstanceID
		}
		if in.Status != "" {
			c.Status = in.Status
		}
		c.UpdatedAt = e.now()
		if err := wrapConflict(storage.Connections.Update(tx, c), "the team already has an AD connection for domain %q", c.Domain); err != nil {
			return err
		}
		return e.audit(tx, p, AuditConnectionSet, "active_directory_connection", c.ID, "updated", "")
	})
}

// sameDirectorySettings reports whether a and b reach the same directory as the same service
// account (the sealed password aside: sealing the same password twice gives different bytes).
func sameDirectorySettings(a, b *storage.Connection) bool {
	return strings.EqualFold(a.Domain, b.Domain) && slices.Equal(a.DomainControllers, b.DomainControllers) &&
		a.ServiceAccountUsername == b.ServiceAccountUsername
}

// ADConnection returns an AD connection in the ASA view. Needs resource_admin or security_admin.
// ErrNotFound for an unknown id or another team's connection.
func (e *Engine) ADConnection(ctx context.Context, p Principal, id string) (ADConnection, error) {
	c, err := e.readConnection(ctx, p, id)
	if err != nil {
		return ADConnection{}, err
	}
	return adView(c), nil
}

// OPAConnection returns an AD connection in the OPA view. Needs resource_admin or security_admin.
// ErrNotFound for an unknown id or another team's connection.
func (e *Engine) OPAConnection(ctx context.Context, p Principal, id string) (OPAConnection, error) {
	c, err := e.readConnection(ctx, p, id)
	if err != nil {
		return OPAConnection{}, err
	}
	return opaView(c), nil
}

func (e *Engine) readConnection(ctx context.Context, p Principal, id string) (*storage.Connection, error) {
	if err := p.requireConnRead(); err != nil {
		return nil, err
	}
	var c *storage.Connection
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		c, err = e.teamConnection(tx, p, id)
		return err
	})
	return c, err
}

// ADConnections lists the team's AD connections in the ASA view, paged. Needs resource_admin or
// security_admin. ErrInvalid for a bad page request.
//
// Cost: a seek of the team's connections and one page, O(page + log N).
func (e *Engine) ADConnections(ctx context.Context, p Principal, page PageRequest) (Page[ADConnection], error) {
	return e.ADConnectionsWhere(ctx, p, ADConnectionFilter{}, page)
}

// ADConnectionFilter narrows ADConnectionsWhere; an empty field does not filter.
type ADConnectionFilter struct {
	GatewayID string // connections through this gateway
	// CertificateID: connections using this passwordless certificate.
	CertificateID string
}

// ADConnectionsWhere is ADConnections for the connections that pass f, filtered before paging:
// every page is full but the last, and the last carries no next page.
//
// Cost: a seek of the team's connections and one page; f is tested from the cursor until the
// page is full.
func (e *Engine) ADConnectionsWhere(ctx context.Context, p Principal, f ADConnectionFilter, page PageRequest) (Page[ADConnection], error) {
	var keep func(*storage.Connection) bool
	if f != (ADConnectionFilter{}) {
		keep = func(c *storage.Connection) bool {
			return (f.CertificateID == "" || c.CertificateID == f.CertificateID) && (f.GatewayID == "" || c.GatewayID == f.GatewayID)
		}
	}
	return connectionPage(ctx, e, p, keep, page, adView)
}

// OPAConnections lists the team's AD connections in the OPA view, paged. Needs resource_admin or
// security_admin. ErrInvalid for a bad page request.
//
// Cost: a seek of the team's connections and one page, O(page + log N).
func (e *Engine) OPAConnections(ctx context.Context, p Principal, page PageRequest) (Page[OPAConnection], error) {
	return connectionPage(ctx, e, p, nil, page, opaView)
}

func connectionPage[T any](ctx context.Context, e *Engine, p Principal, keep func(*storage.Connection) bool, page PageRequest, view func(*storage.Connection) T) (Page[T], error) {
	if err := p.requireConnRead(); err != nil {
		return Page[T]{}, err
	}
	var out Page[T]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, teamConnections(p.TeamID, keep), page, connectionID, view)
		return err
	})
	return out, err
}

// teamConnections is the page source of the team's connections that keep accepts (nil: all).
func teamConnections(teamID string, keep func(*storage.Connection) bool) pageSource[storage.Connection] {
	return pageSource[storage.Connection]{table: storage.Connections, index: storage.ConnectionsByTeam, args: []string{teamID},
		in: func(c *storage.Connection) bool { return c.TeamID == teamID }, keep: keep}
}

// connectionID is a connection record's id, its lists' cursor.
func connectionID(c *storage.Connection) string { return c.ID }

// UpdateConnectionStatus sets a connection connected or disconnected (the only statuses the API
// accepts). While disconnected, account rules cannot be created for it. Needs resource_admin.
// Errors: ErrInvalid for another status, ErrNotFound.
func (e *Engine) UpdateConnectionStatus(ctx context.Context, p Principal, id, status string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if status != ConnectionConnected && status != ConnectionDisconnected {
		return invalidf("status must be connected or disconnected")
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := e.teamConnection(tx, p, id)
		if err != nil {
			return err
		}
		c.Status, c.UpdatedAt = status, e.now()
		if err := storage.Connections.Update(tx, c); err != nil {
			return err
		}
		return e.audit(tx, p, AuditConnectionSet, "active_directory_connection", c.ID, "status", status)
	})
}

// DeleteADConnection deletes an AD connection with everything that hangs off it: its server and
// user sync jobs, their results, its servers, AD accounts and account rules. Needs resource_admin.
// Errors: ErrNotFound; ErrConflict while a sync of the connection runs.
func (e *Engine) DeleteADConnection(ctx context.Context, p Principal, id string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	// The connection must exist before its lease is taken: an unknown id writes nothing.
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		_, err := e.teamConnection(tx, p, id)
		return err
	}); err != nil {
		return err
	}
	l, err := e.trySyncLease(ctx, id)
	if err != nil {
		return err
	}
	defer l.release()
	ctx = l.ctx
	// Deleting in chunks keeps each transaction small; the connection row goes last so a failure
	// midway leaves a connection that a retried delete finishes.
	for _, del := range []func(storage.WriteTx) (bool, error){
		deleteChunk(storage.Accounts, storage.AccountsByConnection, id),
		deleteChunk(storage.Servers, storage.ServersByConnection, id),
		deleteChunk(storage.SyncResults, storage.SyncResultsByConnection, id),
		deleteChunk(storage.Rules, storage.RulesByConnection, id),
		deleteChunk(storage.ServerSyncJobs, storage.ServerSyncJobsByConnection, id),
		deleteChunk(storage.UserSyncJobs, storage.UserSyncJobsByConnection, id),
	} {
		for more := true; more; {
			err := e.store.Update(ctx, func(tx storage.WriteTx) error {
				if _, err := e.teamConnection(tx, p, id); err != nil {
					return err
				}
				var err error
				more, err = del(tx)
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		c, err := e.teamConnection(tx, p, id)
		if err != nil {
			return err
		}
		if err := storage.Connections.Delete(tx, c.ID); err != nil {
			return err
		}
		return e.audit(tx, p, AuditConnectionSet, "active_directory_connection", c.ID, "deleted", "domain "+c.Domain)
	})
}
