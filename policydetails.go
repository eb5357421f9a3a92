package opa

import (
	"maps"
	"slices"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Resource types of security policy rules (SecurityPolicyRuleResourceType). The engine evaluates
// AD and UD rules; server and secret rules are kept and served as sent, and grant nothing here.
const (
	RuleResourceAD     = "active_directory_based_resource"
	RuleResourceUD     = "okta_app_based_resource"
	RuleResourceServer = "server_based_resource"
	RuleResourceSecret = "secret_based_resource"
)

// Security policy types (SecurityPolicyType).
const (
	PolicyTypeDefault        = "default"
	PolicyTypeServiceAccount = "okta_service_account"
)

// Privileges of server and secret rules, besides PrivilegePasswordCheckoutRDP and
// PrivilegePasswordCheckoutSSH, which servers share with AD accounts.
const (
	PrivilegePrincipalAccountSSH = "principal_account_ssh"
	PrivilegePrincipalAccountRDP = "principal_account_rdp"
	PrivilegeSecret              = "secret"
)

// SecretPrivilegeFlags are the eight flags of the secret privilege, in the API's order.
var SecretPrivilegeFlags = []string{"list", "folder_create", "folder_update", "folder_delete", "secret_create", "secret_update", "secret_reveal", "secret_delete"}

// Server selector types of server_based_resource rules and their account selector types.
const (
	ServerSelectorIndividual        = "individual_server"
	ServerSelectorIndividualAccount = "individual_server_account"
	ServerSelectorLabel             = "server_label"
	AccountSelectorUsername         = "username"
	AccountSelectorNone             = "none"
)

// PolicyServer is one server selector of a server rule: Type individual_server (ServerID),
// individual_server_account (ServerID and Username) or server_label (Labels, and
// AccountSelectorType username with Usernames, or none). Server ids are not checked against the
// synced servers (a policy may name a server before it is enrolled); they must be UUIDs.
type PolicyServer struct {
	Type                string            `json:"type"`
	ServerID            string            `json:"server_id,omitempty"`
	Username            string            `json:"username,omitempty"`
	Labels              map[string]string `json:"labels,omitempty"`
	AccountSelectorType string            `json:"account_selector_type,omitempty"`
	Usernames           []string          `json:"usernames,omitempty"`
}

// PolicySecret is one selector of a secret rule: Type "secret" or "secret_folder" and the UUID of
// that object.
type PolicySecret struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// PolicyPrivilege is one privilege of a rule as the API lists it: its type, whether it is granted
// (the value of the key named after the type), and the options of principal and secret
// privileges. Secret holds the eight SecretPrivilegeFlags of the secret privilege.
type PolicyPrivilege struct {
	Type            string          `json:"type"`
	Granted         bool            `json:"granted"`
	AdminLevel      bool            `json:"admin_level,omitempty"`
	SudoDisplayName string          `json:"sudo_display_name,omitempty"`
	SudoBundleIDs   []string        `json:"sudo_bundle_ids,omitempty"`
	Secret          map[string]bool `json:"secret,omitempty"`
}

// AccessRequestCondition is one access_request condition of a rule.
type AccessRequestCondition struct {
	RequestTypeID       string `json:"request_type_id"`
	RequestTypeName     string `json:"request_type_name"`
	ExpiresAfterSeconds int    `json:"expires_after_seconds,omitempty"`
}

// MFACondition is the mfa condition of a rule: how often to re-authenticate, and the ACR value
// ("", "urn:okta:loa:2fa:any" or "phr").
type MFACondition struct {
	ReAuthFrequencySeconds int    `json:"re_auth_frequency_in_seconds"`
	ACRValues              string `json:"acr_values,omitempty"`
}

// GatewayCondition is the gateway condition of a server rule.
type GatewayCondition struct {
	TrafficForwarding bool `json:"traffic_forwarding"`
	SessionRecording  bool `json:"session_recording"`
}

func checkPolicyType(t string) error {
	if t != "" && t != PolicyTypeDefault && t != PolicyTypeServiceAccount {
		return invalidf("unknown security policy type %q (want default or okta_service_account)", t)
	}
	return nil
}

// ruleResourceType is the rule's resource type: its own, or the one its selectors imply.
func ruleResourceType(r storage.PolicyRule) string {
	switch {
	case r.ResourceType != "":
		return r.ResourceType
	case !hasADSelector(r.Resources) && hasUDSelector(r.Resources):
		return RuleResourceUD
	}
	return RuleResourceAD
}

// normalizeRule derives what one side of a rule implies for the other: Privileges from
// PrivilegeOptions, and the MFA and access request flags from their details (or the reverse).
//
// A UD rule's rotate_password becomes update_password, the SDK's name for it on service accounts.
func normalizeRule(r *storage.PolicyRule) {
	if ruleResourceType(*r) == RuleResourceUD {
		for i, pr := range r.Privileges {
			if pr == PrivilegeRotatePassword {
				r.Privileges[i] = PrivilegeUpdatePassword
			}
		}
		for i := range r.PrivilegeOptions {
			if r.PrivilegeOptions[i].Type == PrivilegeRotatePassword {
				r.PrivilegeOptions[i].Type = PrivilegeUpdatePassword
			}
		}
	}
	if len(r.PrivilegeOptions) > 0 {
		r.Privileges = nil
		for _, o := range r.PrivilegeOptions {
			if o.Granted && !slices.Contains(r.Privileges, o.Type) {
				r.Privileges = append(r.Privileges, o.Type)
			}
		}
	}
	c := &r.Conditions
	if c.MFA != nil {
		c.MFARequired = true
	} else if c.MFARequired {
		c.MFA = &storage.PolicyMFA{}
	}
	if len(c.AccessRequests) > 0 {
		c.AccessRequestRequired = true
	} else if c.AccessRequestRequired {
		c.AccessRequests = []storage.PolicyAccessRequest{{}}
	}
}

func serverPrivilege(s string) bool {
	switch s {
	case PrivilegePrincipalAccountSSH, PrivilegePrincipalAccountRDP, PrivilegePasswordCheckoutSSH, PrivilegePasswordCheckoutRDP, PrivilegeRevealPassword:
		return true
	}
	return false
}

// checkServerOrSecretRule validates a server or secret rule; errors are wrapped by the caller.
func (e *Engine) checkServerOrSecretRule(tx storage.ReadTx, teamID, typ string, r storage.PolicyRule) error {
	if hasADSelector(r.Resources) || hasUDSelector(r.Resources) {
		return invalidf("a %s rule selects no AD or UD accounts", typ)
	}
	if typ == RuleResourceServer {
		if len(r.Servers) == 0 || len(r.Secrets) > 0 {
			return invalidf("a server_based_resource rule needs at least one server selector and no secret")
		}
		for i, s := range r.Servers {
			if err := checkServerSelector(s); err != nil {
				return invalidf("server selector %d: %v", i+1, err)
			}
		}
	} else {
		if len(r.Secrets) == 0 || len(r.Servers) > 0 {
			return invalidf("a secret_based_resource rule needs at least one secret or secret folder and no server")
		}
		for _, s := range r.Secrets {
			if s.Type != "secret" && s.Type != "secret_folder" || !uuidRE.MatchString(s.ID) {
				return invalidf("a secret selector is a secret or secret_folder with a UUID id")
			}
		}
	}
	for _, pr := range r.Privileges {
		if typ == RuleResourceServer && !serverPrivilege(pr) || typ == RuleResourceSecret && pr != PrivilegeSecret {
			return invalidf("privilege %q does not apply to a %s rule", pr, typ)
		}
	}
	if err := e.checkPrivilegeOptions(tx, teamID, r); err != nil {
		return err
	}
	return checkConditionDetails(r.Conditions, typ == RuleResourceServer)
}

func checkServerSelector(s storage.PolicyServer) error {
	switch s.Type {
	case ServerSelectorIndividual, ServerSelectorIndividualAccount:
		if !uuidRE.MatchString(s.ServerID) {
			return invalidf("the server id must be a UUID")
		}
		if (s.Type == ServerSelectorIndividualAccount) != (s.Username != "") {
			return invalidf("a username goes with individual_server_account, and only there")
		}
	case ServerSelectorLabel:
		if len(s.Labels) == 0 {
			return invalidf("a server_label selector needs at least one label")
		}
		switch s.AccountSelectorType {
		case AccountSelectorUsername:
			if len(s.Usernames) == 0 {
				return invalidf("account_selector_type username needs usernames")
			}
		case AccountSelectorNone:
			if len(s.Usernames) > 0 {
				return invalidf("account_selector_type none takes no usernames")
			}
		default:
			return invalidf("unknown account_selector_type %q (want username or none)", s.AccountSelectorType)
		}
	default:
		return invalidf("unknown selector_type %q", s.Type)
	}
	return nil
}

// checkPrivilegeOptions checks the options of the rule's privileges: known types, each listed
// once, sudo settings only on principal_account_ssh, existing sudo command bundles, and the
// secret flags only on the secret privilege.
func (e *Engine) checkPrivilegeOptions(tx storage.ReadTx, teamID string, r storage.PolicyRule) error {
	seen := map[string]bool{}
	for _, o := range r.PrivilegeOptions {
		if !knownPrivilege(o.Type) && !serverPrivilege(o.Type) && o.Type != PrivilegeSecret {
			return invalidf("unknown privilege %q", o.Type)
		}
		if seen[o.Type] {
			return invalidf("privilege %q is listed twice", o.Type)
		}
		seen[o.Type] = true
		if o.Type != PrivilegePrincipalAccountSSH && (o.SudoDisplayName != "" || len(o.SudoBundleIDs) > 0) {
			return invalidf("sudo settings belong to principal_account_ssh")
		}
		if o.AdminLevel && o.Type != PrivilegePrincipalAccountSSH && o.Type != PrivilegePrincipalAccountRDP && o.Type != PrivilegePasswordCheckoutRDP {
			return invalidf("admin_level_permissions does not apply to %s", o.Type)
		}
		if len(o.SudoDisplayName) > 255 {
			return invalidf("sudo_display_name is longer than 255 characters")
		}
		for _, id := range o.SudoBundleIDs {
			if err := checkSudoBundleRef(tx, teamID, id); err != nil {
				return err
			}
		}
		if (o.Type == PrivilegeSecret) != (o.Secret != nil) {
			return invalidf("the secret flags belong to the secret privilege, which needs them")
		}
		for k := range o.Secret {
			if !slices.Contains(SecretPrivilegeFlags, k) {
				return invalidf("unknown secret privilege flag %q", k)
			}
		}
	}
	return nil
}

// checkSudoBundleRef checks that a sudo command bundle id names a bundle of the team.
func checkSudoBundleRef(tx storage.ReadTx, teamID, id string) error {
	if !uuidRE.MatchString(id) {
		return invalidf("sudo command bundle id %q is not a UUID", id)
	}
	b, err := storage.SudoBundles.Get(tx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err != nil || b.TeamID != teamID {
		return invalidf("sudo command bundle %q does not exist", id)
	}
	return nil
}

func checkConditionDetails(c storage.PolicyConditions, server bool) error {
	if c.Gateway != nil && !server {
		return invalidf("the gateway condition applies only to server_based_resource rules")
	}
	for _, ar := range c.AccessRequests {
		if len(ar.RequestTypeID) > 64 || len(ar.RequestTypeName) > 1024 || ar.ExpiresAfterSeconds < 0 {
			return invalidf("an access_request condition has a request_type_id of at most 64 characters, a request_type_name of at most 1024 and expires_after_seconds >= 0")
		}
	}
	if m := c.MFA; m != nil {
		if m.ReAuthFrequencySeconds < 0 || m.ACRValues != "" && m.ACRValues != "urn:okta:loa:2fa:any" && m.ACRValues != "phr" {
			return invalidf("the mfa condition needs re_auth_frequency_in_seconds >= 0 and acr_values urn:okta:loa:2fa:any or phr")
		}
	}
	return nil
}

func policyConditionsOf(c storage.PolicyConditions) PolicyConditions {
	out := PolicyConditions{CheckoutRequired: c.CheckoutRequired, CheckoutMaxSeconds: c.CheckoutMaxSeconds,
		MFARequired: c.MFARequired, AccessRequestRequired: c.AccessRequestRequired}
	for _, a := range c.AccessRequests {
		out.AccessRequests = append(out.AccessRequests, AccessRequestCondition(a))
	}
	if c.MFA != nil {
		m := MFACondition(*c.MFA)
		out.MFA = &m
	}
	if c.Gateway != nil {
		g := GatewayCondition(*c.Gateway)
		out.Gateway = &g
	}
	return out
}

func storedConditions(c PolicyConditions) storage.PolicyConditions {
	out := storage.PolicyConditions{CheckoutRequired: c.CheckoutRequired, CheckoutMaxSeconds: c.CheckoutMaxSeconds,
		MFARequired: c.MFARequired, AccessRequestRequired: c.AccessRequestRequired}
	for _, a := range c.AccessRequests {
		out.AccessRequests = append(out.AccessRequests, storage.PolicyAccessRequest(a))
	}
	if c.MFA != nil {
		m := storage.PolicyMFA(*c.MFA)
		out.MFA = &m
	}
	if c.Gateway != nil {
		g := storage.PolicyGateway(*c.Gateway)
		out.Gateway = &g
	}
	return out
}

func serversOf(ss []storage.PolicyServer) []PolicyServer {
	var out []PolicyServer
	for _, s := range ss {
		s.Labels, s.Usernames = maps.Clone(s.Labels), slices.Clone(s.Usernames)
		out = append(out, PolicyServer(s))
	}
	return out
}

func storedServers(ss []PolicyServer) []storage.PolicyServer {
	var out []storage.PolicyServer
	for _, s := range ss {
		s.Labels, s.Usernames = maps.Clone(s.Labels), slices.Clone(s.Usernames)
		out = append(out, storage.PolicyServer(s))
	}
	return out
}

func secretsOf(ss []storage.PolicySecret) []PolicySecret {
	var out []PolicySecret
	for _, s := range ss {
		out = append(out, PolicySecret(s))
	}
	return out
}

func storedSecrets(ss []PolicySecret) []storage.PolicySecret {
	var out []storage.PolicySecret
	for _, s := range ss {
		out = append(out, storage.PolicySecret(s))
	}
	return out
}

func privilegeOptionsOf(ps []storage.PolicyPrivilege) []PolicyPrivilege {
	var out []PolicyPrivilege
	for _, p := range ps {
		p.SudoBundleIDs, p.Secret = slices.Clone(p.SudoBundleIDs), maps.Clone(p.Secret)
		out = append(out, PolicyPrivilege(p))
	}
	return out
}

func storedPrivilegeOptions(ps []PolicyPrivilege) []storage.PolicyPrivilege {
	var out []storage.PolicyPrivilege
	for _, p := range ps {
		p.SudoBundleIDs, p.Secret = slices.Clone(p.SudoBundleIDs), maps.Clone(p.Secret)
		out = append(out, storage.PolicyPrivilege(p))
	}
	return out
}
