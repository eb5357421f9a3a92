package httpapi_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
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
	ID         string `json:"id"`
	ResourceID string `json:"resource_id"`
	Account    *struct {
		ID string `json:"id"`
	} `json:"account"`
}

func (i idItem) id() string {
	if i.ID == "" && i.Account != nil {
		return i.Account.ID
	}
	if i.ID == "" {
		return i.ResourceID
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
		if next == "" && r.header.Get("Link") != "" {
			// The provider's loops follow any Link there is (issue 17 A3).
			t.Fatalf("the last page %s carries a Link without rel=%q: %q", u, rel, r.header.Get("Link"))
		}
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

	// Two checkouts by the end user: reveal both shared service accounts (the policy requires
	// checkout).
	var eu struct {
		List []idItem `json:"list"`
	}
	e.must(200, "end_user", "GET", "/active_directory/"+conn+"/accounts", nil).json(t, &eu)
	checkedOut := 0
	for _, a := range eu.List {
		acct := "/active_directory/" + conn + "/accounts/" + a.id()
		var uams struct {
			List []map[string]any `json:"list"`
		}
		e.must(200, "end_user", "GET", acct+"/user_access_methods?privilege_type=reveal_password", nil).json(t, &uams)
		if len(uams.List) == 0 {
			continue
		}
		e.must(200, "end_user", "POST", acct+"/reveal_credentials", map[string]any{"public_key": rsaJWK(t), "user_access_method": uams.List[0]})
		checkedOut++
	}
	if checkedOut < 2 {
		t.Fatalf("checked out %d accounts, want 2", checkedOut)
	}
	svcPrj := e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]

	lists := []struct {
		name, role, path, filter string
	}{
		{"checked out (self)", "end_user", "/checked_out_resources", "resource_type=active_directory_account_password_login"},
		{"checked out (project)", "all", "/resource_groups/" + e.rgID() + "/projects/" + svcPrj + "/checked_out_resources", ""},
		{"opa connections", "all", "/connections/active_directory", ""},
		{"asa connections", "all", "/integrations/ad_connections", ""},
		{"user sync jobs", "all", "/integrations/ad_connections/" + conn + "/user_sync_task_settings", "status=INACTIVE"},
		{"server sync jobs", "all", "/integrations/ad_connections/" + conn + "/task_settings", ""},
		{"server sync results", "all", "/integrations/ad_connections/" + conn + "/task_settings/" + sjob + "/results", ""},
		{"user sync results", "all", "/integrations/ad_connections/" + conn + "/user_sync_task_settings/" + job + "/results", ""},
		{"discovered accounts", "all", "/resource_assignment/active_directory/" + conn + "/accounts", ""},
		{"all accounts", "all", "/all_active_directory_accounts", "contains=corp"},
		{"resource group accounts", "all", "/resource_groups/" + e.rgID() + "/all_active_directory_accounts", ""},
		{"project accounts", "all", "/resource_groups/" + e.rgID() + "/projects/" + e.srv.Loaded().Team("demo").Projects["infra/service-accounts"] + "/active_directory_accounts", ""},
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
			// Checked-out lists are ordered by their checkout's id, which the wire does not show.
			if !strings.HasPrefix(l.name, "checked out") && !slices.IsSorted(all) {
				t.Fatalf("not in id order: %v", all)
			}
			size := "2"
			if len(all) <= 3 {
				size = "1" // still several pages
			}
			fwd := walk(t, e, l.role, base+q+"count="+size, "next")
			checkOnce(t, fwd, all, "forward")
			if !slices.Equal(fwd, all) {
				t.Fatalf("forward order %v, want %v", fwd, all)
			}
			// Backward: start from the last page (prev=true with no offset).
			back := walk(t, e, l.role, base+q+"count="+size+"&prev=true", "prev")
			checkOnce(t, back, all, "backward")
			want := slices.Clone(all)
			slices.Reverse(want)
			if !slices.Equal(back, want) {
				t.Fatalf("backward order %v, want %v", back, want)
			}
			desc := walk(t, e, l.role, base+q+"count="+size+"&descending=true", "next")
			checkOnce(t, desc, all, "descending")
			if !slices.Equal(desc, want) {
				t.Fatalf("descending order %v, want %v", desc, want)
			}
			// From the middle, prev links lead back to the start.
			r := e.must(200, l.role, "GET", base+q+"count="+size, nil)
			nx := links(r.header.Get("Link"))["next"]
			if n, _ := strconv.Atoi(size); len(all) > n && nx == "" {
				t.Fatal("no next link on the first page")
			}
			if nx != "" && len(all) > 2*mustAtoi(t, size) {
				r2 := e.must(200, l.role, "GET", nx, nil)
				pv := links(r2.header.Get("Link"))["prev"]
				if pv == "" || !strings.Contains(pv, "prev=true") {
					t.Fatalf("second page has no prev link: %q", r2.header.Get("Link"))
				}
				got := walk(t, e, l.role, pv, "prev")
				n, _ := strconv.Atoi(size)
				if !slices.Equal(got, want[len(want)-n:]) {
					t.Fatalf("prev from page 2: %v, want %v", got, want[len(want)-n:])
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

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
