package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
)

func TestSyncJobBodiesAcceptTheSeedForms(t *testing.T) {
	hour14 := 14
	const seed = `{"access_address_attribute":"access_address","additional_attribute_mapping":{"label":"region","value":"server_region"},
	"alt_names_attributes":"alt_name","bastion_attribute":"bastion","frequency":24,"host_name_attribute":"host_name","is_active":true,
	"is_guid":true,"name":"Server Sync Job - 1","os_attribute":"os","rule_assignments":{"base_dn":"DC=corp,DC=example,DC=com",
	"ldap_query_filter":"(cn=*)","priority":"1","project_id":"p1"},"start_hour_utc":"2022-08-24T14:15:22Z"}`
	var body serverSyncJobBody
	if err := json.Unmarshal([]byte(seed), &body); err != nil {
		t.Fatal(err)
	}
	in := opa.ServerSyncJobInput(body)
	want := opa.ServerSyncJobInput{
		Name: "Server Sync Job - 1", Frequency: 24, StartHourUTC: &hour14, IsActive: true, HostnameAttribute: "host_name",
		AccessAddressAttribute: "access_address", OSAttribute: "os", BastionAttribute: "bastion", AltNamesAttributes: []string{"alt_name"},
		AdditionalAttributeMapping: []opa.AttributeMapping{{Label: "region", Value: "server_region"}},
		RuleAssignments:            []opa.RuleAssignment{{BaseDN: "DC=corp,DC=example,DC=com", LDAPQueryFilter: "(cn=*)", Priority: 1, ProjectID: "p1"}},
	}
	if d := cmp.Diff(want, in); d != "" {
		t.Fatalf("seed form (-want +got):\n%s", d)
	}
	var u userSyncJobBody
	if err := json.Unmarshal([]byte(`{"base_dn":"DC=a","LDAP_query_filter":"(cn=*)","SID_Field":"objectsid","UPN_Field":"upn","name":"u","is_active":true,"frequency":24,"start_hour_utc":5}`), &u); err != nil {
		t.Fatal(err)
	}
	if u.LDAPQueryFilter != "(cn=*)" || u.SIDField != "objectsid" || u.UPNField != "upn" || *u.StartHourUTC != 5 {
		t.Fatalf("user job %+v", u)
	}
	var sch scheduleBody
	if err := json.Unmarshal([]byte(`{"frequency":24,"start_hour_utc":"2022-08-24T14:15:22Z","name":"ignored"}`), &sch); err != nil {
		t.Fatal(err)
	}
	if sch.Frequency != 24 || *sch.StartHourUTC != 14 {
		t.Fatalf("schedule %+v", sch)
	}
	b, _ := json.Marshal(opa.ServerSyncJob{HostnameAttribute: "h", HostNameAttribute: "h"})
	if !strings.Contains(string(b), `"hostname_attribute":"h"`) || !strings.Contains(string(b), `"host_name_attribute":"h"`) {
		t.Fatalf("encoding %s", b)
	}
}

func FuzzDecodeRevealRequest(f *testing.F) {
	f.Add([]byte(`{"public_key":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"},"user_access_method":{"rule_ids":["r"]}}`))
	f.Add([]byte(`{"public_key":{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RSA-OAEP-256"},"user_access_method":{"details":{"privileges":[{"privilege_type":"reveal_password","privilege_value":{"reveal_password":true}}]}}}`))
	f.Add([]byte(`{"public_key":{},"user_access_method":{"details":{"privileges":{"_type":"string","secret_reveal":true}}}}`))
	f.Add([]byte(`{"public_key":"x","user_access_method":{}}`))
	f.Add([]byte(`{"public_key":{}} trailing`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRevealRequest(body)
		if err != nil {
			if !errors.Is(err, opa.ErrInvalid) {
				t.Fatalf("error of another class: %v", err)
			}
			return
		}
		if len(req.PublicKey) == 0 || req.PublicKey[0] != '{' {
			t.Fatalf("accepted a public_key that is not an object: %q", req.PublicKey)
		}
	})
}

// TestRevealRequestSeedForm decodes a reveal request as the seed sample writes it: its
// details.privileges is an object that names no AD privilege, so the method carries none, and the
// rest of the method and the key pass through unchanged.
func TestRevealRequestSeedForm(t *testing.T) {
	key := `{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`
	body := `{"public_key":` + key + `,"user_access_method":{"access_credential":"managed","brokered":true,
		"details":{"privileges":{"_type":"string","secret_reveal":true,"rotate_password":true}},"identity":"x","rule_ids":["r1"]}}`
	req, err := decodeRevealRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := opa.UserAccessMethod{AccessCredential: "managed", Brokered: true, Identity: "x", RuleIDs: []string{"r1"},
		Details: opa.UAMDetails{Privileges: opa.UAMPrivileges{{PrivilegeType: opa.PrivilegeRotatePassword, PrivilegeValue: map[string]bool{opa.PrivilegeRotatePassword: true}}}}}
	if d := cmp.Diff(want, req.UserAccessMethod); d != "" || string(req.PublicKey) != key {
		t.Fatalf("(-want +got):\n%s\nkey %s", d, req.PublicKey)
	}
	var rot rotateRequestBody
	if err := json.Unmarshal([]byte(`{"password_jwe":"x.y.z","user_access_method":{"rule_ids":["r1"],"details":{"privileges":{"secret_reveal":true}}}}`), &rot); err != nil {
		t.Fatal(err)
	}
	if rot.PasswordJWE != "x.y.z" || len(rot.UserAccessMethod.RuleIDs) != 1 || len(rot.UserAccessMethod.Details.Privileges) != 0 {
		t.Fatalf("rotate body %+v", rot)
	}
	for _, bad := range []string{`{"user_access_method":{"details":{"privileges":"x"}}}`, `{"user_access_method":[]}`} {
		if err := json.Unmarshal([]byte(bad), &rot); !errors.Is(err, opa.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", bad, err)
		}
	}
}
