package opa

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

func ident(s string) string { return s }

// walk follows Next links from the first page (or Prev links from the last, when backward) and
// returns every item seen in order.
func walk(t *rapid.T, items []string, count int, desc, backward bool) []string {
	req := PageRequest{Count: count, Descending: desc, Prev: backward}
	var seen []string
	for pages := 0; ; pages++ {
		if pages > len(items)+2 {
			t.Fatalf("paging does not terminate")
		}
		p, err := paginate(items, ident, req)
		if err != nil {
			t.Fatal(err)
		}
		if backward {
			seen = append(slices.Clone(p.Items), seen...)
			if p.Prev == "" {
				return seen
			}
			req.Offset = p.Prev
		} else {
			seen = append(seen, p.Items...)
			if p.Next == "" {
				return seen
			}
			req.Offset = p.Next
		}
	}
}

func TestPaginateWalksEveryItemOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		items := rapid.SliceOfDistinct(rapid.StringMatching(`[a-f0-9]{1,4}`), ident).Draw(t, "items")
		count := rapid.IntRange(1, 7).Draw(t, "count")
		desc := rapid.Bool().Draw(t, "desc")
		backward := rapid.Bool().Draw(t, "backward")
		want := slices.Clone(items)
		slices.Sort(want)
		if desc {
			slices.Reverse(want)
		}
		got := walk(t, items, count, desc, backward)
		if !slices.Equal(got, want) {
			t.Fatalf("walk gave %v, want %v", got, want)
		}
	})
}

func TestPaginateDeletedOffset(t *testing.T) {
	items := []string{"a", "b", "d", "e"} // "c" was on the previous page and has been deleted
	p, err := paginate(items, ident, PageRequest{Count: 2, Offset: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Items, []string{"d", "e"}) || p.Next != "" || p.Prev != "d" {
		t.Fatalf("page after deleted offset = %+v", p)
	}
	p, err = paginate(items, ident, PageRequest{Count: 2, Offset: "c", Prev: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Items, []string{"a", "b"}) || p.Next != "b" || p.Prev != "" {
		t.Fatalf("page before deleted offset = %+v", p)
	}
}

func TestPaginateBadRequest(t *testing.T) {
	for _, req := range []PageRequest{{Count: -1}, {Count: MaxPageCount + 1}, {Offset: fmt.Sprintf("%0300d", 0)}} {
		if _, err := paginate([]string{"a"}, ident, req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: got %v, want invalid", req, err)
		}
	}
	p, err := paginate(nil, ident, PageRequest{})
	if err != nil || p.Items == nil || len(p.Items) != 0 || p.Next != "" || p.Prev != "" {
		t.Fatalf("empty list page = %+v, %v", p, err)
	}
}

// TestRangePageMatchesPaginate walks random pages of random lists (the accounts of a team, a
// connection or a project, with or without a filter no index serves) through rangePage, following the Next and Prev links it
// gives or jumping to random cursors (ids that exist, that were deleted, that never did), and
// compares every page with paginate over the whole filtered list, sorted (the reference).
func TestRangePageMatchesPaginate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		st := memstore.New()
		ids := rapid.SliceOfDistinct(rapid.StringMatching(`[a-f0-9]{1,3}`), ident).Draw(t, "ids")
		recs := make(map[string]*storage.Account, len(ids))
		err := st.Update(ctx, func(tx storage.WriteTx) error {
			for i, id := range ids {
				a := &storage.Account{ID: id, TeamID: fmt.Sprint("t", i%3/2), ConnectionID: fmt.Sprint("c", i%2), ProjectID: fmt.Sprint("p", i%3), SID: id,
					SAMAccountName: rapid.StringMatching(`[xyz]{0,3}`).Draw(t, "sam")}
				recs[id] = a
				if err := storage.Accounts.Insert(tx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for step := range rapid.IntRange(1, 12).Draw(t, "steps") {
			// The list: the accounts of a team, a connection or a project (some with none).
			lists := []struct {
				index storage.IndexName[storage.Account]
				key   string
				of    func(*storage.Account) string
			}{
				{storage.AccountsByTeam, "t0", func(a *storage.Account) string { return a.TeamID }},
				{storage.AccountsByTeam, "t1", func(a *storage.Account) string { return a.TeamID }},
				{storage.AccountsByConnection, "c0", func(a *storage.Account) string { return a.ConnectionID }},
				{storage.AccountsByConnection, "c2", func(a *storage.Account) string { return a.ConnectionID }},
				{storage.AccountsByProject, "p1", func(a *storage.Account) string { return a.ProjectID }},
			}
			list := lists[rapid.IntRange(0, len(lists)-1).Draw(t, "list")]
			conn := list.key
			sub := rapid.SampledFrom([]string{"", "x", "zz"}).Draw(t, "filter")
			keep := func(a *storage.Account) bool { return strings.Contains(a.SAMAccountName, sub) }
			var ref []string
			for _, a := range recs {
				if list.of(a) == conn && keep(a) {
					ref = append(ref, a.ID)
				}
			}
			src := pageSource[storage.Account]{table: storage.Accounts, index: list.index, args: []string{conn},
				in: func(a *storage.Account) bool { return list.of(a) == conn }, borrow: rapid.Bool().Draw(t, "borrow")}
			if sub != "" {
				src.keep = keep
			}
			req := PageRequest{Count: rapid.IntRange(0, 5).Draw(t, "count"), Descending: rapid.Bool().Draw(t, "desc"), Prev: rapid.Bool().Draw(t, "prev")}
			switch rapid.IntRange(0, 2).Draw(t, "cursor") {
			case 1:
				req.Offset = rapid.StringMatching(`[a-f0-9]{1,3}`).Draw(t, "offset")
			case 2:
				if len(ids) > 0 {
					req.Offset = rapid.SampledFrom(ids).Draw(t, "offset")
				}
			}
			for hop := 0; hop < 4; hop++ {
				want, err := paginate(ref, ident, req)
				if err != nil {
					t.Fatal(err)
				}
				var got Page[string]
				err = st.View(ctx, func(tx storage.ReadTx) error {
					got, err = rangePage(tx, src, req, func(a *storage.Account) string { return a.ID }, func(a *storage.Account) string { return a.ID })
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("step %d hop %d, %s filter %q, %+v (-paginate +rangePage):\n%s", step, hop, conn, sub, req, diff)
				}
				if got.Next != "" && (got.Prev == "" || rapid.Bool().Draw(t, "forward")) {
					req.Offset, req.Prev = got.Next, false
				} else if got.Prev != "" {
					req.Offset, req.Prev = got.Prev, true
				} else {
					break
				}
			}
			if len(ids) > 0 && rapid.Bool().Draw(t, "delete") { // a cursor may name a deleted record
				id := rapid.SampledFrom(ids).Draw(t, "deleted")
				if _, ok := recs[id]; ok {
					delete(recs, id)
					if err := st.Update(ctx, func(tx storage.WriteTx) error { return storage.Accounts.Delete(tx, id) }); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

// TestEngineListsMatchPaginate walks random pages of the engine's directory and project lists
// (ListUsers, GroupMembers, ListGroups, ListASAProjects, ListProjectGroups, SecurityPolicies), each
// a range read (rangePage) with its filters, over random records of two teams, and compares every
// page with the reference: every record of the list read and filtered, then paginate (the sort
// everything these lists did before they read one range).
func TestEngineListsMatchPaginate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		st := memstore.New()
		e, err := New(st)
		if err != nil {
			t.Fatal(err)
		}
		ids := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-f0-9]{1,3}`), 1, -1, ident).Draw(t, "ids")
		team := func(i int) string { return fmt.Sprint("t", i%3/2) } // two thirds in t0
		groupIDs := []string{"g0", "g1", "g2", "g3"}
		mark := func(t *rapid.T, label string) time.Time {
			if rapid.Bool().Draw(t, label) {
				return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			return time.Time{}
		}
		var (
			users    []*storage.User
			groups   []*storage.Group
			projects []*storage.Project
			assigns  []*storage.ProjectGroup
			policies []*storage.Policy
		)
		for _, g := range groupIDs {
			groups = append(groups, &storage.Group{ID: g, TeamID: "t0", Name: "group-" + g})
		}
		for i, id := range ids {
			tag := rapid.StringMatching(`[xyz]{0,2}`).Draw(t, "tag")
			switch rapid.IntRange(0, 4).Draw(t, "kind") {
			case 0:
				users = append(users, &storage.User{ID: id, TeamID: team(i), Username: tag + "u" + id,
					Status:      rapid.SampledFrom([]string{UserActive, UserDisabled, UserDeleted}).Draw(t, "status"),
					ServiceUser: rapid.Bool().Draw(t, "service"),
					GroupIDs:    rapid.SliceOfDistinct(rapid.SampledFrom(groupIDs), ident).Draw(t, "groups")})
			case 1:
				groups = append(groups, &storage.Group{ID: id, TeamID: team(i), Name: tag + "g" + id, DeletedAt: mark(t, "deleted")})
			case 2:
				pr := &storage.Project{ID: id, TeamID: team(i), Name: tag + "p" + id, DeletedAt: mark(t, "deleted")}
				if rapid.Bool().Draw(t, "asa") {
					pr.ASAName = pr.Name
				} else {
					pr.ResourceGroupID = "rg-" + team(i)
				}
				projects = append(projects, pr)
			case 3:
				policies = append(policies, &storage.Policy{ID: id, TeamID: team(i), Name: tag + "n" + id,
					Description: rapid.StringMatching(`[xyz]{0,2}`).Draw(t, "description")})
			default:
				assigns = append(assigns, &storage.ProjectGroup{ID: id, TeamID: "t0",
					ProjectID: rapid.SampledFrom([]string{"P0", "P1"}).Draw(t, "project"), GroupID: rapid.SampledFrom(groupIDs).Draw(t, "group"),
					CreateServerGroup: rapid.Bool().Draw(t, "csg"), ServersSelector: rapid.SampledFrom([]string{"", "env=x"}).Draw(t, "selector"),
					RemovedAt: mark(t, "removed")})
			}
		}
		// The two projects the assignments name: ASA projects of t0 (their ids sort before the
		// drawn ones, which are lowercase).
		projects = append(projects, &storage.Project{ID: "P0", TeamID: "t0", Name: "zz-p0", ASAName: "zz-p0"},
			&storage.Project{ID: "P1", TeamID: "t0", Name: "zz-p1", ASAName: "zz-p1"})
		assigns = slices.DeleteFunc(assigns, func(a *storage.ProjectGroup) bool { // one per project and group
			return slices.ContainsFunc(assigns, func(b *storage.ProjectGroup) bool {
				return b.ID < a.ID && b.ProjectID == a.ProjectID && b.GroupID == a.GroupID
			})
		})
		err = st.Update(ctx, func(tx storage.WriteTx) error {
			for _, u := range users {
				if err := storage.Users.Insert(tx, u); err != nil {
					return err
				}
			}
			for _, g := range groups {
				if err := storage.Groups.Insert(tx, g); err != nil {
					return err
				}
			}
			for _, pr := range projects {
				if err := storage.Projects.Insert(tx, pr); err != nil {
					return err
				}
			}
			for _, pg := range assigns {
				if err := storage.ProjectGroups.Insert(tx, pg); err != nil {
					return err
				}
			}
			for _, pol := range policies {
				if err := storage.Policies.Insert(tx, pol); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p := Principal{TeamID: "t0", UserID: "caller", Username: "caller",
			GroupIDs: rapid.SliceOfDistinct(rapid.SampledFrom(groupIDs), ident).Draw(t, "caller groups"),
			Roles:    []RoleGrant{{Role: RolePAMAdmin}, {Role: RoleResourceAdmin}, {Role: RoleSecurityAdmin}}}
		sub := func(t *rapid.T) string { return rapid.SampledFrom([]string{"", "x", "yz"}).Draw(t, "contains") }
		userFilter := func(t *rapid.T) UserFilter {
			f := UserFilter{Contains: sub(t), Humans: rapid.Bool().Draw(t, "humans"), Services: rapid.Bool().Draw(t, "services")}
			if rapid.Bool().Draw(t, "starts") {
				f.StartsWith = rapid.SampledFrom([]string{"x", "u"}).Draw(t, "starts with")
			}
			if rapid.Bool().Draw(t, "statuses") {
				f.Statuses = []string{UserActive}
			}
			if rapid.Bool().Draw(t, "by ids") {
				f.IDs = rapid.SliceOfN(rapid.SampledFrom(ids), 1, 4).Draw(t, "filter ids")
			}
			return f
		}
		// Each list: the engine's page and the reference page for one request.
		type list struct {
			name      string
			got, want func(PageRequest) (Page[string], error)
		}
		ref := func(keep func(id string) bool) func(PageRequest) (Page[string], error) {
			return func(req PageRequest) (Page[string], error) {
				var all []string
				for _, id := range append(slices.Concat(ids, groupIDs), "P0", "P1") {
					if keep(id) {
						all = append(all, id)
					}
				}
				return paginate(all, ident, req)
			}
		}
		find := func(id string) (u *storage.User, g *storage.Group, pr *storage.Project, pg *storage.ProjectGroup, pol *storage.Policy) {
			for _, x := range users {
				if x.ID == id {
					u = x
				}
			}
			for _, x := range groups {
				if x.ID == id {
					g = x
				}
			}
			for _, x := range projects {
				if x.ID == id {
					pr = x
				}
			}
			for _, x := range assigns {
				if x.ID == id {
					pg = x
				}
			}
			for _, x := range policies {
				if x.ID == id {
					pol = x
				}
			}
			return
		}
		var l list
		switch rapid.IntRange(0, 5).Draw(t, "list") {
		case 0:
			f := userFilter(t)
			l = list{"ListUsers", func(req PageRequest) (Page[string], error) {
				pg, err := e.ListUsers(ctx, p, f, req)
				return idsOf(pg, func(u User) string { return u.ID }), err
			}, ref(func(id string) bool { u, _, _, _, _ := find(id); return u != nil && u.TeamID == "t0" && f.keep(u) })}
		case 1:
			f, g := userFilter(t), rapid.SampledFrom(groupIDs).Draw(t, "group")
			l = list{"GroupMembers", func(req PageRequest) (Page[string], error) {
				pg, err := e.GroupMembers(ctx, p, "group-"+g, f, req)
				return idsOf(pg, func(u User) string { return u.ID }), err
			}, ref(func(id string) bool {
				u, _, _, _, _ := find(id)
				return u != nil && slices.Contains(u.GroupIDs, g) && f.keep(u)
			})}
		case 2:
			f := GroupFilter{Contains: sub(t), IncludeDeleted: rapid.Bool().Draw(t, "include deleted"), OnlyDeleted: rapid.Bool().Draw(t, "only deleted")}
			if rapid.Bool().Draw(t, "ignore") {
				f.Ignore = []string{"group-g0", "group-g2"}
			}
			l = list{"ListGroups", func(req PageRequest) (Page[string], error) {
				pg, err := e.ListGroups(ctx, p, f, req)
				return idsOf(pg, func(g Group) string { return g.ID }), err
			}, ref(func(id string) bool {
				_, g, _, _, _ := find(id)
				return g != nil && g.TeamID == "t0" && f.keep(g)
			})}
		case 3:
			f := ASAProjectFilter{Contains: sub(t), Self: rapid.Bool().Draw(t, "self")}
			l = list{"ListASAProjects", func(req PageRequest) (Page[string], error) {
				pg, err := e.ListASAProjects(ctx, p, f, req)
				return idsOf(pg, func(a ASAProject) string { return a.ID }), err
			}, ref(func(id string) bool {
				_, _, pr, _, _ := find(id)
				if pr == nil || pr.TeamID != "t0" || pr.ASAName == "" || !pr.DeletedAt.IsZero() ||
					!strings.Contains(strings.ToLower(pr.Name), f.Contains) {
					return false
				}
				return !f.Self || slices.ContainsFunc(assigns, func(a *storage.ProjectGroup) bool {
					return a.ProjectID == pr.ID && a.RemovedAt.IsZero() && slices.Contains(p.GroupIDs, a.GroupID)
				})
			})}
		case 4:
			f := ProjectGroupFilter{IncludeRemoved: rapid.Bool().Draw(t, "removed"), CreateServerGroup: rapid.Bool().Draw(t, "csg"),
				HasSelectors: rapid.Bool().Draw(t, "selectors"), HasNoSelectors: rapid.Bool().Draw(t, "no selectors")}
			proj := rapid.SampledFrom([]string{"P0", "P1"}).Draw(t, "project")
			l = list{"ListProjectGroups", func(req PageRequest) (Page[string], error) {
				pg, err := e.ListProjectGroups(ctx, p, "zz-"+strings.ToLower(proj), f, req)
				return idsOf(pg, func(a ProjectGroup) string { return a.ID }), err
			}, ref(func(id string) bool {
				_, _, _, a, _ := find(id)
				return a != nil && a.ProjectID == proj && (f.IncludeRemoved || a.RemovedAt.IsZero()) &&
					(!f.CreateServerGroup || a.CreateServerGroup) && (!f.HasSelectors || a.ServersSelector != "") &&
					(!f.HasNoSelectors || a.ServersSelector == "")
			})}
		default:
			contains := sub(t)
			l = list{"SecurityPolicies", func(req PageRequest) (Page[string], error) {
				pg, err := e.SecurityPolicies(ctx, p, contains, req)
				return idsOf(pg, func(sp SecurityPolicy) string { return sp.ID }), err
			}, ref(func(id string) bool {
				_, _, _, _, pol := find(id)
				return pol != nil && pol.TeamID == "t0" &&
					(strings.Contains(pol.Name, contains) || strings.Contains(pol.Description, contains))
			})}
		}
		req := PageRequest{Count: rapid.IntRange(0, 4).Draw(t, "count"), Descending: rapid.Bool().Draw(t, "desc"), Prev: rapid.Bool().Draw(t, "prev")}
		switch rapid.IntRange(0, 2).Draw(t, "cursor") {
		case 1:
			req.Offset = rapid.StringMatching(`[a-f0-9]{1,3}`).Draw(t, "offset")
		case 2:
			req.Offset = rapid.SampledFrom(ids).Draw(t, "offset")
		}
		for hop := 0; hop < 6; hop++ {
			want, err := l.want(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.got(req)
			if err != nil {
				t.Fatalf("%s %+v: %v", l.name, req, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s hop %d, %+v (-reference +engine):\n%s", l.name, hop, req, diff)
			}
			if got.Next != "" && (got.Prev == "" || rapid.Bool().Draw(t, "forward")) {
				req.Offset, req.Prev = got.Next, false
			} else if got.Prev != "" {
				req.Offset, req.Prev = got.Prev, true
			} else {
				break
			}
		}
	})
}

// idsOf is the page of the ids of p's items.
func idsOf[T any](p Page[T], id func(T) string) Page[string] {
	out := Page[string]{Items: make([]string, len(p.Items)), Next: p.Next, Prev: p.Prev}
	for i, it := range p.Items {
		out.Items[i] = id(it)
	}
	return out
}
