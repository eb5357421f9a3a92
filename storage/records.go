package storage

import "time"

// Sealed is a secret encrypted with the engine's key-encryption key (AES-256-GCM: nonce followed by
// ciphertext and tag). Storage keeps it as opaque bytes; only the engine can open it. It is never
// plaintext in memory records, logs or files.
type Sealed []byte

// RoleGrant gives a role to a user or group. ResourceGroupID is set only for the delegated roles,
// which apply within that resource group.
type RoleGrant struct {
	Role            string `json:"role"`
	ResourceGroupID string `json:"resource_group_id,omitempty"`
}

// Team is a tenant. Every other record belongs to one team.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person or service user of a team.
type User struct {
	ID          string      `json:"id"`
	TeamID      string      `json:"team_id"`
	Username    string      `json:"username"`
	FirstName   string      `json:"first_name,omitempty"`
	LastName    string      `json:"last_name,omitempty"`
	DisplayName string      `json:"display_name,omitempty"`
	Email       string      `json:"email,omitempty"`
	Status      string      `json:"status"` // ACTIVE, DISABLED, DELETED
	ServiceUser bool        `json:"service_user,omitempty"`
	GroupIDs    []string    `json:"group_ids,omitempty"`
	Roles       []RoleGrant `json:"roles,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	// DeletedAt is when the user was set DELETED (users are never removed); zero otherwise.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// Group is a named set of users; its roles apply to every member.
type Group struct {
	ID        string      `json:"id"`
	TeamID    string      `json:"team_id"`
	Name      string      `json:"name"`
	Roles     []RoleGrant `json:"roles,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	// DeletedAt is when the group was deleted (a soft delete: the record stays readable, grants
	// nothing and has no members); zero for a live group.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// ServiceKey is a key id / key secret pair of a service user. Only a hash of the secret is kept.
type ServiceKey struct {
	ID         string    `json:"id"` // the key_id
	TeamID     string    `json:"team_id"`
	UserID     string    `json:"user_id"`
	SecretHash []byte    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitempty"`
	// LastUsedAt is when the key last got a bearer token, to the minute (an exchange within a
	// minute of it does not move it); zero if never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Token is an issued bearer token. ID is the hex SHA-256 of the token; the token itself is not kept.
type Token struct {
	ID        string    `json:"id"`
	TeamID    string    `json:"team_id"`
	UserID    string    `json:"user_id"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ResourceGroup groups projects; delegated admins are scoped to one.
type ResourceGroup struct {
	ID          string    `json:"id"`
	TeamID      string    `json:"team_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// AccountRef names an account in a project's include or exclude list.
type AccountRef struct {
	Domain      string `json:"domain,omitempty"`
	AccountSID  string `json:"account_sid,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
}

// CheckoutSettings is a project's checkout configuration for one resource kind.
type CheckoutSettings struct {
	Required        bool         `json:"checkout_required"`
	DurationSeconds int          `json:"checkout_duration_in_seconds"`
	IncludeList     []AccountRef `json:"include_list,omitempty"`
	ExcludeList     []AccountRef `json:"exclude_list,omitempty"`
}

// PasswordPolicy is a project's password rotation policy for one resource kind.
type PasswordPolicy struct {
	EnablePeriodicRotation          bool         `json:"enable_periodic_rotation"`
	PeriodicRotationDurationSeconds int          `json:"periodic_rotation_duration_in_seconds,omitempty"`
	AccountSelectorMode             string       `json:"periodic_rotation_account_selector_mode,omitempty"` // ALL, INCLUDE, EXCLUDE
	IncludeList                     []AccountRef `json:"periodic_rotation_account_include_list,omitempty"`
	ExcludeList                     []AccountRef `json:"periodic_rotation_account_exclude_list,omitempty"`
	UpperCase                       bool         `json:"upper_case"`
	LowerCase                       bool         `json:"lower_case"`
	Digits                          bool         `json:"digits"`
	Punctuation                     bool         `json:"punctuation"`
	ExcludeCertainSymbols           []string     `json:"exclude_certain_symbols,omitempty"`
	MinLength                       int          `json:"min_length_in_bytes"`
	MaxLength                       int          `json:"max_length_in_bytes"`
	ModifiedAt                      time.Time    `json:"modified_at,omitempty"`
	// ManagedAccounts are the server account names a server password policy manages.
	ManagedAccounts []string `json:"managed_accounts,omitempty"`
}

// Project belongs to a resource group and holds the checkout and password settings of its accounts.
type Project struct {
	ID              string           `json:"id"`
	TeamID          string           `json:"team_id"`
	ResourceGroupID string           `json:"resource_group_id"`
	Name            string           `json:"name"`
	ADCheckout      CheckoutSettings `json:"ad_checkout"`
	ADPassword      PasswordPolicy   `json:"ad_password"`
	UDCheckout      CheckoutSettings `json:"ud_checkout"`
	UDPassword      PasswordPolicy   `json:"ud_password"`
	// The server settings: lists of server account names (AccountRef.AccountName); zero until
	// first set (the defaults apply).
	ServerCheckout CheckoutSettings `json:"server_checkout,omitzero"`
	ServerPassword PasswordPolicy   `json:"server_password,omitzero"`
	CreatedAt      time.Time        `json:"created_at"`
	// DeletedAt is when the project was deleted (a soft delete); zero for a live project.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	// ASAName is set, to Name, exactly for a team-level ASA project (no ResourceGroupID), which
	// is addressed by name.
	ASAName string `json:"asa_name,omitempty"`
	// The server-access settings of both kinds of project.
	GatewaySelector         string `json:"gateway_selector,omitempty"`
	SSHCertificateType      string `json:"ssh_certificate_type,omitempty"`
	ServerAccountManagement bool   `json:"server_account_management,omitempty"`
	// The settings of an ASA project only.
	NextUnixUID            int  `json:"next_unix_uid,omitempty"`
	NextUnixGID            int  `json:"next_unix_gid,omitempty"`
	CreateServerUsers      bool `json:"create_server_users,omitempty"`
	ForwardTraffic         bool `json:"forward_traffic,omitempty"`
	RDPSessionRecording    bool `json:"rdp_session_recording,omitempty"`
	SSHSessionRecording    bool `json:"ssh_session_recording,omitempty"`
	RequirePreauthForCreds bool `json:"require_preauth_for_creds,omitempty"`
	UserOnDemandPeriod     int  `json:"user_on_demand_period,omitempty"`
}

// ProjectGroup assigns a group to an ASA project. RemovedAt is set once the assignment is removed
// (a soft delete); assigning the group again revives the record.
type ProjectGroup struct {
	ID                string    `json:"id"`
	TeamID            string    `json:"team_id"`
	ProjectID         string    `json:"project_id"`
	GroupID           string    `json:"group_id"`
	CreateServerGroup bool      `json:"create_server_group,omitempty"`
	ServerAccess      bool      `json:"server_access,omitempty"`
	ServerAdmin       bool      `json:"server_admin,omitempty"`
	ServersSelector   string    `json:"servers_selector,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	RemovedAt         time.Time `json:"removed_at,omitzero"`
}

// PartialCriterion is one partial-matching entry: Operator "STARTS WITH" or "ENDS WITH".
type PartialCriterion struct {
	Operator   string `json:"operator"`
	MatchValue string `json:"match_value"`
}

// RuleSettings is a connection's configuration for matching INDIVIDUAL accounts to users.
type RuleSettings struct {
	IsConfigured        bool               `json:"is_configured"`
	Username            bool               `json:"username"`
	FirstAndLastName    bool               `json:"first_and_last_name"`
	DisplayName         bool               `json:"display_name"`
	Email               bool               `json:"email"`
	AllowPartialMatches bool               `json:"allow_partial_matches"`
	Partial             []PartialCriterion `json:"partial_matching_criteria,omitempty"`
}

// Connection is an AD connection, seen both as the ASA integration (gateway, domain controllers,
// service account) and as the OPA connection (app instance, status, sync state).
type Connection struct {
	ID                     string   `json:"id"`
	TeamID                 string   `json:"team_id"`
	Name                   string   `json:"name"`
	Domain                 string   `json:"domain"`
	AppInstanceID          string   `json:"app_instance_id"`
	Status                 string   `json:"status"` // connected, disconnected, inactive
	GatewayID              string   `json:"gateway_id,omitempty"`
	GatewayName            string   `json:"gateway_name,omitempty"`
	DomainControllers      []string `json:"domain_controllers,omitempty"`
	ServiceAccountUsername string   `json:"service_account_username,omitempty"`
	ServiceAccountPassword Sealed   `json:"service_account_password,omitempty"`
	ActiveTaskSettingsID   string   `json:"active_task_settings_id,omitempty"`
	// UsePasswordless: the connection authenticates with CertificateID (a Certificate of the team)
	// instead of the service account password.
	UsePasswordless bool         `json:"use_passwordless,omitempty"`
	CertificateID   string       `json:"certificate_id,omitempty"`
	SyncStatus      string       `json:"sync_status"` // NOT_SYNCED, SYNC_IN_PROGRESS, SYNC_FAILED, SYNC_COMPLETED
	SyncStartedAt   time.Time    `json:"sync_started_at,omitempty"`
	LastSyncAt      time.Time    `json:"last_sync_at,omitempty"`
	RuleSettings    RuleSettings `json:"rule_settings"`
	// OktaIDs are the Okta ids assigned to objects of the connection's directory: Okta id (00g…,
	// 00u…) → the object's objectGUID in lower case. Objects without one have a derived id.
	OktaIDs   map[string]string `json:"okta_ids,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// AttributeMapping maps a directory attribute to a server label.
type AttributeMapping struct {
	Label  string `json:"label"`
	Value  string `json:"value"`
	IsGUID bool   `json:"is_guid"`
}

// RuleAssignment of a server sync job: computers under BaseDN matching the filter go to ProjectID.
// Lower Priority wins.
type RuleAssignment struct {
	ID              string `json:"id"`
	BaseDN          string `json:"base_dn"`
	LDAPQueryFilter string `json:"ldap_query_filter"`
	ProjectID       string `json:"project_id"`
	Priority        int    `json:"priority"`
}

// ServerSyncJob is an ASA "task settings" object: discovery of computers into projects.
type ServerSyncJob struct {
	ID                         string             `json:"id"`
	TeamID                     string             `json:"team_id"`
	ConnectionID               string             `json:"connection_id"`
	Name                       string             `json:"name"`
	Frequency                  int                `json:"frequency"`
	StartHourUTC               *int               `json:"start_hour_utc,omitempty"`
	IsActive                   bool               `json:"is_active"`
	HostnameAttribute          string             `json:"hostname_attribute"`
	AccessAddressAttribute     string             `json:"access_address_attribute,omitempty"`
	OSAttribute                string             `json:"os_attribute,omitempty"`
	BastionAttribute           string             `json:"bastion_attribute,omitempty"`
	AltNamesAttributes         []string           `json:"alt_names_attributes,omitempty"`
	AdditionalAttributeMapping []AttributeMapping `json:"additional_attribute_mapping,omitempty"`
	RuleAssignments            []RuleAssignment   `json:"rule_assignments"`
	LastRunAt                  time.Time          `json:"last_run_at,omitempty"`
	NextRunAt                  time.Time          `json:"next_run_at,omitempty"`
	CreatedAt                  time.Time          `json:"created_at"`
	UpdatedAt                  time.Time          `json:"updated_at"`
}

// UserSyncJob imports directory users under BaseDN matching the filter as AD accounts.
type UserSyncJob struct {
	ID              string    `json:"id"`
	TeamID          string    `json:"team_id"`
	ConnectionID    string    `json:"connection_id"`
	Name            string    `json:"name"`
	Frequency       int       `json:"frequency"`
	StartHourUTC    *int      `json:"start_hour_utc,omitempty"`
	IsActive        bool      `json:"is_active"`
	BaseDN          string    `json:"base_dn"`
	LDAPQueryFilter string    `json:"ldap_query_filter"`
	SIDField        string    `json:"sid_field,omitempty"`
	UPNField        string    `json:"upn_field,omitempty"`
	LastRunAt       time.Time `json:"last_run_at,omitempty"`
	NextRunAt       time.Time `json:"next_run_at,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// SyncResult records one run (or test run) of a server sync job, a user sync job or a force sync.
type SyncResult struct {
	ID                 string    `json:"id"`
	TeamID             string    `json:"team_id"`
	ConnectionID       string    `json:"connection_id"`
	JobID              string    `json:"job_id,omitempty"`
	JobKind            string    `json:"job_kind"` // server, user, force
	JobName            string    `json:"job_name,omitempty"`
	TestRequestID      string    `json:"test_request_id,omitempty"`
	TaskState          string    `json:"task_state"`
	RulesSummaryStatus string    `json:"rules_summary_status,omitempty"`
	Summary            string    `json:"summary,omitempty"`
	DetailedSummary    string    `json:"detailed_summary,omitempty"`
	Added              int       `json:"added"`
	Updated            int       `json:"updated"`
	Removed            int       `json:"removed"`
	Matched            int       `json:"matched"`
	Unmatched          int       `json:"unmatched"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// Server is a computer discovered by a server sync job.
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

// CredentialState is the password and rotation bookkeeping of a managed account (AD or UD).
type CredentialState struct {
	Password                 Sealed    `json:"password,omitempty"`
	LastRotationAt           time.Time `json:"last_rotation_at,omitempty"`
	NextRotationAt           time.Time `json:"next_rotation_at,omitempty"`
	NextRotationReason       string    `json:"next_rotation_reason,omitempty"`
	SuccessCount             int       `json:"success_count"`
	ErrorCount               int       `json:"error_count"`
	ErrorsSinceLastSuccess   int       `json:"errors_since_last_success"`
	LastSuccessReportAt      time.Time `json:"last_success_report_at,omitempty"`
	LastSuccessSystemAt      time.Time `json:"last_success_system_at,omitempty"`
	LastErrorReportAt        time.Time `json:"last_error_report_at,omitempty"`
	LastErrorSystemAt        time.Time `json:"last_error_system_at,omitempty"`
	LastErrorType            string    `json:"last_error_type,omitempty"`
	LastErrorMetadata        string    `json:"last_error_metadata,omitempty"`
	RotationPending          bool      `json:"rotation_pending,omitempty"`
	RotationPendingReason    string    `json:"rotation_pending_reason,omitempty"`
	RotationPendingSinceTime time.Time `json:"rotation_pending_since,omitempty"`
}

// LeaseState is the checkout state of an account. CheckoutID points at the active Checkout.
type LeaseState struct {
	Status             string    `json:"status,omitempty"` // "", checked_out
	CheckoutID         string    `json:"checkout_id,omitempty"`
	UserID             string    `json:"user_id,omitempty"`
	ExpiresAt          time.Time `json:"expires_at,omitempty"`
	LastCheckoutUserID string    `json:"last_checkout_user_id,omitempty"`
}

// Account is an AD account of a connection, as discovered from the directory.
type Account struct {
	ID                       string          `json:"id"`
	TeamID                   string          `json:"team_id"`
	ConnectionID             string          `json:"connection_id"`
	Domain                   string          `json:"domain"`
	SID                      string          `json:"sid"`
	UPN                      string          `json:"upn,omitempty"`
	SAMAccountName           string          `json:"sam_account_name,omitempty"`
	DistinguishedName        string          `json:"distinguished_name"`
	FirstName                string          `json:"first_name,omitempty"`
	LastName                 string          `json:"last_name,omitempty"`
	DisplayName              string          `json:"display_name,omitempty"`
	Email                    string          `json:"email,omitempty"`
	OktaGroupNames           []string        `json:"okta_group_names,omitempty"`
	Missing                  bool            `json:"missing,omitempty"` // vanished from the directory
	RuleID                   string          `json:"rule_id,omitempty"`
	AccountType              string          `json:"account_type,omitempty"` // SHARED, INDIVIDUAL; empty when unmanaged
	ProjectID                string          `json:"project_id,omitempty"`
	ResourceGroupID          string          `json:"resource_group_id,omitempty"`
	BroughtUnderManagementAt time.Time       `json:"brought_under_management_at,omitempty"`
	RuleMatchUserID          string          `json:"rule_match_user_id,omitempty"`
	MatchOverrideUserID      string          `json:"match_override_user_id,omitempty"`
	ForceNoMatch             bool            `json:"force_no_match,omitempty"`
	MatchStatus              string          `json:"match_status,omitempty"`
	MatchedUserID            string          `json:"matched_user_id,omitempty"` // the effective user
	StatusDetail             string          `json:"status_detail,omitempty"`
	StatusDetailMessage      string          `json:"status_detail_message,omitempty"`
	Credential               CredentialState `json:"credential"`
	Lease                    LeaseState      `json:"lease"`
	CreatedAt                time.Time       `json:"created_at"`
	UpdatedAt                time.Time       `json:"updated_at"`
}

// RuleFilter is one enhanced filter of an account rule: Field account_name or okta_group_name,
// Operator STARTS_WITH, ENDS_WITH, CONTAINS or EQUALS.
type RuleFilter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// Rule is an account rule of a connection. Lower Priority wins.
type Rule struct {
	ID                            string         `json:"id"`
	TeamID                        string         `json:"team_id"`
	ConnectionID                  string         `json:"connection_id"`
	Name                          string         `json:"name"`
	RuleType                      string         `json:"rule_type"` // SHARED, INDIVIDUAL
	OrganizationalUnits           []string       `json:"organizational_units"`
	EnhancedFilters               [][]RuleFilter `json:"enhanced_filters,omitempty"`
	ProjectID                     string         `json:"project_id"`
	ResourceGroupID               string         `json:"resource_group_id"`
	Priority                      int            `json:"priority"`
	EnableInitialPasswordRotation bool           `json:"enable_initial_password_rotation,omitempty"`
	EnableImportOktaUsers         bool           `json:"enable_import_okta_users,omitempty"`
	CreatedAt                     time.Time      `json:"created_at"`
	UpdatedAt                     time.Time      `json:"updated_at"`
}

// PolicyResources selects the resources a policy rule applies to. Empty selectors select nothing.
type PolicyResources struct {
	ADConnectionIDs    []string `json:"ad_connection_ids,omitempty"`
	ADAccountTypes     []string `json:"ad_account_types,omitempty"`
	ADAccountIDs       []string `json:"ad_account_ids,omitempty"`
	ADOwnIndividual    bool     `json:"ad_own_individual,omitempty"`
	UDProjectIDs       []string `json:"ud_project_ids,omitempty"`
	UDAccountIDs       []string `json:"ud_account_ids,omitempty"`
	ADProjectIDs       []string `json:"ad_project_ids,omitempty"`
	ADResourceGroupIDs []string `json:"ad_resource_group_ids,omitempty"`
}

// PolicyConditions are the conditions a policy rule attaches to its privileges.
type PolicyConditions struct {
	CheckoutRequired      bool `json:"checkout_required,omitempty"`
	CheckoutMaxSeconds    int  `json:"checkout_max_seconds,omitempty"`
	MFARequired           bool `json:"mfa_required,omitempty"`
	AccessRequestRequired bool `json:"access_request_required,omitempty"`
	// The details of the wire conditions (policydetails.go).
	AccessRequests []PolicyAccessRequest `json:"access_requests,omitempty"`
	MFA            *PolicyMFA            `json:"mfa,omitempty"`
	Gateway        *PolicyGateway        `json:"gateway,omitempty"`
}

// PolicyRule grants privileges on resources under conditions.
type PolicyRule struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Resources  PolicyResources  `json:"resources"`
	Privileges []string         `json:"privileges"`
	Conditions PolicyConditions `json:"conditions"`
	// The rule's wire details (policydetails.go): its resource type when it is not derived from
	// Resources, the server and secret selectors, and the privileges' values.
	ResourceType     string            `json:"resource_type,omitempty"`
	Servers          []PolicyServer    `json:"servers,omitempty"`
	Secrets          []PolicySecret    `json:"secrets,omitempty"`
	PrivilegeOptions []PolicyPrivilege `json:"privilege_options,omitempty"`
}

// Policy is a security policy: principals and the rules that apply to them.
type Policy struct {
	ID                string       `json:"id"`
	TeamID            string       `json:"team_id"`
	Name              string       `json:"name"`
	Description       string       `json:"description,omitempty"`
	Active            bool         `json:"active"`
	PrincipalUserIDs  []string     `json:"principal_user_ids,omitempty"`
	PrincipalGroupIDs []string     `json:"principal_group_ids,omitempty"`
	Rules             []PolicyRule `json:"rules"`
	Type              string       `json:"type,omitempty"`              // default, okta_service_account; "" unset
	ResourceGroupID   string       `json:"resource_group_id,omitempty"` // the policy grants only within it
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// UDAccount is an Okta Universal Directory service account managed in a project.
type UDAccount struct {
	ID              string          `json:"id"`
	TeamID          string          `json:"team_id"`
	ResourceGroupID string          `json:"resource_group_id"`
	ProjectID       string          `json:"project_id"`
	Name            string          `json:"name"`
	Username        string          `json:"username"`
	Description     string          `json:"description,omitempty"`
	OktaUserID      string          `json:"okta_user_id,omitempty"`
	Status          string          `json:"status,omitempty"` // NO_ISSUES, UNSECURED, INFO, ALERT, ERROR
	StatusDetail    string          `json:"status_detail,omitempty"`
	SyncStatus      string          `json:"sync_status,omitempty"` // NOT_SYNCED, SYNCED, SYNCING, SYNC_FAILED
	LCMSyncPossible bool            `json:"lcm_sync_possible,omitempty"`
	Credential      CredentialState `json:"credential"`
	Lease           LeaseState      `json:"lease"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// Checkout is one checkout of a resource. ActiveResourceID equals ResourceID while the checkout is
// active and is empty afterwards; its unique index makes two active checkouts of one resource a
// conflict in every store.
type Checkout struct {
	ID               string    `json:"id"`
	TeamID           string    `json:"team_id"`
	ResourceID       string    `json:"resource_id"`
	ResourceType     string    `json:"resource_type"`
	ResourceName     string    `json:"resource_name,omitempty"`
	ProjectID        string    `json:"project_id,omitempty"`
	ResourceGroupID  string    `json:"resource_group_id,omitempty"`
	UserID           string    `json:"user_id"`
	ActiveResourceID string    `json:"active_resource_id,omitempty"`
	CheckoutAt       time.Time `json:"checkout_at"`
	ExpiresAt        time.Time `json:"expires_at"`
	CheckinAt        time.Time `json:"checkin_at,omitempty"`
	CheckinBy        string    `json:"checkin_by,omitempty"`
	CheckinType      string    `json:"checkin_type,omitempty"` // self, admin, system_checkout_expired
	Status           string    `json:"status"`                 // checked_out, checkin_complete, checkin_failed
}

// AuditEvent records who did what to which resource. It never holds a secret.
type AuditEvent struct {
	ID           string    `json:"id"`
	TeamID       string    `json:"team_id"`
	At           time.Time `json:"at"`
	ActorID      string    `json:"actor_id,omitempty"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail,omitempty"`
}

// Lease is a record-level lock held in the store: whoever holds the live lease named ID may do
// the work it guards (a sync run of one connection, a rotation of one account, a Tick step), in
// whichever process that is. Owner is the holder's token, unique per acquisition; the lease is
// live until ExpiresAt by the engine's clock, and its holder moves ExpiresAt on while it works, so
// a holder that dies loses it when it expires and another engine can take it. A lease is taken,
// renewed and given up in write transactions, so every store serializes its holders.
type Lease struct {
	ID         string    `json:"id"`     // what it guards, e.g. "sync/" + a connection id
	Owner      string    `json:"owner"`  // the holder's token for this acquisition
	Holder     string    `json:"holder"` // the engine instance holding it (diagnostics)
	AcquiredAt time.Time `json:"acquired_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// VaultKey is a store's vault key pair (the key clients encrypt a new UD password to), as a JWK
// sealed with the engine's key-encryption key. There is one per store, under the id "vault": the
// first engine to need it creates it and every other engine on the store loads it.
type VaultKey struct {
	ID         string    `json:"id"`
	PrivateJWK Sealed    `json:"private_jwk"`
	KeyID      string    `json:"key_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// Gateway is a gateway agent of a team: the ASA/OPA gateway that reaches a team's directories and
// servers. Gateways come from fixtures or register with a setup token (GatewaySetupToken).
type Gateway struct {
	ID                string            `json:"id"`
	TeamID            string            `json:"team_id"`
	Name              string            `json:"name"`
	AccessAddress     string            `json:"access_address,omitempty"`
	DefaultAddress    string            `json:"default_address,omitempty"`
	Description       string            `json:"description,omitempty"`
	CloudProvider     string            `json:"cloud_provider,omitempty"` // aws, gce, azure or empty
	RefuseConnections bool              `json:"refuse_connections,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	// SetupTokenID is the setup token the gateway registered with; empty for a fixture's gateway.
	SetupTokenID string `json:"setup_token_id,omitempty"`
	// Status is what the gateway last reported (its status report): a status word, the clients
	// connected and its storage, as a fixture describes them.
	Status            string    `json:"status,omitempty"`
	ActiveConnections int       `json:"active_connections,omitempty"`
	TotalStorageBytes int64     `json:"total_storage_bytes,omitempty"`
	UsedStorageBytes  int64     `json:"used_storage_bytes,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// GatewaySetupToken is a token a gateway agent presents to register with a team. The token value
// is sealed (only the engine opens it); Labels are given to the gateways that register with it.
type GatewaySetupToken struct {
	ID               string            `json:"id"`
	TeamID           string            `json:"team_id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	RegistrationType string            `json:"registration_type"`
	Labels           map[string]string `json:"labels,omitempty"`
	Token            Sealed            `json:"token"`
	CreatedAt        time.Time         `json:"created_at"`
}

// SudoBundle is a sudo command bundle of a team: the commands a security policy's
// principal_account_ssh privilege lets its users run with sudo. The pointer fields are unset
// (nil) when the bundle leaves them to the server's sudo defaults.
type SudoBundle struct {
	ID          string        `json:"id"`
	TeamID      string        `json:"team_id"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	RunAs       *string       `json:"run_as,omitempty"`
	NoPasswd    *bool         `json:"no_passwd,omitempty"`
	NoExec      *bool         `json:"no_exec,omitempty"`
	SetEnv      *bool         `json:"set_env,omitempty"`
	AddEnv      []string      `json:"add_env,omitempty"`
	SubEnv      []string      `json:"sub_env,omitempty"`
	Commands    []SudoCommand `json:"commands,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	CreatedBy   string        `json:"created_by,omitempty"`
	UpdatedAt   time.Time     `json:"updated_at"`
	UpdatedBy   string        `json:"updated_by,omitempty"`
}

// SudoCommand is one command of a sudo command bundle.
type SudoCommand struct {
	Command     string `json:"command"`
	CommandType string `json:"command_type"`        // raw, executable, directory
	ArgsType    string `json:"args_type,omitempty"` // executables: any, none, custom
	Args        string `json:"args,omitempty"`      // custom arguments
}

// Certificate is an AD smart-card (passwordless) certificate of a team: a certificate signing
// request awaiting its signed certificate, or a certificate (self-signed, or uploaded for a
// request). Content is public PEM; the private key is sealed.
type Certificate struct {
	ID               string    `json:"id"`
	TeamID           string    `json:"team_id"`
	DisplayName      string    `json:"display_name"`
	CommonName       string    `json:"common_name"`
	Type             string    `json:"type"`   // certificate_signing_request, self_signed
	Status           string    `json:"status"` // request_created, valid
	EnterpriseSigned bool      `json:"enterprise_signed,omitempty"`
	Content          string    `json:"content"`
	PrivateKey       Sealed    `json:"private_key"`
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at,omitzero"`
}
