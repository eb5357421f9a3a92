package httpapi

// The lenient decoding of request bodies: the forms the seed documents show besides the ones the
// real clients (pam-sdk-go, terraform-provider-oktapam) send, each decision recorded in
// docs/wire.md. The engine's input types decode only their own JSON; the HTTP API accepts the
// seeds' odd spellings here and hands the engine its plain types. Every error is ErrInvalid.

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// serverSyncJobBody is a server sync job body: both the real clients' and the seed's forms
// (docs/wire.md): host_name_attribute or hostname_attribute; start_hour_utc as an integer or an
// RFC 3339 time (its UTC hour); alt_names_attributes as an array or a string;
// additional_attribute_mapping and rule_assignments as an array or a single object; keys in any
// case; frequency and a rule's priority as a number or a string holding one. run_test is accepted
// and ignored by the engine.
type serverSyncJobBody opa.ServerSyncJobInput

// ruleAssignmentBody is a rule assignment whose priority may be a JSON string holding a number
// (the seed sample).
type ruleAssignmentBody opa.RuleAssignment

// userSyncJobBody is a user sync job body: keys in any case (the seed's LDAP_query_filter,
// SID_Field, UPN_Field), frequency as a number or a string, start_hour_utc as an integer or an RFC
// 3339 time.
type userSyncJobBody opa.UserSyncJobInput

// scheduleBody is the body of the schedule operations, {frequency, start_hour_utc}; a whole job
// is accepted too (the seed's form) and its other fields ignored, and start_hour_utc may be an
// RFC 3339 time.
type scheduleBody opa.Schedule

func (r *ruleAssignmentBody) UnmarshalJSON(b []byte) error {
	type plain opa.RuleAssignment
	var aux struct {
		plain
		Priority json.RawMessage `json:"priority"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return errclass.Mark(errclass.Invalid, "rule_assignments: %v", err)
	}
	*r = ruleAssignmentBody(aux.plain)
	p, err := intOrString(aux.Priority)
	if err != nil {
		return errclass.Mark(errclass.Invalid, "rule_assignments.priority must be an integer")
	}
	r.Priority = p
	return nil
}

func (in *serverSyncJobBody) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errclass.Mark(errclass.Invalid, "server sync job: the body is not a JSON object")
	}
	get := func(k string) json.RawMessage {
		for key, v := range raw {
			if strings.EqualFold(key, k) {
				return v
			}
		}
		return nil
	}
	var out opa.ServerSyncJobInput
	str := func(k string, dst *string) error {
		if v := get(k); v != nil && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return errclass.Mark(errclass.Invalid, "%s must be a string", k)
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
		return errclass.Mark(errclass.Invalid, "frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(get("start_hour_utc")); err != nil {
		return err
	}
	for k, dst := range map[string]*bool{"is_active": &out.IsActive, "run_test": &out.RunTest} {
		if v := get(k); v != nil && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return errclass.Mark(errclass.Invalid, "%s must be a boolean", k)
			}
		}
	}
	if err := oneOrMany(get("alt_names_attributes"), &out.AltNamesAttributes); err != nil {
		return errclass.Mark(errclass.Invalid, "alt_names_attributes must be a string or an array of strings")
	}
	if err := oneOrMany(get("additional_attribute_mapping"), &out.AdditionalAttributeMapping); err != nil {
		return errclass.Mark(errclass.Invalid, "additional_attribute_mapping must be an object or an array of {label, value, is_guid}")
	}
	var rules []ruleAssignmentBody
	if err := oneOrMany(get("rule_assignments"), &rules); err != nil {
		if opa.ErrorClass(err) != nil {
			return err
		}
		return errclass.Mark(errclass.Invalid, "rule_assignments must be an object or an array of rule assignments")
	}
	for _, r := range rules {
		out.RuleAssignments = append(out.RuleAssignments, opa.RuleAssignment(r))
	}
	*in = serverSyncJobBody(out)
	return nil
}

func (in *userSyncJobBody) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errclass.Mark(errclass.Invalid, "user sync job: the body is not a JSON object")
	}
	lower := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		lower[strings.ToLower(k)] = v
	}
	var out opa.UserSyncJobInput
	for k, dst := range map[string]*string{
		"name": &out.Name, "base_dn": &out.BaseDN, "ldap_query_filter": &out.LDAPQueryFilter,
		"sid_field": &out.SIDField, "upn_field": &out.UPNField,
	} {
		if v, ok := lower[k]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return errclass.Mark(errclass.Invalid, "%s must be a string", k)
			}
		}
	}
	for k, dst := range map[string]*bool{"is_active": &out.IsActive, "run_test": &out.RunTest} {
		if v, ok := lower[k]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return errclass.Mark(errclass.Invalid, "%s must be a boolean", k)
			}
		}
	}
	var err error
	if out.Frequency, err = intOrString(lower["frequency"]); err != nil {
		return errclass.Mark(errclass.Invalid, "frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(lower["start_hour_utc"]); err != nil {
		return err
	}
	*in = userSyncJobBody(out)
	return nil
}

func (s *scheduleBody) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errclass.Mark(errclass.Invalid, "schedule: the body is not a JSON object")
	}
	var out opa.Schedule
	var err error
	if out.Frequency, err = intOrString(raw["frequency"]); err != nil {
		return errclass.Mark(errclass.Invalid, "frequency must be an integer")
	}
	if out.StartHourUTC, err = decodeStartHour(raw["start_hour_utc"]); err != nil {
		return err
	}
	*s = scheduleBody(out)
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
		return nil, errclass.Mark(errclass.Invalid, "start_hour_utc must be an hour 0-23 or an RFC 3339 time")
	}
	h, err := strconv.Atoi(string(raw))
	if err != nil {
		return nil, errclass.Mark(errclass.Invalid, "start_hour_utc must be an hour 0-23")
	}
	return &h, nil
}

// decodeRevealRequest decodes a reveal request body. ErrInvalid for a body larger than
// opa.MaxRevealRequestBytes, malformed JSON, trailing data, a missing or non-object public_key or
// a missing user_access_method. The key itself is validated by the reveal. Safe for concurrent use.
func decodeRevealRequest(body []byte) (opa.RevealRequest, error) {
	var req opa.RevealRequest
	if len(body) > opa.MaxRevealRequestBytes {
		return req, errclass.Mark(errclass.Invalid, "the request body is larger than %d bytes", opa.MaxRevealRequestBytes)
	}
	var raw struct {
		PublicKey        json.RawMessage `json:"public_key"`
		UserAccessMethod json.RawMessage `json:"user_access_method"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return req, errclass.Mark(errclass.Invalid, "the request body is not a JSON object with public_key and user_access_method")
	}
	if dec.More() {
		return req, errclass.Mark(errclass.Invalid, "the request body has data after the JSON object")
	}
	pk := bytes.TrimSpace(raw.PublicKey)
	if len(pk) == 0 || pk[0] != '{' {
		return req, errclass.Mark(errclass.Invalid, "public_key is required and must be a JSON Web Key object")
	}
	um := bytes.TrimSpace(raw.UserAccessMethod)
	if len(um) == 0 || um[0] != '{' {
		return req, errclass.Mark(errclass.Invalid, "user_access_method is required and must be an object")
	}
	m, err := decodeUserAccessMethod(um)
	if err != nil {
		return req, err
	}
	req.UserAccessMethod = m
	req.PublicKey = append(json.RawMessage(nil), pk...)
	return req, nil
}

// rotateRequestBody is the body of rotate_password: opa.RotateRequest, with the access method
// decoded by decodeUserAccessMethod.
type rotateRequestBody opa.RotateRequest

func (r *rotateRequestBody) UnmarshalJSON(b []byte) error {
	var raw struct {
		PasswordJWE      string          `json:"password_jwe"`
		UserAccessMethod json.RawMessage `json:"user_access_method"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return errclass.Mark(errclass.Invalid, "the request body is not a JSON object with user_access_method")
	}
	out := opa.RotateRequest{PasswordJWE: raw.PasswordJWE}
	if len(bytes.TrimSpace(raw.UserAccessMethod)) > 0 && string(bytes.TrimSpace(raw.UserAccessMethod)) != "null" {
		m, err := decodeUserAccessMethod(raw.UserAccessMethod)
		if err != nil {
			return err
		}
		out.UserAccessMethod = m
	}
	*r = rotateRequestBody(out)
	return nil
}

// decodeUserAccessMethod decodes a user access method. Its details.privileges may also be the seed
// sample's object form ({"_type":…, "secret_reveal":true, …}), which names no AD privilege: its
// true members that are privileges the engine knows become entries, the rest are dropped
// (docs/wire.md).
func decodeUserAccessMethod(raw json.RawMessage) (opa.UserAccessMethod, error) {
	var m opa.UserAccessMethod
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return m, errclass.Mark(errclass.Invalid, "user_access_method is malformed")
	}
	if d, ok := fields["details"]; ok {
		var details map[string]json.RawMessage
		if err := json.Unmarshal(d, &details); err == nil {
			if ps := bytes.TrimSpace(details["privileges"]); len(ps) > 0 && ps[0] != '[' && string(ps) != "null" {
				list, err := privilegesFromObject(ps)
				if err != nil {
					return m, err
				}
				if details["privileges"], err = json.Marshal(list); err != nil {
					return m, errclass.Mark(errclass.Invalid, "details.privileges is malformed")
				}
				if fields["details"], err = json.Marshal(details); err != nil {
					return m, errclass.Mark(errclass.Invalid, "details is malformed")
				}
				if raw, err = json.Marshal(fields); err != nil {
					return m, errclass.Mark(errclass.Invalid, "user_access_method is malformed")
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, errclass.Mark(errclass.Invalid, "user_access_method is malformed")
	}
	return m, nil
}

// privilegesFromObject reads the seed's object form of details.privileges.
func privilegesFromObject(b json.RawMessage) ([]opa.UAMPrivilege, error) {
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, errclass.Mark(errclass.Invalid, "details.privileges must be a list or an object")
	}
	list := []opa.UAMPrivilege{}
	for _, k := range []string{opa.PrivilegeRevealPassword, opa.PrivilegePasswordCheckoutRDP, opa.PrivilegePasswordCheckoutSSH, opa.PrivilegeRotatePassword, opa.PrivilegeUpdatePassword} {
		if on, ok := obj[k].(bool); ok && on {
			list = append(list, opa.UAMPrivilege{PrivilegeType: k, PrivilegeValue: map[string]bool{k: true}})
		}
	}
	return list, nil
}
