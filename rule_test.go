package opa_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// rulesEnv is a team with admins, two resource groups with projects and one connected AD
// connection, for the account, rule and matching tests.
type rulesEnv struct {
	e                *opa.Engine
	clock            *opa.ManualClock
	team             opa.Team
	sys              opa.Principal
	ra, sa, eu       opa.Principal
	dra1, dsa1, dra2 opa.Principal // delegated admins of rg1 (dra1, dsa1) and rg2 (dra2)
	other            opa.Principal // resource admin of another team
	rg1, rg2         opa.ResourceGroup
	p1a, p1b, p2     opa.Project
	conn             opa.ADConnection
	nextAcct         int
}

func newRulesEnv(t testing.TB) *rulesEnv {
	t.Helper()
	ctx := context.Background()
	clock := opa.NewManualClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(4))
	must(t, err)
	r := &rulesEnv{e: e, clock: clock}
	r.team, err = e.CreateTeam(ctx, "acme")
	must(t, err)
	r.sys = opa.SystemPrincipal(r.team)
	r.rg1, err = e.CreateResourceGroup(ctx, r.sys, "rg1", "")
	must(t, err)
	r.rg2, err = e.CreateResourceGroup(ctx, r.sys, "rg2", "")
	must(t, err)
	r.p1a, err = e.CreateProject(ctx, r.sys, r.rg1.ID, "p1a")
	must(t, err)
	r.p1b, err = e.CreateProject(ctx, r.sys, r.rg1.ID, "p1b")
	must(t, err)
	r.p2, err = e.CreateProject(ctx, r.sys, r.rg2.ID, "p2")
	must(t, err)
	r.ra = r.principal(t, "ra", opa.RoleGrant{Role: opa.RoleResourceAdmin})
	r.sa = r.principal(t, "sa", opa.RoleGrant{Role: opa.RoleSecurityAdmin})
	r.eu = r.principal(t, "eu", opa.RoleGrant{Role: opa.RoleEndUser})
	r.dra1 = r.principal(t, "dra1", opa.RoleGrant{Role: opa.RoleDelegatedResourceAdmin, ResourceGroupID: r.rg1.ID})
	r.dsa1 = r.principal(t, "dsa1", opa.RoleGrant{Role: opa.RoleDelegatedSecurityAdmin, ResourceGroupID: r.rg1.ID})
	r.dra2 = r.principal(t, "dra2", opa.RoleGrant{Role: opa.RoleDelegatedResourceAdmin, ResourceGroupID: r.rg2.ID})
	other, err := e.CreateTeam(ctx, "globex")
	must(t, err)
	_, err = e.CreateUser(ctx, opa.SystemPrincipal(other), opa.UserInput{Username: "ra", Roles: []opa.RoleGrant{{Role: opa.RoleResourceAdmin}}})
	must(t, err)
	r.other, err = e.PrincipalForUser(ctx, "globex", "ra")
	must(t, err)
	r.conn, err = e.CreateADConnection(ctx, r.ra, opa.ADConnectionInput{GatewayID: testGateway, Name: "corp", Domain: "corp.example.com"})
	must(t, err)
	return r
}

// principal creates a service user (not matchable) with the grants and returns its principal.
func (r *rulesEnv) principal(t testing.TB, name string, grants ...opa.RoleGrant) opa.Principal {
	t.Helper()
	ctx := context.Background()
	_, err := r.e.CreateUser(ctx, r.sys, opa.UserInput{Username: name, ServiceUser: true, Roles: grants})
	must(t, err)
	p, err := r.e.PrincipalForUser(ctx, r.team.Name, name)
	must(t, err)
	return p
}

// user creates a matchable user.
func (r *rulesEnv) user(t testing.TB, in opa.UserInput) opa.User {
	t.Helper()
	u, err := r.e.CreateUser(context.Background(), r.sys, in)
	must(t, err)
	return u
}

// addAccounts inserts accounts of the connection directly into the store (as an import would) and
// returns their ids.
func (r *rulesEnv) addAccounts(t testing.TB, accts ...storage.Account) []string {
	t.Helper()
	var ids []string
	err := r.e.Store().Update(context.Background(), func(tx storage.WriteTx) error {
		for _, a := range accts {
			r.nextAcct++
			a.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", r.nextAcct)
			a.TeamID, a.ConnectionID, a.Domain = r.team.ID, r.conn.ID, "corp.example.com"
			if a.SID == "" {
				a.SID = fmt.Sprintf("S-1-5-21-1-%d", r.nextAcct)
			}
			a.CreatedAt = r.clock.Now()
			if err := storage.Accounts.Insert(tx, &a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	})
	must(t, err)
	return ids
}

func (r *rulesEnv) account(t testing.TB, id string) storage.Account {
	t.Helper()
	var a *storage.Account
	err := r.e.Store().View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		a, err = storage.Accounts.Get(tx, id)
		return err
	})
	must(t, err)
	return *a
}

func (r *rulesEnv) rule(name, typ string, p opa.Project, ous ...string) opa.AccountRuleInput {
	return opa.AccountRuleInput{
		Name: name, RuleType: typ, OrganizationalUnits: ous,
		ResourceGroup: opa.NamedObject{ID: p.ResourceGroupID}, Project: opa.NamedObject{ID: p.ID},
	}
}

const base = "DC=corp,DC=example,DC=com"

func TestRuleEvaluation(t *testing.T) {
	ctx := context.Background()
	filt := func(field, op, v string) [][]opa.RuleFilter {
		return [][]opa.RuleFilter{{{Field: field, Operator: op, Value: v}}}
	}
	type rule struct {
		typ     string
		ous     []string
		filters [][]opa.RuleFilter
	}
	cases := []struct {
		name   string
		rules  []rule // priority order, all to p1a..p2 by index (0: p1a, 1: p1b, 2: p2)
		acct   storage.Account
		want   int // index of the managing rule, -1 for none
		wantTy string
	}{
		{"direct child", []rule{{"SHARED", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base, SAMAccountName: "svc"}, 0, "SHARED"},
		{"nested descendant", []rule{{"INDIVIDUAL", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Tier0,OU=Admins," + base, SAMAccountName: "svc"}, 0, "INDIVIDUAL"},
		{"case-insensitive DN", []rule{{"SHARED", []string{"ou=ADMINS,dc=Corp,dc=EXAMPLE,dc=com"}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=admins," + base}, 0, "SHARED"},
		{"spaces around separators", []rule{{"SHARED", []string{"OU=Admins, DC=corp, DC=example, DC=com"}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base}, 0, "SHARED"},
		{"RDN boundary: SubAdmins is not Admins", []rule{{"SHARED", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=SubAdmins," + base}, -1, ""},
		{"RDN boundary: value suffix", []rule{{"SHARED", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=xAdmins," + base}, -1, ""},
		{"other domain", []rule{{"SHARED", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins,DC=other,DC=com"}, -1, ""},
		{"OU itself is not inside itself", []rule{{"SHARED", []string{"CN=svc,OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base}, -1, ""},
		{"escaped comma in RDN", []rule{{"SHARED", []string{`OU=Ops\, EU,` + base}, nil}},
			storage.Account{DistinguishedName: `CN=svc,OU=Ops\, EU,` + base}, 0, "SHARED"},
		{"escaped comma is not a boundary", []rule{{"SHARED", []string{`OU=EU,` + base}, nil}},
			storage.Account{DistinguishedName: `CN=svc,OU=Ops\,EU,` + base}, -1, ""},
		{"lower priority number wins", []rule{
			{"SHARED", []string{base}, nil},
			{"INDIVIDUAL", []string{"OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base}, 0, "SHARED"},
		{"deeper OU does not beat priority", []rule{
			{"INDIVIDUAL", []string{"OU=Admins," + base}, nil},
			{"SHARED", []string{base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base}, 0, "INDIVIDUAL"},
		{"second OU of a rule", []rule{{"SHARED", []string{"OU=Users," + base, "OU=Admins," + base}, nil}},
			storage.Account{DistinguishedName: "CN=svc,OU=Admins," + base}, 0, "SHARED"},
		{"STARTS_WITH passes", []rule{{"SHARED", []string{base}, filt("account_name", "STARTS_WITH", "SVC_")}},
			storage.Account{DistinguishedName: "CN=x,OU=A," + base, SAMAccountName: "svc_backup"}, 0, "SHARED"},
		{"STARTS_WITH fails", []rule{{"SHARED", []string{base}, filt("account_name", "STARTS_WITH", "adm")}},
			storage.Account{DistinguishedName: "CN=x,OU=A," + base, SAMAccountName: "svc_backup"}, -1, ""},
		{"ENDS_WITH passes", []rule{{"SHARED", []string{base}, filt("account_name", "ENDS_WITH", "_BACKUP")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, 0, "SHARED"},
		{"ENDS_WITH fails", []rule{{"SHARED", []string{base}, filt("account_name", "ENDS_WITH", "svc")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, -1, ""},
		{"CONTAINS passes", []rule{{"SHARED", []string{base}, filt("account_name", "CONTAINS", "c_b")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, 0, "SHARED"},
		{"CONTAINS fails", []rule{{"SHARED", []string{base}, filt("account_name", "CONTAINS", "zz")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, -1, ""},
		{"EQUALS passes", []rule{{"SHARED", []string{base}, filt("account_name", "EQUALS", "SVC_Backup")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, 0, "SHARED"},
		{"EQUALS fails on a prefix", []rule{{"SHARED", []string{base}, filt("account_name", "EQUALS", "svc")}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, -1, ""},
		{"account_name falls back to the UPN", []rule{{"SHARED", []string{base}, filt("account_name", "STARTS_WITH", "svc@")}},
			storage.Account{DistinguishedName: "CN=x," + base, UPN: "svc@corp.example.com"}, 0, "SHARED"},
		{"okta_group_name any group", []rule{{"SHARED", []string{base}, filt("okta_group_name", "EQUALS", "dbas")}},
			storage.Account{DistinguishedName: "CN=x," + base, OktaGroupNames: []string{"Ops", "DBAs"}}, 0, "SHARED"},
		{"okta_group_name no group", []rule{{"SHARED", []string{base}, filt("okta_group_name", "CONTAINS", "dba")}},
			storage.Account{DistinguishedName: "CN=x," + base}, -1, ""},
		{"filters of one OU are ANDed", []rule{{"SHARED", []string{base}, [][]opa.RuleFilter{{
			{Field: "account_name", Operator: "STARTS_WITH", Value: "svc"},
			{Field: "account_name", Operator: "ENDS_WITH", Value: "prod"}}}}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "svc_backup"}, -1, ""},
		{"failing filter falls through to the next rule", []rule{
			{"SHARED", []string{base}, filt("account_name", "STARTS_WITH", "svc")},
			{"INDIVIDUAL", []string{base}, nil}},
			storage.Account{DistinguishedName: "CN=x," + base, SAMAccountName: "adm.jane"}, 1, "INDIVIDUAL"},
		{"filters are per OU", []rule{{"SHARED", []string{"OU=Users," + base, "OU=Admins," + base},
			[][]opa.RuleFilter{{{Field: "account_name", Operator: "EQUALS", Value: "nobody"}}, {}}}},
			storage.Account{DistinguishedName: "CN=x,OU=Admins," + base, SAMAccountName: "adm.jane"}, 0, "SHARED"},
		{"no rules", nil, storage.Account{DistinguishedName: "CN=x," + base}, -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRulesEnv(t)
			ids := r.addAccounts(t, tc.acct)
			projects := []opa.Project{r.p1a, r.p1b, r.p2}
			var ruleIDs []string
			for i, rl := range tc.rules {
				in := r.rule(fmt.Sprintf("r%d", i), rl.typ, projects[i], rl.ous...)
				in.EnhancedFilters = rl.filters
				got, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, in)
				must(t, err)
				ruleIDs = append(ruleIDs, got.ID)
			}
			// Settings changes re-evaluate too (and are the only trigger when there are no rules).
			must(t, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, opa.RuleSettings{}))
			a := r.account(t, ids[0])
			if tc.want < 0 {
				if a.RuleID != "" || a.AccountType != "" || a.ProjectID != "" || a.ResourceGroupID != "" || a.StatusDetail != opa.StatusUnmanaged {
					t.Fatalf("want unmanaged, got rule %q type %q project %q status %q", a.RuleID, a.AccountType, a.ProjectID, a.StatusDetail)
				}
				return
			}
			want := projects[tc.want]
			if a.RuleID != ruleIDs[tc.want] || a.AccountType != tc.wantTy || a.ProjectID != want.ID || a.ResourceGroupID != want.ResourceGroupID {
				t.Fatalf("got rule %q type %q project %q rg %q; want rule %d (%s) type %s", a.RuleID, a.AccountType, a.ProjectID, a.ResourceGroupID, tc.want, ruleIDs[tc.want], tc.wantTy)
			}
			if a.StatusDetail != opa.StatusMissingPassword || !a.BroughtUnderManagementAt.Equal(r.clock.Now()) {
				t.Fatalf("managed account: status %q brought %v; want MISSING_PASSWORD at %v", a.StatusDetail, a.BroughtUnderManagementAt, r.clock.Now())
			}
		})
	}
}

func TestRuleLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	ids := r.addAccounts(t,
		storage.Account{DistinguishedName: "CN=a,OU=Admins," + base, SAMAccountName: "a"},
		storage.Account{DistinguishedName: "CN=b,OU=Users," + base, SAMAccountName: "b", Credential: storage.CredentialState{Password: storage.Sealed("x")}},
		storage.Account{DistinguishedName: "CN=gone,OU=Users," + base, SAMAccountName: "gone", Missing: true},
	)
	admins, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("admins", "individual", r.p1a, "OU=Admins,"+base))
	must(t, err)
	if admins.Priority != 1 || admins.RuleType != "INDIVIDUAL" || admins.Project != (opa.NamedObject{ID: r.p1a.ID, Name: "p1a", Type: "project"}) ||
		admins.ResourceGroup != (opa.NamedObject{ID: r.rg1.ID, Name: "rg1", Type: "resource_group"}) {
		t.Fatalf("created rule %+v", admins)
	}
	all, err := r.e.CreateAccountRule(ctx, r.dra2, r.conn.ID, r.rule("all", "SHARED", r.p2, base))
	must(t, err)
	if all.Priority != 2 {
		t.Fatalf("second rule priority %d, want 2 (new rules go last)", all.Priority)
	}
	if a := r.account(t, ids[0]); a.RuleID != admins.ID {
		t.Fatalf("account a managed by %q, want admins", a.RuleID)
	}
	b := r.account(t, ids[1])
	if b.RuleID != all.ID || b.StatusDetail != opa.StatusVaulted || b.AccountType != "SHARED" {
		t.Fatalf("account b: rule %q status %q type %q; want all, VAULTED (it has a password), SHARED", b.RuleID, b.StatusDetail, b.AccountType)
	}
	if g := r.account(t, ids[2]); g.RuleID != "" || g.StatusDetail != "" {
		t.Fatalf("missing account was evaluated: %+v", g)
	}
	firstSeen := r.account(t, ids[0]).BroughtUnderManagementAt

	// Reorder: "all" first takes account a too.
	r.clock.Advance(time.Hour)
	got, err := r.e.ReorderAccountRules(ctx, r.ra, r.conn.ID, []opa.RulePriority{{RuleID: all.ID, Priority: 5}, {RuleID: admins.ID, Priority: 9}})
	must(t, err)
	if len(got) != 2 || got[0].ID != all.ID || got[0].Priority != 1 || got[1].Priority != 2 {
		t.Fatalf("reordered: %+v", got)
	}
	a := r.account(t, ids[0])
	if a.RuleID != all.ID || a.ProjectID != r.p2.ID || !a.BroughtUnderManagementAt.Equal(firstSeen) {
		t.Fatalf("after reorder account a: rule %q project %q brought %v; want all, p2, unchanged first time", a.RuleID, a.ProjectID, a.BroughtUnderManagementAt)
	}

	// Reorder errors change nothing.
	for name, tc := range map[string]struct {
		order []opa.RulePriority
		class error
	}{
		"empty":              {nil, opa.ErrInvalid},
		"missing rule id":    {[]opa.RulePriority{{Priority: 1}, {RuleID: admins.ID, Priority: 2}}, opa.ErrInvalid},
		"missing priority":   {[]opa.RulePriority{{RuleID: all.ID}, {RuleID: admins.ID, Priority: 2}}, opa.ErrInvalid},
		"duplicate rule":     {[]opa.RulePriority{{RuleID: all.ID, Priority: 1}, {RuleID: all.ID, Priority: 2}}, opa.ErrInvalid},
		"duplicate priority": {[]opa.RulePriority{{RuleID: all.ID, Priority: 1}, {RuleID: admins.ID, Priority: 1}}, opa.ErrInvalid},
		"unknown rule":       {[]opa.RulePriority{{RuleID: "nope", Priority: 1}, {RuleID: admins.ID, Priority: 2}}, opa.ErrInvalid},
		"stale list":         {[]opa.RulePriority{{RuleID: admins.ID, Priority: 1}}, opa.ErrConflict},
	} {
		t.Run("reorder "+name, func(t *testing.T) {
			_, err := r.e.ReorderAccountRules(ctx, r.ra, r.conn.ID, tc.order)
			wantErr(t, name, err, tc.class)
		})
	}
	if rules, _ := r.e.AccountRules(ctx, r.ra, r.conn.ID); rules[0].ID != all.ID {
		t.Fatalf("a failed reorder changed the order: %+v", rules)
	}

	// Update: "all" now only covers Users, so account a falls to admins again.
	in := r.rule("all", "SHARED", r.p2, "OU=Users,"+base)
	_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, all.ID, in)
	must(t, err)
	if a := r.account(t, ids[0]); a.RuleID != admins.ID || a.AccountType != "INDIVIDUAL" {
		t.Fatalf("after update account a: rule %q type %q", a.RuleID, a.AccountType)
	}
	if got, _ := r.e.AccountRule(ctx, r.sa, r.conn.ID, all.ID); got.Priority != 1 || len(got.OrganizationalUnits) != 1 {
		t.Fatalf("updated rule %+v: priority kept, one OU", got)
	}

	// Delete: priorities renumber, accounts of the deleted rule become unmanaged.
	must(t, r.e.DeleteAccountRule(ctx, r.ra, r.conn.ID, all.ID))
	if b := r.account(t, ids[1]); b.AccountType != "" || b.StatusDetail != opa.StatusUnmanaged || b.ProjectID != "" {
		t.Fatalf("after delete account b: %+v", b)
	}
	rules, err := r.e.AccountRules(ctx, r.ra, r.conn.ID)
	must(t, err)
	if len(rules) != 1 || rules[0].Priority != 1 {
		t.Fatalf("after delete rules %+v, want admins at priority 1", rules)
	}
	wantErr(t, "delete again", r.e.DeleteAccountRule(ctx, r.ra, r.conn.ID, all.ID), opa.ErrNotFound)
	_, err = r.e.AccountRule(ctx, r.ra, r.conn.ID, all.ID)
	wantErr(t, "get deleted", err, opa.ErrNotFound)

	// Rules cannot be created while the connection is disconnected; updates still work.
	must(t, r.e.UpdateConnectionStatus(ctx, r.ra, r.conn.ID, opa.ConnectionDisconnected))
	_, err = r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("x", "SHARED", r.p2, base))
	wantErr(t, "create while disconnected", err, opa.ErrConflict)
	_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, admins.ID, r.rule("admins", "SHARED", r.p1a, "OU=Admins,"+base))
	must(t, err)
}

func TestRuleBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	ids := r.addAccounts(t, storage.Account{DistinguishedName: "CN=a,OU=Admins," + base, SAMAccountName: "a"})
	ok, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("ok", "SHARED", r.p1a, base))
	must(t, err)
	before := r.account(t, ids[0])
	mod := func(f func(*opa.AccountRuleInput)) opa.AccountRuleInput {
		in := r.rule("new", "INDIVIDUAL", r.p2, "OU=Admins,"+base)
		f(&in)
		return in
	}
	filter := func(field, op, v string) func(*opa.AccountRuleInput) {
		return func(in *opa.AccountRuleInput) {
			in.EnhancedFilters = [][]opa.RuleFilter{{{Field: field, Operator: op, Value: v}}}
		}
	}
	for name, tc := range map[string]struct {
		in    opa.AccountRuleInput
		class error
	}{
		"empty name":          {mod(func(in *opa.AccountRuleInput) { in.Name = " " }), opa.ErrInvalid},
		"duplicate name":      {mod(func(in *opa.AccountRuleInput) { in.Name = "OK" }), opa.ErrConflict},
		"rule type":           {mod(func(in *opa.AccountRuleInput) { in.RuleType = "PERSONAL" }), opa.ErrInvalid},
		"no OU":               {mod(func(in *opa.AccountRuleInput) { in.OrganizationalUnits = nil }), opa.ErrInvalid},
		"OU not a DN":         {mod(func(in *opa.AccountRuleInput) { in.OrganizationalUnits = []string{"Admins"} }), opa.ErrInvalid},
		"OU bad escape":       {mod(func(in *opa.AccountRuleInput) { in.OrganizationalUnits = []string{`OU=Ad\zmins,DC=x`} }), opa.ErrInvalid},
		"OU twice":            {mod(func(in *opa.AccountRuleInput) { in.OrganizationalUnits = []string{base, "dc=CORP,dc=example,dc=com"} }), opa.ErrInvalid},
		"filters misaligned":  {mod(func(in *opa.AccountRuleInput) { in.EnhancedFilters = [][]opa.RuleFilter{{}, {}} }), opa.ErrInvalid},
		"filter field":        {mod(filter("cn", "EQUALS", "x")), opa.ErrInvalid},
		"filter operator":     {mod(filter("account_name", "STARTS WITH", "x")), opa.ErrInvalid},
		"filter empty value":  {mod(filter("account_name", "EQUALS", "")), opa.ErrInvalid},
		"no project":          {mod(func(in *opa.AccountRuleInput) { in.Project.ID = "" }), opa.ErrInvalid},
		"unknown project":     {mod(func(in *opa.AccountRuleInput) { in.Project.ID = "nope" }), opa.ErrInvalid},
		"unknown rg":          {mod(func(in *opa.AccountRuleInput) { in.ResourceGroup.ID = "nope" }), opa.ErrInvalid},
		"project of other rg": {mod(func(in *opa.AccountRuleInput) { in.Project.ID = r.p1a.ID }), opa.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, tc.in)
			wantErr(t, "create", err, tc.class)
			_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, ok.ID, tc.in)
			if name == "duplicate name" {
				must(t, err) // renaming a rule to its own name (any case) is fine
				_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, ok.ID, r.rule("ok", "SHARED", r.p1a, base))
				must(t, err)
				return
			}
			wantErr(t, "update", err, tc.class)
		})
	}
	rules, err := r.e.AccountRules(ctx, r.ra, r.conn.ID)
	must(t, err)
	if len(rules) != 1 || rules[0].Name != "ok" || rules[0].RuleType != "SHARED" {
		t.Fatalf("rules after bad input: %+v", rules)
	}
	after := r.account(t, ids[0])
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("bad input changed the account (-before +after):\n%s", diff)
	}
	_, err = r.e.CreateAccountRule(ctx, r.ra, "nope", r.rule("x", "SHARED", r.p1a, base))
	wantErr(t, "unknown connection", err, opa.ErrNotFound)
	for name, s := range map[string]opa.RuleSettings{
		"operator":    {PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: "CONTAINS", MatchValue: "x"}}},
		"empty value": {PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: "STARTS WITH"}}},
	} {
		wantErr(t, "settings "+name, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, s), opa.ErrInvalid)
	}
	if s, _ := r.e.AccountRuleSettings(ctx, r.ra, r.conn.ID); s.IsConfigured {
		t.Fatalf("bad settings were stored: %+v", s)
	}
}

func TestRuleRoles(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	in1 := r.rule("rg1 rule", "SHARED", r.p1a, base)
	forbidden := func(what string, err error) {
		t.Helper()
		wantErr(t, what, err, opa.ErrForbidden)
	}
	_, err := r.e.CreateAccountRule(ctx, r.eu, r.conn.ID, in1)
	forbidden("end user create", err)
	_, err = r.e.CreateAccountRule(ctx, r.sa, r.conn.ID, in1)
	forbidden("security admin create", err)
	_, err = r.e.CreateAccountRule(ctx, r.dra2, r.conn.ID, in1)
	forbidden("delegated admin of another rg", err)
	_, err = r.e.CreateAccountRule(ctx, opa.Principal{}, r.conn.ID, in1)
	wantErr(t, "unauthenticated", err, opa.ErrUnauthorized)
	_, err = r.e.CreateAccountRule(ctx, r.other, r.conn.ID, r.rule("x", "SHARED", r.p1a, base))
	if err == nil {
		t.Fatal("another team's admin created a rule")
	}
	rule1, err := r.e.CreateAccountRule(ctx, r.dra1, r.conn.ID, in1)
	must(t, err)
	_, err = r.e.UpdateAccountRule(ctx, r.dra2, r.conn.ID, rule1.ID, r.rule("moved", "SHARED", r.p2, base))
	forbidden("delegated admin moving another rg's rule", err)
	forbidden("delegated delete of another rg's rule", r.e.DeleteAccountRule(ctx, r.dra2, r.conn.ID, rule1.ID))
	_, err = r.e.ReorderAccountRules(ctx, r.dra1, r.conn.ID, []opa.RulePriority{{RuleID: rule1.ID, Priority: 1}})
	forbidden("delegated reorder", err)
	forbidden("delegated settings", r.e.ConfigureAccountRuleSettings(ctx, r.dra1, r.conn.ID, opa.RuleSettings{}))
	forbidden("security admin settings", r.e.ConfigureAccountRuleSettings(ctx, r.sa, r.conn.ID, opa.RuleSettings{}))
	_, err = r.e.AccountRules(ctx, r.eu, r.conn.ID)
	forbidden("end user list", err)
	_, err = r.e.AccountRuleSettings(ctx, r.eu, r.conn.ID)
	forbidden("end user settings", err)
	_, err = r.e.AccountRules(ctx, r.other, r.conn.ID)
	wantErr(t, "other team list", err, opa.ErrNotFound)
	for _, p := range []opa.Principal{r.ra, r.sa, r.dra1, r.dra2} {
		if rules, err := r.e.AccountRules(ctx, p, r.conn.ID); err != nil || len(rules) != 1 {
			t.Fatalf("%s lists rules: %d, %v", p.Username, len(rules), err)
		}
	}
	must(t, r.e.DeleteAccountRule(ctx, r.dra1, r.conn.ID, rule1.ID))
}

// TestRuleEvaluationOverEscapedDNs runs rule evaluation over OUs and account DNs written with
// RFC 4514 escapes (\=, \,, \+, \\, hex), escaped spaces, case and multi-valued RDNs. An account
// must be managed by the first rule (in priority order) whose OU go-ldap's parser reads as a strict
// ancestor of the account's DN under distinguishedNameMatch, and by no rule when there is none.
func TestRuleEvaluationOverEscapedDNs(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	ous := []string{
		`OU=a\=b,DC=x`, `OU=a\,b,DC=x`, `OU=a\+b+CN=c,DC=x`, `OU=a\\b,DC=x`, `OU=J\c3\b6rg,DC=x`,
		`OU=\ lead,DC=x`, `OU=trail\ ,DC=x`, `OU=\#h,DC=x`, `DC=x`,
	}
	dns := []string{
		`CN=u1,ou=a=b,dc=x`, `CN=u2,OU=a\3db,DC=X`, `CN=u3,OU=a\3dc,DC=x`, `CN=u4,OU=A\2CB,DC=x`,
		`CN=u5,OU=ab,DC=x`, `CN=u6,cn=C+ou=A\2bB,dc=x`, `CN=u7,OU=a\+b,DC=x`, `CN=u8,OU=a\5cb,DC=x`,
		`CN=u9,OU=jÖRG,DC=x`, `CN=u10,OU=\20lead,DC=x`, `CN=u11,OU=lead,DC=x`, `CN=u12,OU=trail\20,DC=x`,
		`CN=u13,OU=\23h,DC=x`, `CN=u14,OU=a\,b,DC=y`, `OU=a=b,DC=x`, `CN=u\,15,OU=a\=b,DC=x`,
		`CN=u16,OU=sub,OU=a\=b,DC=x`, `CN=u17,DC=y`,
	}
	var accts []storage.Account
	for i, dn := range dns {
		accts = append(accts, storage.Account{SAMAccountName: fmt.Sprintf("u%d", i), DistinguishedName: dn})
	}
	ids := r.addAccounts(t, accts...)
	var ruleIDs []string
	for i, ou := range ous {
		rule, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule(fmt.Sprintf("r%d", i), "SHARED", r.p1a, ou))
		must(t, err)
		ruleIDs = append(ruleIDs, rule.ID)
	}
	for i, dn := range dns {
		want := ""
		for j, ou := range ous {
			o, err1 := ldap.ParseDN(ou)
			d, err2 := ldap.ParseDN(dn)
			if err1 != nil || err2 != nil {
				t.Fatalf("go-ldap: %v %v", err1, err2)
			}
			if o.AncestorOfFold(d) {
				want = ruleIDs[j]
				break
			}
		}
		if got := r.account(t, ids[i]).RuleID; got != want {
			t.Errorf("%s: managed by rule %q, go-ldap says %q", dn, got, want)
		}
	}
}
