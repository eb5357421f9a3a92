package storage

import (
	"reflect"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

// Index describes a named lookup over one or more string fields of a record.
type Index struct {
	// Name is the index name used with ReadTx.List (an IndexName constant beside its table); "id"
	// is implicit on every table.
	Name string
	// Fields are the record's Go field names, all of type string (or []string when Multi).
	Fields []string
	// Unique: at most one record may hold each value (records with an empty value are not indexed).
	Unique bool
	// Lowercase makes the index case-insensitive.
	Lowercase bool
	// Multi: the single field is a []string and the record is indexed under each element.
	Multi bool
}

// TableSchema describes a table: its name, its record type and its indexes.
type TableSchema struct {
	Name    string
	Type    reflect.Type // the struct type; records are pointers to it
	Indexes []Index
	// AppendOnly marks a log: records are inserted and never updated or deleted (WriteTx.Update and
	// Delete fail with an assertion error), its indexes are not unique, and every List returns
	// records in insertion (commit) order, not id order. Implementations keep such a table as an
	// append-only sequence, so an insert costs the same however long the log has grown.
	AppendOnly bool
}

// Schema lists every table, in a fixed order. Implementations build their tables from it.
var Schema []*TableSchema

var schemaByName = map[string]*TableSchema{}

// Lookup returns the schema of the named table.
func Lookup(table string) (*TableSchema, error) {
	s, ok := schemaByName[table]
	if !ok {
		return nil, errors.AssertionFailedf("storage: unknown table %q", table)
	}
	return s, nil
}

// Index returns the named index of the table.
func (s *TableSchema) Index(name string) (Index, bool) {
	if name == "id" {
		return Index{Name: "id", Fields: []string{"ID"}, Unique: true}, true
	}
	for _, ix := range s.Indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return Index{}, false
}

// New returns a pointer to a new zero record of the table.
func (s *TableSchema) New() any { return reflect.New(s.Type).Interface() }

// RecordID returns the ID field of a record pointer.
func RecordID(rec any) string {
	v := reflect.ValueOf(rec).Elem()
	return v.Field(fieldIndex(v.Type(), "ID")).String()
}

type fieldKey struct {
	t    reflect.Type
	name string
}

var fieldIndexes sync.Map // fieldKey -> int

// fieldIndex returns the index of the top-level field name of the struct type t (every record
// write looks fields up by name, and reflect's FieldByName walks the type each time).
func fieldIndex(t reflect.Type, name string) int {
	k := fieldKey{t, name}
	if i, ok := fieldIndexes.Load(k); ok {
		return i.(int)
	}
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("storage: " + t.String() + " has no top-level field " + name)
	}
	fieldIndexes.Store(k, f.Index[0])
	return f.Index[0]
}

// IndexValues returns the values rec holds for index ix: one tuple, or one per element for Multi.
// A tuple with an empty field is left out (records with an empty value are not indexed).
func IndexValues(rec any, ix Index) [][]string {
	v := reflect.ValueOf(rec).Elem()
	if ix.Multi {
		var out [][]string
		f := v.Field(fieldIndex(v.Type(), ix.Fields[0]))
		for i := 0; i < f.Len(); i++ {
			s := f.Index(i).String()
			if s == "" {
				continue
			}
			if ix.Lowercase {
				s = strings.ToLower(s)
			}
			out = append(out, []string{s})
		}
		return out
	}
	tuple := make([]string, len(ix.Fields))
	for i, name := range ix.Fields {
		s := v.Field(fieldIndex(v.Type(), name)).String()
		if s == "" {
			return nil
		}
		if ix.Lowercase {
			s = strings.ToLower(s)
		}
		tuple[i] = s
	}
	return [][]string{tuple}
}

// IndexName names an index of the table whose records are T. The constants beside each table
// below are the index names there are; a Table method takes only its own table's names, so a
// query against another table's index does not compile.
type IndexName[T any] string

// Table is a typed handle on one table. Its methods check the record type at compile time.
type Table[T any] struct{ name string }

// Name returns the table's name.
func (t Table[T]) Name() string { return t.name }

// Get returns the record with id, or an ErrNotFound error.
func (t Table[T]) Get(tx ReadTx, id string) (*T, error) {
	r, err := tx.Get(t.name, id)
	if err != nil {
		return nil, err
	}
	return r.(*T), nil
}

// All returns every record of the table, in id order (insertion order for an append-only table).
// It costs O(records): only the time-driven scans and tests use it.
func (t Table[T]) All(tx ReadTx) ([]*T, error) {
	return typed[T](tx.List(t.name, "id"))
}

// List returns the records whose index equals args.
func (t Table[T]) List(tx ReadTx, index IndexName[T], args ...string) ([]*T, error) {
	return typed[T](tx.List(t.name, string(index), args...))
}

// typed converts a ReadTx list to the table's record type.
func typed[T any](rs []any, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(rs))
	for i, r := range rs {
		out[i] = r.(*T)
	}
	return out, nil
}

// Range returns one page of index (r.Index is set to it; see ReadTx.Range and Range for the
// order, the cursor and the cost: O(log N + records scanned)). keep, when not nil, selects the
// records of the page as the scan reaches them; it sees the stored record and must not change or
// keep it.
func (t Table[T]) Range(tx ReadTx, index IndexName[T], r Range, keep func(*T) bool) ([]*T, error) {
	r.Index = string(index)
	return typed[T](tx.Range(t.name, r, untypedKeep(keep)))
}

// BorrowRange is Range for reading only, with Borrow's rule: the records must not be changed.
func (t Table[T]) BorrowRange(tx ReadTx, index IndexName[T], r Range, keep func(*T) bool) ([]*T, error) {
	l, ok := tx.(Lender)
	if !ok {
		return t.Range(tx, index, r, keep)
	}
	r.Index = string(index)
	return typed[T](l.LendRange(t.name, r, untypedKeep(keep)))
}

// ByID is the table's "id" index, for a Range over the whole table (no Args) or one record.
func (t Table[T]) ByID() IndexName[T] { return "id" }

func untypedKeep[T any](keep func(*T) bool) func(any) bool {
	if keep == nil {
		return nil
	}
	return func(rec any) bool { return keep(rec.(*T)) }
}

// First returns the first record whose index equals args, or an ErrNotFound error.
func (t Table[T]) First(tx ReadTx, index IndexName[T], args ...string) (*T, error) {
	rs, err := tx.List(t.name, string(index), args...)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errclass.Tag(errors.Newf("%s: no record for %s", t.name, index), ErrNotFound)
	}
	return rs[0].(*T), nil
}

// Borrow returns the record with id for reading only, or an ErrNotFound error. Where the
// transaction can lend its stored record (Lender) no copy is made, so the caller must not change
// the record or anything it references; elsewhere it is Get. Meant for hot read paths.
func (t Table[T]) Borrow(tx ReadTx, id string) (*T, error) {
	l, ok := tx.(Lender)
	if !ok {
		return t.Get(tx, id)
	}
	r, err := l.Lend(t.name, id)
	if err != nil {
		return nil, err
	}
	return r.(*T), nil
}

// BorrowList is List for reading only, with Borrow's rule: the records must not be changed.
func (t Table[T]) BorrowList(tx ReadTx, index IndexName[T], args ...string) ([]*T, error) {
	l, ok := tx.(Lender)
	if !ok {
		return t.List(tx, index, args...)
	}
	return typed[T](l.LendList(t.name, string(index), args...))
}

// Insert adds rec.
func (t Table[T]) Insert(tx WriteTx, rec *T) error { return tx.Insert(t.name, rec) }

// Update replaces the stored record with rec's id.
func (t Table[T]) Update(tx WriteTx, rec *T) error { return tx.Update(t.name, rec) }

// Delete removes the record with id.
func (t Table[T]) Delete(tx WriteTx, id string) error { return tx.Delete(t.name, id) }

// define registers a table in Schema and returns its typed handle.
func define[T any](name string, indexes ...Index) Table[T] {
	return register[T](&TableSchema{Name: name, Indexes: indexes})
}

// defineLog registers an append-only table (TableSchema.AppendOnly) and returns its typed handle.
func defineLog[T any](name string, indexes ...Index) Table[T] {
	for _, ix := range indexes {
		if ix.Unique {
			panic("storage: append-only table " + name + " cannot have the unique index " + ix.Name)
		}
	}
	return register[T](&TableSchema{Name: name, Indexes: indexes, AppendOnly: true})
}

func register[T any](s *TableSchema) Table[T] {
	name, indexes := s.Name, s.Indexes
	var zero T
	typ := reflect.TypeOf(zero)
	if typ.Kind() != reflect.Struct {
		panic("storage: record type must be a struct")
	}
	if f, ok := typ.FieldByName("ID"); !ok || f.Type.Kind() != reflect.String {
		panic("storage: record type " + typ.Name() + " needs an ID string field")
	}
	for _, ix := range indexes {
		for _, fname := range ix.Fields {
			f, ok := typ.FieldByName(fname)
			want := reflect.String
			if ix.Multi {
				want = reflect.Slice
			}
			if !ok || f.Type.Kind() != want {
				panic("storage: index " + name + "." + ix.Name + " on bad field " + fname)
			}
		}
	}
	s.Type = typ
	Schema = append(Schema, s)
	schemaByName[name] = s
	return Table[T]{name: name}
}

func idx[T any](name IndexName[T], fields ...string) Index {
	return Index{Name: string(name), Fields: fields}
}

func unique[T any](name IndexName[T], lower bool, fields ...string) Index {
	return Index{Name: string(name), Fields: fields, Unique: true, Lowercase: lower}
}

func multi[T any](name IndexName[T], field string) Index {
	return Index{Name: string(name), Fields: []string{field}, Multi: true}
}

// The tables, each with its index names. Index names are part of the contract: a SQL
// implementation maps each to columns. A unique index is also a constraint: Insert and Update
// fail with ErrConflict when two records would share its value. Every table also has the implicit
// unique "id" index, which Get and All use.

// Teams holds the tenants.
var Teams = define[Team]("teams",
	unique(TeamsByName, true, "Name"))

// Indexes of Teams.
const (
	// TeamsByName finds a team by its name, case-insensitively (Engine.Team, PrincipalForUser);
	// unique, so two teams cannot share a name.
	TeamsByName IndexName[Team] = "name"
)

// Users holds every team's users.
var Users = define[User]("users",
	idx(UsersByTeam, "TeamID"),
	unique(UsersByUsername, true, "TeamID", "Username"),
	Index{Name: string(UsersByEmail), Fields: []string{"TeamID", "Email"}, Lowercase: true},
	multi(UsersByGroup, "GroupIDs"))

// Indexes of Users.
const (
	// UsersByTeam lists a team's users (Engine.Users; the candidates of account matching).
	UsersByTeam IndexName[User] = "team"
	// UsersByUsername finds a user by team and username, case-insensitively (PrincipalForUser);
	// unique, so a team cannot have two users of one name.
	UsersByUsername IndexName[User] = "username"
	// UsersByEmail finds a team's users by email, case-insensitively. No engine query reads it
	// yet (the storage tests do).
	UsersByEmail IndexName[User] = "email"
	// UsersByGroup lists the members of a group (one entry per group a user is in). No engine
	// query reads it yet (the storage tests do: it is the schema's one Multi index).
	UsersByGroup IndexName[User] = "group"
)

// Groups holds every team's groups.
var Groups = define[Group]("groups",
	idx(GroupsByTeam, "TeamID"),
	unique(GroupsByName, true, "TeamID", "Name"))

// Indexes of Groups.
const (
	// GroupsByTeam lists a team's groups. No engine query reads it yet.
	GroupsByTeam IndexName[Group] = "team"
	// GroupsByName finds a group by team and name, case-insensitively; unique (CreateGroup's
	// conflict).
	GroupsByName IndexName[Group] = "name"
)

// ServiceKeys holds the service users' key ids and secret hashes.
var ServiceKeys = define[ServiceKey]("service_keys",
	idx(ServiceKeysByUser, "UserID"))

// Indexes of ServiceKeys.
const (
	// ServiceKeysByUser lists a service user's keys. No engine query reads it yet.
	ServiceKeysByUser IndexName[ServiceKey] = "user"
)

// Tokens holds the issued bearer tokens (by the hash of the token).
var Tokens = define[Token]("tokens",
	idx(TokensByUser, "UserID"))

// Indexes of Tokens.
const (
	// TokensByUser lists a user's tokens (IssueToken prunes the expired ones).
	TokensByUser IndexName[Token] = "user"
)

// ResourceGroups holds every team's resource groups.
var ResourceGroups = define[ResourceGroup]("resource_groups",
	idx(ResourceGroupsByTeam, "TeamID"),
	unique(ResourceGroupsByName, true, "TeamID", "Name"))

// Indexes of ResourceGroups.
const (
	// ResourceGroupsByTeam lists a team's resource groups (Engine.ResourceGroups).
	ResourceGroupsByTeam IndexName[ResourceGroup] = "team"
	// ResourceGroupsByName finds a resource group by team and name, case-insensitively; unique
	// (CreateResourceGroup's conflict).
	ResourceGroupsByName IndexName[ResourceGroup] = "name"
)

// Projects holds every resource group's projects.
var Projects = define[Project]("projects",
	idx(ProjectsByTeam, "TeamID"),
	idx(ProjectsByResourceGroup, "ResourceGroupID"),
	unique(ProjectsByName, true, "ResourceGroupID", "Name"),
	unique(ProjectsByASAName, true, "TeamID", "ASAName"))

// Indexes of Projects.
const (
	// ProjectsByTeam lists a team's projects. No engine query reads it yet.
	ProjectsByTeam IndexName[Project] = "team"
	// ProjectsByResourceGroup lists a resource group's projects (Engine.Projects).
	ProjectsByResourceGroup IndexName[Project] = "resource_group"
	// ProjectsByName finds a project by resource group and name, case-insensitively; unique
	// (CreateProject's conflict).
	ProjectsByName IndexName[Project] = "name"
	// ProjectsByASAName finds a team's ASA project by name, case-insensitively (Engine.ASAProject);
	// unique (CreateASAProject's conflict). Resource-group projects have no ASAName.
	ProjectsByASAName IndexName[Project] = "asa_name"
)

// ProjectGroups holds the assignments of groups to ASA projects.
var ProjectGroups = define[ProjectGroup]("project_groups",
	idx(ProjectGroupsByProject, "ProjectID"),
	unique(ProjectGroupsByProjectGroup, false, "ProjectID", "GroupID"),
	idx(ProjectGroupsByGroup, "GroupID"))

// Indexes of ProjectGroups.
const (
	// ProjectGroupsByProject lists a project's group assignments (Engine.ProjectGroups).
	ProjectGroupsByProject IndexName[ProjectGroup] = "project"
	// ProjectGroupsByProjectGroup finds the assignment of one group to one project; unique.
	ProjectGroupsByProjectGroup IndexName[ProjectGroup] = "project_group"
	// ProjectGroupsByGroup lists a group's project assignments (the ASA projects a principal's
	// groups are assigned to: ListASAProjects with Self).
	ProjectGroupsByGroup IndexName[ProjectGroup] = "group"
)

// Connections holds every team's AD connections.
var Connections = define[Connection]("connections",
	idx(ConnectionsByTeam, "TeamID"),
	unique(ConnectionsByDomain, true, "TeamID", "Domain"),
	unique(ConnectionsByAppInstance, false, "AppInstanceID"))

// Indexes of Connections.
const (
	// ConnectionsByTeam lists a team's connections (the connection lists, the end-user domains).
	ConnectionsByTeam IndexName[Connection] = "team"
	// ConnectionsByDomain finds a team's connection of a domain, case-insensitively; unique, so a
	// team has one connection per domain.
	ConnectionsByDomain IndexName[Connection] = "domain"
	// ConnectionsByAppInstance finds the connection of an Okta app instance id (the directory
	// group-membership operation); unique across teams.
	ConnectionsByAppInstance IndexName[Connection] = "app_instance"
)

// ServerSyncJobs holds the server sync jobs of every connection.
var ServerSyncJobs = define[ServerSyncJob]("server_sync_jobs",
	idx(ServerSyncJobsByConnection, "ConnectionID"))

// Indexes of ServerSyncJobs.
const (
	// ServerSyncJobsByConnection lists a connection's server sync jobs (the job list, activation,
	// the connection's cascading delete).
	ServerSyncJobsByConnection IndexName[ServerSyncJob] = "connection"
)

// UserSyncJobs holds the user sync jobs of every connection.
var UserSyncJobs = define[UserSyncJob]("user_sync_jobs",
	idx(UserSyncJobsByConnection, "ConnectionID"))

// Indexes of UserSyncJobs.
const (
	// UserSyncJobsByConnection lists a connection's user sync jobs (the job list, the active-job
	// limit, force sync's sources, the connection's cascading delete).
	UserSyncJobsByConnection IndexName[UserSyncJob] = "connection"
)

// SyncResults holds the results of sync runs and test requests.
var SyncResults = define[SyncResult]("sync_results",
	idx(SyncResultsByConnection, "ConnectionID"),
	idx(SyncResultsByJob, "JobID"),
	Index{Name: string(SyncResultsByTestRequest), Fields: []string{"TestRequestID"}, Unique: true})

// Indexes of SyncResults.
const (
	// SyncResultsByConnection lists a connection's results (its cascading delete).
	SyncResultsByConnection IndexName[SyncResult] = "connection"
	// SyncResultsByJob lists a job's results (the result lists, a job's latest result, a job's
	// delete).
	SyncResultsByJob IndexName[SyncResult] = "job"
	// SyncResultsByTestRequest finds the result of a test request; unique, so two results cannot
	// share a test request id.
	SyncResultsByTestRequest IndexName[SyncResult] = "test_request"
)

// Servers holds the computers server sync jobs discovered.
var Servers = define[Server]("servers",
	idx(ServersByConnection, "ConnectionID"),
	idx(ServersByProject, "ProjectID"),
	unique(ServersByDN, true, "ConnectionID", "DistinguishedName"))

// Indexes of Servers.
const (
	// ServersByConnection lists a connection's servers (a server sync run's diff, Engine.Servers,
	// the connection's cascading delete).
	ServersByConnection IndexName[Server] = "connection"
	// ServersByProject lists the servers assigned to a project. No engine query reads it yet.
	ServersByProject IndexName[Server] = "project"
	// ServersByDN finds a connection's server by DN, case-insensitively; unique, so a computer is
	// one server.
	ServersByDN IndexName[Server] = "dn"
)

// Accounts holds the AD accounts of every connection.
var Accounts = define[Account]("accounts",
	idx(AccountsByTeam, "TeamID"),
	idx(AccountsByConnection, "ConnectionID"),
	unique(AccountsBySID, true, "ConnectionID", "SID"),
	idx(AccountsByProject, "ProjectID"),
	idx(AccountsByResourceGroup, "ResourceGroupID"),
	idx(AccountsByMatchedUser, "MatchedUserID"),
	idx(AccountsByRule, "RuleID"))

// Indexes of Accounts.
const (
	// AccountsByTeam lists a team's accounts (the team-wide account list).
	AccountsByTeam IndexName[Account] = "team"
	// AccountsByConnection lists a connection's accounts (import, rule evaluation, the discovered
	// and end-user lists, the connection's cascading delete).
	AccountsByConnection IndexName[Account] = "connection"
	// AccountsBySID finds a connection's account by SID, case-insensitively; unique, so an import
	// never makes two accounts of one directory object.
	AccountsBySID IndexName[Account] = "sid"
	// AccountsByProject lists the accounts managed into a project (project lists, periodic
	// rotation, include/exclude list checks).
	AccountsByProject IndexName[Account] = "project"
	// AccountsByResourceGroup lists the accounts managed into a resource group (its account list).
	AccountsByResourceGroup IndexName[Account] = "resource_group"
	// AccountsByMatchedUser lists the INDIVIDUAL accounts matched to a user. No engine query
	// reads it yet.
	AccountsByMatchedUser IndexName[Account] = "matched_user"
	// AccountsByRule lists the accounts an account rule manages. No engine query reads it yet.
	AccountsByRule IndexName[Account] = "rule"
)

// Rules holds the account rules of every connection.
var Rules = define[Rule]("rules",
	idx(RulesByConnection, "ConnectionID"))

// Indexes of Rules.
const (
	// RulesByConnection lists a connection's account rules (rule lists, evaluation, the
	// connection's cascading delete).
	RulesByConnection IndexName[Rule] = "connection"
)

// Policies holds every team's security policies.
var Policies = define[Policy]("policies",
	idx(PoliciesByTeam, "TeamID"))

// Indexes of Policies.
const (
	// PoliciesByTeam lists a team's policies (Engine.Policies; every access check collects the
	// policies that apply to its principal).
	PoliciesByTeam IndexName[Policy] = "team"
)

// SudoBundles holds every team's sudo command bundles.
var SudoBundles = define[SudoBundle]("sudo_bundles",
	idx(SudoBundlesByTeam, "TeamID"),
	unique(SudoBundlesByName, true, "TeamID", "Name"))

// Indexes of SudoBundles.
const (
	// SudoBundlesByTeam lists a team's bundles in id order (Engine.ListSudoCommandBundles).
	SudoBundlesByTeam IndexName[SudoBundle] = "team"
	// SudoBundlesByName finds a team's bundle by name, case-insensitively; unique
	// (CreateSudoCommandBundle's conflict).
	SudoBundlesByName IndexName[SudoBundle] = "name"
)

// Certificates holds every team's AD smart-card certificates and certificate requests.
var Certificates = define[Certificate]("certificates",
	idx(CertificatesByTeam, "TeamID"))

// Indexes of Certificates.
const (
	// CertificatesByTeam lists a team's certificates. No engine query reads it yet.
	CertificatesByTeam IndexName[Certificate] = "team"
)

// UDAccounts holds the Universal Directory accounts of every project.
var UDAccounts = define[UDAccount]("ud_accounts",
	idx(UDAccountsByTeam, "TeamID"),
	idx(UDAccountsByProject, "ProjectID"),
	idx(UDAccountsByResourceGroup, "ResourceGroupID"))

// Indexes of UDAccounts.
const (
	// UDAccountsByTeam lists a team's UD accounts (the team-wide and end-user lists).
	UDAccountsByTeam IndexName[UDAccount] = "team"
	// UDAccountsByProject lists a project's UD accounts (project lists, periodic rotation,
	// include/exclude list checks).
	UDAccountsByProject IndexName[UDAccount] = "project"
	// UDAccountsByResourceGroup lists a resource group's UD accounts (its account list).
	UDAccountsByResourceGroup IndexName[UDAccount] = "resource_group"
)

// Checkouts holds every checkout, active and ended.
var Checkouts = define[Checkout]("checkouts",
	idx(CheckoutsByTeam, "TeamID"),
	idx(CheckoutsByResource, "ResourceID"),
	idx(CheckoutsByUser, "UserID"),
	idx(CheckoutsByProject, "ProjectID"),
	Index{Name: string(CheckoutsActive), Fields: []string{"ActiveResourceID"}, Unique: true})

// Indexes of Checkouts.
const (
	// CheckoutsByTeam lists a team's checkouts. No engine query reads it yet.
	CheckoutsByTeam IndexName[Checkout] = "team"
	// CheckoutsByResource lists the checkouts of a resource, active and ended (the checkout
	// tests' history checks; no engine query reads it yet).
	CheckoutsByResource IndexName[Checkout] = "resource"
	// CheckoutsByUser lists a user's checkouts (the user's checked-out resources).
	CheckoutsByUser IndexName[Checkout] = "user"
	// CheckoutsByProject lists the checkouts of a project's resources (the admins' list).
	CheckoutsByProject IndexName[Checkout] = "project"
	// CheckoutsActive finds the active checkout of a resource (check-in); unique, so two active
	// checkouts of one resource cannot both commit.
	CheckoutsActive IndexName[Checkout] = "active"
)

// AuditEvents is append-only: its lists come in the order events were recorded.
var AuditEvents = defineLog[AuditEvent]("audit_events",
	idx(AuditEventsByTeam, "TeamID"),
	idx(AuditEventsByResource, "ResourceID"))

// Indexes of AuditEvents.
const (
	// AuditEventsByTeam lists a team's audit trail (Engine.AuditEvents).
	AuditEventsByTeam IndexName[AuditEvent] = "team"
	// AuditEventsByResource lists the audit trail of one resource (Engine.AuditEvents with a
	// resource filter).
	AuditEventsByResource IndexName[AuditEvent] = "resource"
)

// Leases holds the record-level leases that coordinate the engines sharing a store (Lease). A
// lease is found by its id only; expired leases stay until someone takes or gives them up.
var Leases = define[Lease]("leases")

// VaultKeys holds the store's vault key (VaultKey), one record.
var VaultKeys = define[VaultKey]("vault_keys")

// Gateways holds every team's gateway agents.
var Gateways = define[Gateway]("gateways",
	idx(GatewaysByTeam, "TeamID"),
	unique(GatewaysByName, true, "TeamID", "Name"))

// Indexes of Gateways.
const (
	// GatewaysByTeam lists a team's gateways (Engine.ListGateways, one range read per page).
	GatewaysByTeam IndexName[Gateway] = "team"
	// GatewaysByName finds a team's gateway by name, case-insensitively; unique (CreateGateway's
	// and RegisterGateway's conflict).
	GatewaysByName IndexName[Gateway] = "name"
)

// GatewaySetupTokens holds every team's gateway setup tokens.
var GatewaySetupTokens = define[GatewaySetupToken]("gateway_setup_tokens",
	idx(GatewaySetupTokensByTeam, "TeamID"))

// Indexes of GatewaySetupTokens.
const (
	// GatewaySetupTokensByTeam lists a team's setup tokens (Engine.ListGatewaySetupTokens, one
	// range read per page).
	GatewaySetupTokensByTeam IndexName[GatewaySetupToken] = "team"
)
