package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGroupsModifyAttributeIsMembership: a hostile (or mistaken) Okta client's groups/modify names
// a group attribute that is not a membership attribute; the fake's directory used to store the
// member DNs in it (the group's objectGUID and objectSid got a second value, its objectClass a DN).
// Each is 400 and the group is unchanged; member and uniqueMember are accepted in any case, and
// "MEMBER" is stored as member.
func TestGroupsModifyAttributeIsMembership(t *testing.T) {
	e := newEnv(t)
	const tok = "SSWS 00demo-okta-api-token-change-me"
	dir := e.srv.Directory("corp.example.com")
	const helpdesk = "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com"
	const john = "CN=adm.john.smith,OU=Admins,DC=corp,DC=example,DC=com"
	attrs := func() map[string][]string {
		t.Helper()
		en, err := dir.Entry(helpdesk)
		if err != nil {
			t.Fatal(err)
		}
		return en.Attributes
	}
	send := func(action, attr string) response {
		t.Helper()
		body := fmt.Sprintf(`{"id":"00g1xucgTZFrziXg10g4","parameters":{"action":%q,"attribute":%q,"values":[%q]}}`, action, attr, john)
		return e.doHeader("POST", "/api/v1/directories/0oa1corpexample0ad01/groups/modify", body, map[string]string{"Authorization": tok})
	}
	before := attrs()
	for _, attr := range []string{"objectGUID", "objectSid", "memberOf", "objectClass", "distinguishedName", "cn", "sAMAccountName",
		"member;range=0-1", "memberUid", " "} {
		if r := send("ADD", attr); r.status != 400 {
			t.Errorf("attribute %q: %d, want 400: %s", attr, r.status, r.body)
		}
	}
	if diff := cmp.Diff(before, attrs()); diff != "" {
		t.Fatalf("refused requests changed the group (-before +after):\n%s", diff)
	}
	if r := send("ADD", "MEMBER"); r.status != 200 {
		t.Fatalf("MEMBER: %d %s", r.status, r.body)
	}
	after := attrs()
	if _, ok := after["MEMBER"]; ok || len(after["member"]) != len(before["member"])+1 {
		t.Fatalf("after ADD MEMBER: %v", after)
	}
	if r := send("REMOVE", "uniquemember"); r.status != 200 {
		t.Fatalf("uniquemember: %d %s", r.status, r.body)
	}
}
