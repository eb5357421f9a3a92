package httpapi_test

import (
	"maps"
	"slices"
	"testing"
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
