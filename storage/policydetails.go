package storage

// The wire details of security policy rules that the engine keeps but does not evaluate itself
// (servers, secrets, sudo settings, condition parameters). See PolicyRule and PolicyConditions.

// PolicyServer is one server selector of a server_based_resource rule. Type is individual_server
// (ServerID), individual_server_account (ServerID, Username) or server_label (Labels,
// AccountSelectorType "username" with Usernames, or "none").
type PolicyServer struct {
	Type                string            `json:"type"`
	ServerID            string            `json:"server_id,omitempty"`
	Username            string            `json:"username,omitempty"`
	Labels              map[string]string `json:"labels,omitempty"`
	AccountSelectorType string            `json:"account_selector_type,omitempty"`
	Usernames           []string          `json:"usernames,omitempty"`
}

// PolicySecret is one selector of a secret_based_resource rule: Type secret or secret_folder, and
// the id of that object.
type PolicySecret struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// PolicyPrivilege is one privilege of a rule as listed on the wire: its type, whether it is
// granted, and the options some types carry.
type PolicyPrivilege struct {
	Type            string          `json:"type"`
	Granted         bool            `json:"granted"`
	AdminLevel      bool            `json:"admin_level,omitempty"`
	SudoDisplayName string          `json:"sudo_display_name,omitempty"`
	SudoBundleIDs   []string        `json:"sudo_bundle_ids,omitempty"`
	Secret          map[string]bool `json:"secret,omitempty"` // the secret privilege's eight flags
}

// PolicyAccessRequest is one access_request condition: the request type and how long an approval
// lasts.
type PolicyAccessRequest struct {
	RequestTypeID       string `json:"request_type_id"`
	RequestTypeName     string `json:"request_type_name"`
	ExpiresAfterSeconds int    `json:"expires_after_seconds,omitempty"`
}

// PolicyMFA is the mfa condition's parameters.
type PolicyMFA struct {
	ReAuthFrequencySeconds int    `json:"re_auth_frequency_in_seconds"`
	ACRValues              string `json:"acr_values,omitempty"`
}

// PolicyGateway is the gateway condition of a server rule.
type PolicyGateway struct {
	TrafficForwarding bool `json:"traffic_forwarding"`
	SessionRecording  bool `json:"session_recording"`
}
