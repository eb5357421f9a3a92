package opa

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/opakit/opa/storage"
)

// SecurityPolicyPrivilege is one {"privilege_type", "privilege_value"} entry of a rule. The value
// is {"_type": type, "<type>": granted, …options}; on input "_type" is optional and the
// privilege_type decides (docs/wire.md#security-policies).
type SecurityPolicyPrivilege struct {
	Type            string
	Granted         bool
	AdminLevel      bool
	SudoDisplayName string
	// SudoCommandBundles are {id, name, type} of the bundles (principal_account_ssh).
	SudoCommandBundles []NamedObject
	// Secret holds the SecretPrivilegeFlags of the secret privilege.
	Secret map[string]bool
}

func (pv SecurityPolicyPrivilege) option() PolicyPrivilege {
	o := PolicyPrivilege{Type: pv.Type, Granted: pv.Granted, AdminLevel: pv.AdminLevel, SudoDisplayName: pv.SudoDisplayName}
	for _, b := range pv.SudoCommandBundles {
		o.SudoBundleIDs = append(o.SudoBundleIDs, b.ID)
	}
	if pv.Type == PrivilegeSecret {
		o.Granted = true
		o.Secret = map[string]bool{}
		for _, f := range SecretPrivilegeFlags {
			o.Secret[f] = pv.Secret[f]
		}
	}
	return o
}

// MarshalJSON writes the container with the value's "_type".
func (pv SecurityPolicyPrivilege) MarshalJSON() ([]byte, error) {
	v := map[string]any{"_type": pv.Type}
	if pv.Type == PrivilegeSecret {
		for _, f := range SecretPrivilegeFlags {
			v[f] = pv.Secret[f]
		}
	} else {
		v[pv.Type] = pv.Granted
	}
	if pv.AdminLevel {
		v["admin_level_permissions"] = true
	}
	if pv.SudoDisplayName != "" {
		v["sudo_display_name"] = pv.SudoDisplayName
	}
	if len(pv.SudoCommandBundles) > 0 {
		v["sudo_command_bundles"] = pv.SudoCommandBundles
	}
	return json.Marshal(map[string]any{"privilege_type": pv.Type, "privilege_value": v})
}

// UnmarshalJSON reads a container with or without "_type"; a value of the wrong JSON type is
// ErrInvalid.
func (pv *SecurityPolicyPrivilege) UnmarshalJSON(b []byte) error {
	var c struct {
		PrivilegeType  string                     `json:"privilege_type"`
		PrivilegeValue map[string]json.RawMessage `json:"privilege_value"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return invalidf("a privilege is {\"privilege_type\": string, \"privilege_value\": object}")
	}
	if c.PrivilegeType == "" {
		return invalidf("privilege_type is required")
	}
	out := SecurityPolicyPrivilege{Type: c.PrivilegeType}
	get := func(key string, dst any) error {
		raw, ok := c.PrivilegeValue[key]
		if !ok || bytes.Equal(raw, []byte("null")) {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return invalidf("privilege_value.%s of %s has the wrong type", key, c.PrivilegeType)
		}
		return nil
	}
	if c.PrivilegeType == PrivilegeSecret {
		out.Secret = map[string]bool{}
		for _, f := range SecretPrivilegeFlags {
			var v bool
			if err := get(f, &v); err != nil {
				return err
			}
			out.Secret[f] = v
		}
	} else if err := get(c.PrivilegeType, &out.Granted); err != nil {
		return err
	}
	if err := get("admin_level_permissions", &out.AdminLevel); err != nil {
		return err
	}
	if err := get("sudo_display_name", &out.SudoDisplayName); err != nil {
		return err
	}
	if err := get("sudo_command_bundles", &out.SudoCommandBundles); err != nil {
		return err
	}
	*pv = out
	return nil
}

// SecurityPolicyCondition is one {"condition_type", "condition_value"} entry of a rule: exactly
// one of AccessRequest, Gateway and MFA is set.
type SecurityPolicyCondition struct {
	AccessRequest *AccessRequestCondition
	Gateway       *GatewayCondition
	MFA           *MFACondition
}

// MarshalJSON writes the container with the value's "_type"; every field a v1 reader dereferences
// is present.
func (c SecurityPolicyCondition) MarshalJSON() ([]byte, error) {
	var typ string
	v := map[string]any{}
	switch {
	case c.AccessRequest != nil:
		typ = string(ConditionAccessRequest)
		v["request_type_id"], v["request_type_name"] = c.AccessRequest.RequestTypeID, c.AccessRequest.RequestTypeName
		if c.AccessRequest.ExpiresAfterSeconds != 0 {
			v["expires_after_seconds"] = c.AccessRequest.ExpiresAfterSeconds
		}
	case c.Gateway != nil:
		typ = "gateway"
		v["traffic_forwarding"], v["session_recording"] = c.Gateway.TrafficForwarding, c.Gateway.SessionRecording
	case c.MFA != nil:
		typ = string(ConditionMFA)
		v["re_auth_frequency_in_seconds"], v["acr_values"] = c.MFA.ReAuthFrequencySeconds, c.MFA.ACRValues
	}
	v["_type"] = typ
	return json.Marshal(map[string]any{"condition_type": typ, "condition_value": v})
}

// UnmarshalJSON reads a container with or without "_type". An unknown condition_type or a value
// of the wrong JSON type is ErrInvalid.
func (c *SecurityPolicyCondition) UnmarshalJSON(b []byte) error {
	var w struct {
		ConditionType  string `json:"condition_type"`
		ConditionValue *struct {
			RequestTypeID       *string `json:"request_type_id"`
			RequestTypeName     *string `json:"request_type_name"`
			ExpiresAfterSeconds *int    `json:"expires_after_seconds"`
			TrafficForwarding   *bool   `json:"traffic_forwarding"`
			SessionRecording    *bool   `json:"session_recording"`
			ReAuthFrequency     *int    `json:"re_auth_frequency_in_seconds"`
			ACRValues           *string `json:"acr_values"`
		} `json:"condition_value"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return invalidf("a condition is {\"condition_type\": string, \"condition_value\": object} with values of the documented types")
	}
	v := w.ConditionValue
	if v == nil {
		return invalidf("condition_value is required")
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out := SecurityPolicyCondition{}
	switch w.ConditionType {
	case string(ConditionAccessRequest):
		ar := AccessRequestCondition{RequestTypeID: str(v.RequestTypeID), RequestTypeName: str(v.RequestTypeName)}
		if v.ExpiresAfterSeconds != nil {
			ar.ExpiresAfterSeconds = *v.ExpiresAfterSeconds
		}
		out.AccessRequest = &ar
	case "gateway":
		g := GatewayCondition{TrafficForwarding: v.TrafficForwarding != nil && *v.TrafficForwarding, SessionRecording: v.SessionRecording != nil && *v.SessionRecording}
		out.Gateway = &g
	case string(ConditionMFA):
		if v.ReAuthFrequency == nil {
			return invalidf("the mfa condition needs re_auth_frequency_in_seconds")
		}
		out.MFA = &MFACondition{ReAuthFrequencySeconds: *v.ReAuthFrequency, ACRValues: str(v.ACRValues)}
	default:
		return invalidf("unknown condition_type %q (want access_request, gateway or mfa)", w.ConditionType)
	}
	*c = out
	return nil
}

// securityPolicyOf converts a stored policy to its API form, naming what it references.
func securityPolicyOf(tx storage.ReadTx, pol *storage.Policy) SecurityPolicy {
	n := newNamer(tx)
	out := SecurityPolicy{ID: pol.ID, Name: pol.Name, Type: pol.Type, Description: pol.Description, Active: pol.Active,
		Principals: SecurityPolicyPrincipals{UserGroups: []NamedObject{}}, Rules: []SecurityPolicyRule{}}
	for _, id := range pol.PrincipalGroupIDs {
		out.Principals.UserGroups = append(out.Principals.UserGroups, *n.get(namedGroup, id))
	}
	for _, id := range pol.PrincipalUserIDs {
		out.Principals.Users = append(out.Principals.Users, *n.get(NamedUser, id))
	}
	out.ResourceGroup = n.get(NamedResourceGroup, pol.ResourceGroupID)
	for _, r := range pol.Rules {
		out.Rules = append(out.Rules, securityPolicyRuleOf(n, pol.ID, r))
	}
	return out
}

func securityPolicyRuleOf(n *namer, policyID string, r storage.PolicyRule) SecurityPolicyRule {
	typ := ruleResourceType(r)
	out := SecurityPolicyRule{ID: r.ID, SecurityPolicyID: policyID, Name: r.Name, ResourceType: typ,
		ResourceSelector: SecurityPolicyResourceSelector{Type: typ, Selectors: []SecurityPolicySelectors{}},
		Privileges:       []SecurityPolicyPrivilege{}, CheckoutRequired: r.Conditions.CheckoutRequired}
	add := func(s SecurityPolicySelector) {
		out.ResourceSelector.Selectors = append(out.ResourceSelector.Selectors, SecurityPolicySelectors{SelectorType: s.Type, Selector: s})
	}
	for _, s := range r.Servers {
		sel := SecurityPolicySelector{Type: s.Type, Username: s.Username}
		if s.ServerID != "" {
			sel.Server = n.server(s.ServerID)
		}
		if s.Type == ServerSelectorLabel {
			sel.ServerSelector = &ServerLabelSelector{Labels: s.Labels}
			sel.AccountSelectorType = s.AccountSelectorType
			sel.AccountSelector = &AccountSelector{Type: s.AccountSelectorType, Usernames: s.Usernames}
		}
		add(sel)
	}
	for _, s := range r.Secrets {
		sel := SecurityPolicySelector{Type: s.Type}
		obj := &NamedObject{ID: s.ID, Type: s.Type}
		if s.Type == selectorSecretFolder {
			sel.SecretFolder = obj
		} else {
			sel.Secret = obj
		}
		add(sel)
	}
	res := r.Resources
	switch typ {
	case RuleResourceAD:
		add(adSelectorOf(n, res))
	case RuleResourceUD:
		for _, id := range res.UDAccountIDs {
			add(SecurityPolicySelector{Type: selectorUDAccount, ServiceAccount: n.udAccount(id)})
		}
		for _, id := range res.UDProjectIDs {
			add(SecurityPolicySelector{Type: selectorUDProject, Project: n.get(NamedProject, id)})
		}
	}
	opts := r.PrivilegeOptions
	if len(opts) == 0 {
		for _, p := range r.Privileges {
			opts = append(opts, storage.PolicyPrivilege{Type: p, Granted: true})
		}
	}
	for _, o := range opts {
		if typ == RuleResourceUD && o.Type == PrivilegeRotatePassword {
			o.Type = PrivilegeUpdatePassword // stored before UD rules took update_password
		}
		pv := SecurityPolicyPrivilege{Type: o.Type, Granted: o.Granted, AdminLevel: o.AdminLevel, SudoDisplayName: o.SudoDisplayName, Secret: o.Secret}
		for _, id := range o.SudoBundleIDs {
			pv.SudoCommandBundles = append(pv.SudoCommandBundles, *n.sudoBundle(id))
		}
		out.Privileges = append(out.Privileges, pv)
	}
	c := r.Conditions
	for _, ar := range c.AccessRequests {
		a := AccessRequestCondition(ar)
		out.Conditions = append(out.Conditions, SecurityPolicyCondition{AccessRequest: &a})
	}
	if c.Gateway != nil {
		g := GatewayCondition(*c.Gateway)
		out.Conditions = append(out.Conditions, SecurityPolicyCondition{Gateway: &g})
	}
	if c.MFA != nil {
		m := MFACondition(*c.MFA)
		out.Conditions = append(out.Conditions, SecurityPolicyCondition{MFA: &m})
	}
	if c.CheckoutMaxSeconds > 0 {
		d := c.CheckoutMaxSeconds
		out.OverrideCheckoutDurationInSeconds = &d
	}
	return out
}

// adSelectorOf expresses an AD selection with the SDK's individual_accounts or shared_accounts
// where they say exactly the same, and with the extension keys for the rest.
func adSelectorOf(n *namer, res storage.PolicyResources) SecurityPolicySelector {
	sel := SecurityPolicySelector{Type: selectorAD}
	conns, accounts, types := res.ADConnectionIDs, res.ADAccountIDs, res.ADAccountTypes
	own := res.ADOwnIndividual
	domains := func() []string {
		var ds []string
		for _, id := range conns {
			ds = append(ds, n.get(NamedConnection, id).Name)
		}
		conns = nil
		return ds
	}
	switch {
	case own && len(accounts) == 0 && (len(types) == 0 || slices.Equal(types, []string{AccountTypeIndividual})):
		sel.IndividualAccounts = &ADIndividualAccounts{ByDomain: domains()}
		own, types = false, nil
	case !own && slices.Equal(types, []string{AccountTypeShared}):
		sel.SharedAccounts = &ADSharedAccounts{ByDomain: domains()}
		for _, id := range accounts {
			sel.SharedAccounts.SpecificAccounts = append(sel.SharedAccounts.SpecificAccounts, n.adAccount(id))
		}
		accounts, types = nil, nil
	}
	for _, id := range conns {
		sel.ADConnections = append(sel.ADConnections, *n.get(NamedConnection, id))
	}
	for _, id := range accounts {
		sel.ADAccounts = append(sel.ADAccounts, n.adAccount(id))
	}
	sel.ADAccountTypes, sel.ADOwnIndividual = types, own
	for _, id := range res.ADProjectIDs {
		sel.Projects = append(sel.Projects, *n.get(NamedProject, id))
	}
	for _, id := range res.ADResourceGroupIDs {
		sel.ResourceGroups = append(sel.ResourceGroups, *n.get(NamedResourceGroup, id))
	}
	return sel
}

// server names a server of a server selector: {id, name (its host name, when synced), type}. A
// server the engine does not know is not missing: policies may name servers before they enrol.
func (n *namer) server(id string) *NamedObject {
	o := &NamedObject{ID: id, Type: namedServer}
	if s, err := storage.Servers.Get(n.tx, id); err == nil {
		o.Name = s.Hostname
	}
	return o
}

// udAccount names a UD account of an individual_okta_account selector: {id, name (its username)}.
func (n *namer) udAccount(id string) *NamedObject {
	o := &NamedObject{ID: id, Missing: true}
	if a, err := storage.UDAccounts.Get(n.tx, id); err == nil {
		o.Name, o.Missing = a.Username, false
	}
	return o
}

// sudoBundle names a sudo command bundle: {id, name, type: "sudo_command_bundle"}; missing when
// it no longer exists.
func (n *namer) sudoBundle(id string) *NamedObject {
	return n.get(namedSudoBundle, id)
}

// adAccount names an AD account by domain and SID (missing when it no longer exists).
func (n *namer) adAccount(id string) ADSpecificAccount {
	a, err := storage.Accounts.Get(n.tx, id)
	if err != nil {
		return ADSpecificAccount{Missing: true}
	}
	return ADSpecificAccount{Domain: n.get(NamedConnection, a.ConnectionID).Name, AccountSID: a.SID, AccountName: resource{ad: a}.name()}
}
