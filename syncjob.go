package opa

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
)

// This file holds what server sync jobs (serversyncjob.go) and user sync jobs (usersyncjob.go)
// share: their limits and defaults and the validation of their input. Running them is in
// serversync.go and accountimport.go, their results in syncresult.go, and when they run in
// scheduler.go.

// Limits of sync jobs.
const (
	MaxAttributeMappings     = 10
	MaxActiveUserSyncJobs    = 10
	DefaultUserSyncFilter    = "(objectclass=user)"
	DefaultSIDField          = "objectSid"
	DefaultUPNField          = "userPrincipalName"
	DefaultHostnameAttribute = "dNSHostName"
)

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

// normDN returns a DN's canonical form (directory.NormalizeDN) for comparisons; a DN that does
// not parse is only lower-cased.
func normDN(dn string) string {
	if n, err := directory.NormalizeDN(dn); err == nil {
		return n
	}
	return strings.ToLower(dn)
}

// underDN reports whether dn is base or lies below it; both are normalized.
func underDN(dn, base string) bool {
	return base == "" || dn == base || strings.HasSuffix(dn, ","+base)
}
