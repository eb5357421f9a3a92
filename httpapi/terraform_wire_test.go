package httpapi_test

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/opatest"
)

// TestTerraformADConnectionsDataSource: Okta's Terraform provider lists AD connections for its
// oktapam_ad_connections data source with ListADConnections (?gateway_id=) and copies every field of
// its connection struct that an item carries into the data source, whose schema has name, id,
// gateway_id, domain, certificate_id, domain_controllers and deleted_at only: an item naming the
// service account failed the data source ("Invalid address to set: ad_connections.0.
// service_account_username", found by scripts/test-terraform.sh). Items have the fields of the
// ASA spec's ListADConnectionResponse; the GET of one connection (the resource's read) still
// names the service account, or the resource would plan a change after every apply.
func TestTerraformADConnectionsDataSource(t *testing.T) {
	e := newEnv(t)
	gw := "5a3af768-063f-4a12-a056-8ef24e555555"
	// What the provider's resource sends on create (oktapam/client/ad_connection.go ADConnection).
	created := map[string]any{}
	e.must(201, "all", "POST", "/integrations/ad_connections", map[string]any{
		"name": "tf-corp", "gateway_id": gw, "domain": "tf.example.com",
		"service_account_username": "svc@tf.example.com", "service_account_password": "Svc-Passw0rd!",
		"domain_controllers": []string{"dc1.tf.example.com"}, "use_passwordless": false,
	}).json(t, &created)

	items, _ := e.handWrittenList("all", "/integrations/ad_connections", map[string]string{"gateway_id": gw})
	want := []string{"domain", "domain_controllers", "gateway_id", "id", "name"}
	var found bool
	for _, it := range items {
		if keys := slices.Sorted(maps.Keys(it)); !slices.Equal(keys, want) {
			t.Fatalf("list item has fields %v, want %v (ListADConnectionResponse)", keys, want)
		}
		if it["id"] == created["id"] {
			found = true
			if it["name"] != "tf-corp" || it["domain"] != "tf.example.com" || it["gateway_id"] != gw {
				t.Fatalf("listed %v", it)
			}
			if dcs, _ := it["domain_controllers"].([]any); len(dcs) != 1 || dcs[0] != "dc1.tf.example.com" {
				t.Fatalf("domain_controllers %v", it["domain_controllers"])
			}
		}
	}
	if !found {
		t.Fatalf("the created connection %v is not listed in %v", created["id"], items)
	}

	var got map[string]any
	e.must(200, "all", "GET", "/integrations/ad_connections/"+created["id"].(string), nil).json(t, &got)
	if got["service_account_username"] != "svc@tf.example.com" {
		t.Fatalf("GET names service account %v, want the one sent", got["service_account_username"])
	}
	if _, ok := got["service_account_password"]; ok {
		t.Fatal("GET returns the service account password")
	}
}

// TestTerraformFixture keeps testdata/terraform/fixture.json what scripts/test-terraform.sh (which
// CI cannot run: the provider is not in a registry it reaches) relies on: the provider signs in
// with its service key as the admin "terraform" (GET /current_user), finds a gateway for its AD
// connections (gateways[0].id), and its groups data source pages through exactly the 120
// "paging-" groups, more than one page, following Link the way the provider does.
func TestTerraformFixture(t *testing.T) {
	const path = "../testdata/terraform/fixture.json"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fixture.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := opatest.NewServer(t, opatest.WithFixtureFile(path))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	var key struct{ id, secret string }
	for _, u := range f.Teams[0].Users {
		if u.Username == "terraform" && len(u.ServiceKeys) == 1 {
			key.id, key.secret = u.ServiceKeys[0].KeyID, u.ServiceKeys[0].KeySecret
		}
	}
	tok, err := srv.ExchangeToken(key.id, key.secret)
	if err != nil {
		t.Fatalf("the terraform service key does not sign in: %v", err)
	}
	e.tokens["tf"] = tok

	var me map[string]any
	e.must(200, "tf", "GET", "/current_user", nil).json(t, &me)
	if me["name"] != "terraform" {
		t.Fatalf("current_user %v", me)
	}
	gateways, _ := e.handWrittenList("tf", "/gateways", nil)
	if len(gateways) == 0 || gateways[0]["id"] == "" {
		t.Fatalf("gateways %v: the AD connections need gateways[0].id", gateways)
	}
	groups, pages := e.handWrittenList("tf", "/groups", map[string]string{"contains": "paging-"})
	names := map[string]bool{}
	for _, g := range groups {
		names[g["name"].(string)] = true
	}
	if len(groups) != 120 || len(names) != 120 || len(pages) < 2 {
		t.Fatalf("%d groups (%d names) on pages %v, want the 120 paging- groups on more than one page", len(groups), len(names), pages)
	}
	// The configuration creates these; the fixture must not already have them.
	for _, path := range []string{"/groups/tf-operators", "/projects/tf-ad-servers", "/service_users/tf-deployer"} {
		if r := e.must(404, "tf", "GET", path, nil); strings.Contains(string(r.body), "No such route") {
			t.Fatalf("GET %s: %s", path, r.body)
		}
	}
	e.must(200, "tf", "GET", "/groups/terraform-admins", nil)
	e.must(200, "tf", "GET", "/service_users/terraform", nil)
}

// TestTerraformConnectionDomainUnderscore: the provider's acceptance tests create AD connections
// for domains such as test_acc_datasource_ad_connection-<random>.example.com, which the service
// accepts; a domain that is no DNS name at all is still 400.
func TestTerraformConnectionDomainUnderscore(t *testing.T) {
	e := newEnv(t)
	body := newConnBody("test_acc_datasource_ad_connection-NB0EPVHMDYF7T9G3I5HC.example.com")
	var created map[string]any
	e.must(201, "all", "POST", "/integrations/ad_connections", body).json(t, &created)
	if created["domain"] != "test_acc_datasource_ad_connection-NB0EPVHMDYF7T9G3I5HC.example.com" {
		t.Fatalf("created %v", created)
	}
	for _, bad := range []string{"corp example.com", "-corp.example.com", "corp..example.com", "corp.example.com/x"} {
		e.must(400, "all", "POST", "/integrations/ad_connections", newConnBody(bad))
	}
}
