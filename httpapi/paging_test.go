package httpapi_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var linkRE = regexp.MustCompile(`<([^>]+)>;\s*rel="(next|prev)"`)

func links(h string) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(h, -1) {
		out[m[2]] = m[1]
	}
	return out
}

type idItem struct {
	ID      string `json:"id"`
	Account *struct {
		ID string `json:"id"`
	} `json:"account"`
}

func (i idItem) id() string {
	if i.ID == "" && i.Account != nil {
		return i.Account.ID
	}
	return i.ID
}

// walk follows rel (next or prev) links from first and returns the ids in the order seen. Every
// link must be absolute, keep count and the filter, and be on the same path.
func walk(t *testing.T, e *env, role, first, rel string) []string {
	t.Helper()
	var ids []string
	u := first
	for pages := 0; u != ""; pages++ {
		if pages > 100 {
			t.Fatalf("more than 100 pages from %s", first)
		}
		r := e.must(200, role, "GET", u, nil)
		var body struct {
			List []idItem `json:"list"`
		}
		r.json(t, &body)
		page := make([]string, len(body.List))
		for i, it := range body.List {
			page[i] = it.id()
		}
		if rel == "prev" {
			slices.Reverse(page)
		}
		ids = append(ids, page...)
		next := links(r.header.Get("Link"))[rel]
		if next != "" {
			pu, err := url.Parse(next)
			if err != nil || !pu.IsAbs() {
				t.Fatalf("link %q is not an absolute URL", next)
			}
			fu, _ := url.Parse(first)
			if pu.Path != fu.Path {
				t.Fatalf("link path %q, want %q", pu.Path, fu.Path)
			}
			for _, k := range []string{"count", "descending", "contains", "status"} {
				if want := fu.Query().Get(k); want != "" && pu.Query().Get(k) != want {
					t.Fatalf("link %q lost %s=%s", next, k, want)
				}
			}
		}
		u = next
	}
	return ids
}

func checkOnce(t *testing.T, got, want []string, what string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("%s: id %s seen %d times; got %v", what, id, seen[id], got)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d", what, len(got), len(want))
	}
}

// TestPaging walks every paginated list forward, backward (from the last page through
// rel="prev") and descending, with a page size that splits it, and checks each item comes
// exactly once and in order.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	conn := e.connID()
	// Make enough of everything to need several pages.
	for i := 0; i < 6; i++ {
		e.must(201, "all", "POST", "/integrations/ad_connections", newConnBody(fmt.Sprintf("p%d.example.com", i)))
		e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/user_sync_task_settings", map[string]any{
			"name": fmt.Sprintf("job %d", i), "base_dn": "OU=Users,DC=corp,DC=example,DC=com", "frequency": 24, "is_active": false})
		e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/task_settings", serverJobBody(e, fmt.Sprintf("server job %d", i)))
	}
	r := e.must(200, "all", "GET", "/integrations/ad_connections/"+conn+"/user_sync_task_settings?count=1", nil)
	var jobs struct {
		List []idItem `json:"list"`
	}
	r.json(t, &jobs)
	job := jobs.List[0].ID
	for i := 0; i < 5; i++ {
		e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/user_sync_task_settings/"+job+"/test_requests", nil)
	}

	r = e.must(200, "all", "GET", "/integrations/ad_connections/"+conn+"/task_settings?count=1", nil)
	var sjobs struct {
		List []idItem `json:"list"`
	}
	r.json(t, &sjobs)
	sjob := sjobs.List[0].ID
	for i := 0; i < 5; i++ {
		e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/task_settings/"+sjob+"/test_requests", nil)
	}

	lists := []struct {
		name, role, path, filter string
	}{
		{"opa connections", "all", "/connections/active_directory", ""},
		{"asa connections", "all", "/integrations/ad_connections", ""},
		{"user sync jobs", "all", "/integrations/ad_connections/" + conn + "/user_sync_task_settings", "status=INACTIVE"},
		{"server sync jobs", "all", "/integrations/ad_connections/" + conn + "/task_settings", ""},
		{"server sync results", "all", "/integrations/ad_connections/" + conn + "/task_settings/" + sjob + "/results", ""},
		{"user sync results", "all", "/integrations/ad_connections/" + conn + "/user_sync_task_settings/" + job + "/results", ""},
		{"discovered accounts", "all", "/resource_assignment/active_directory/" + conn + "/accounts", ""},
		{"all accounts", "all", "/all_active_directory_accounts", "contains=corp"},
		{"resource group accounts", "all", "/resource_groups/" + e.rgID() + "/all_active_directory_accounts", ""},
		{"project accounts", "all", "/resource_groups/" + e.rgID() + "/projects/" + e.srv.Loaded.Team("demo").Projects["infra/service-accounts"] + "/active_directory_accounts", ""},
		{"end-user domains", "end_user", "/active_directory", ""},
		{"end-user accounts", "end_user", "/active_directory/" + conn + "/accounts", ""},
		{"end-user UD accounts", "end_user", "/okta_universal_directory_accounts", ""},
		{"all UD accounts", "all", "/all_okta_universal_directory_accounts", ""},
		{"resource group UD accounts", "all", "/resource_groups/" + e.rgID() + "/all_okta_universal_directory_accounts", ""},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			base := e.srv.TeamURL(l.path)
			q := "?"
			if l.filter != "" {
				q += l.filter + "&" + l.filter + "&" // a filter given twice is tolerated
			}
			all := walk(t, e, l.role, base+q+"count=1000", "next")
			if len(all) < 2 && l.name != "end-user domains" { // the demo end user sees one domain
				t.Fatalf("only %d items; the test needs at least 2", len(all))
			}
			if !slices.IsSorted(all) {
				t.Fatalf("not in id order: %v", all)
			}
			fwd := walk(t, e, l.role, base+q+"count=2", "next")
			checkOnce(t, fwd, all, "forward")
			if !slices.Equal(fwd, all) {
				t.Fatalf("forward order %v, want %v", fwd, all)
			}
			// Backward: start from the last page (prev=true with no offset).
			back := walk(t, e, l.role, base+q+"count=2&prev=true", "prev")
			checkOnce(t, back, all, "backward")
			want := slices.Clone(all)
			slices.Reverse(want)
			if !slices.Equal(back, want) {
				t.Fatalf("backward order %v, want %v", back, want)
			}
			desc := walk(t, e, l.role, base+q+"count=2&descending=true", "next")
			checkOnce(t, desc, all, "descending")
			if !slices.Equal(desc, want) {
				t.Fatalf("descending order %v, want %v", desc, want)
			}
			// From the middle, prev links lead back to the start.
			r := e.must(200, l.role, "GET", base+q+"count=2", nil)
			nx := links(r.header.Get("Link"))["next"]
			if len(all) > 2 && nx == "" {
				t.Fatal("no next link on the first page")
			}
			if nx != "" {
				r2 := e.must(200, l.role, "GET", nx, nil)
				pv := links(r2.header.Get("Link"))["prev"]
				if pv == "" || !strings.Contains(pv, "prev=true") {
					t.Fatalf("second page has no prev link: %q", r2.header.Get("Link"))
				}
				got := walk(t, e, l.role, pv, "prev")
				if !slices.Equal(got, want[len(want)-2:]) {
					t.Fatalf("prev from page 2: %v, want %v", got, want[len(want)-2:])
				}
			}
		})
	}
}

func serverJobBody(e *env, name string) map[string]any {
	return map[string]any{
		"name": name, "frequency": 24, "start_hour_utc": 3, "is_active": false,
		"hostname_attribute": "dNSHostName", "os_attribute": "operatingSystem",
		"rule_assignments": []map[string]any{{"base_dn": "OU=Servers,DC=corp,DC=example,DC=com",
			"ldap_query_filter": "(objectClass=computer)", "project_id": e.projectID(), "priority": 1}},
	}
}
