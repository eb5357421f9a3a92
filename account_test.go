package opa_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

func TestAccountViews(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	jane := r.user(t, opa.UserInput{Username: "jane.doe"})
	expires := r.clock.Now().Add(30 * time.Minute)
	ids := r.addAccounts(t,
		storage.Account{DistinguishedName: "CN=adm.jane,OU=Admins," + base, SAMAccountName: "jane.doe", UPN: "adm.jane@corp.example.com",
			FirstName: "Jane", LastName: "Doe", DisplayName: "Jane Doe", Email: "jane@example.com",
			Credential: storage.CredentialState{Password: storage.Sealed("sealed"), LastRotationAt: r.clock.Now().Add(-time.Hour), SuccessCount: 3,
				ErrorCount: 1, LastErrorType: "TIMEOUT", NextRotationAt: r.clock.Now().Add(24 * time.Hour), NextRotationReason: "periodic"},
			Lease: storage.LeaseState{Status: "checked_out", UserID: jane.ID, ExpiresAt: expires}},
		storage.Account{DistinguishedName: "CN=svc,OU=Service," + base, SAMAccountName: "svc_web", UPN: "svc_web@corp.example.com"},
		storage.Account{DistinguishedName: "CN=x,OU=Other," + base, SAMAccountName: "other"},
		storage.Account{DistinguishedName: "CN=gone,OU=Admins," + base, SAMAccountName: "gone", Missing: true},
	)
	admin, svc, other := ids[0], ids[1], ids[2]
	must(t, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Username: true}}))
	_, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("admins", "INDIVIDUAL", r.p1a, "OU=Admins,"+base))
	must(t, err)
	_, err = r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("service", "SHARED", r.p2, "OU=Service,"+base))
	must(t, err)
	// The next scheduled rotation shown is the one Tick acts on: the project's periodic rotation.
	_, err = r.e.UpdateProjectPasswordPolicy(ctx, r.sa, r.rg1.ID, r.p1a.ID, opa.SettingsAD, opa.ProjectPasswordPolicy{
		EnablePeriodicRotation: true, PeriodicRotationDurationInSeconds: 86400,
		CharacterOptions: opa.PasswordCharacterOptions{LowerCase: true, Digits: true}, MinLengthInBytes: 16, MaxLengthInBytes: 20})
	must(t, err)

	d, err := r.e.GetADAccount(ctx, r.ra, r.conn.ID, admin)
	must(t, err)
	brought := r.clock.Now()
	lastRot := r.clock.Now().Add(-time.Hour)
	next := r.clock.Now().Add(24 * time.Hour)
	want := opa.ADAccountDetails{
		ADAccount: opa.ADAccount{
			ID: admin, AccountName: "jane.doe", AccountType: "INDIVIDUAL", MatchStatus: "MATCH",
			LastRotationAt: &lastRot, BroughtUnderManagementAt: &brought,
			ResourceGroup:     &opa.NamedObject{ID: r.rg1.ID, Name: "rg1", Type: "resource_group"},
			Project:           &opa.NamedObject{ID: r.p1a.ID, Name: "p1a", Type: "project"},
			MatchedUser:       &opa.NamedObject{ID: jane.ID, Name: "jane.doe", Type: "user"},
			Domain:            &opa.NamedObject{ID: r.conn.ID, Name: "corp.example.com", Type: "active_directory_connection"},
			DistinguishedName: "CN=adm.jane,OU=Admins," + base, UPN: "adm.jane@corp.example.com", SID: "S-1-5-21-1-1",
			SAMAccountName: "jane.doe", FirstName: "Jane", LastName: "Doe", DisplayName: "Jane Doe", Email: "jane@example.com",
			AccountStatusDetail: "VAULTED",
		},
		NextScheduledPasswordRotationTimestamp: &next, NextScheduledPasswordRotationReason: "PERIODIC_ROTATION",
		CheckoutStatus: "checked_out", LastCheckoutUser: "jane.doe", CheckoutExpiryAt: &expires,
		PasswordChangeSuccessCount: 3, PasswordChangeErrorCount: 1, LastPasswordChangeErrorType: "TIMEOUT",
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("account details (-want +got):\n%s", diff)
	}
	body, err := json.Marshal(d)
	must(t, err)
	for _, key := range []string{`"account_name":"jane.doe"`, `"match_status":"MATCH"`, `"checkout_status":"checked_out"`, `"password_change_success_count":3`, `"matched_user":{"id":`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("wire JSON lacks %s: %s", key, body)
		}
	}
	if strings.Contains(string(body), "sealed") {
		t.Fatal("the vaulted password leaked into the view")
	}
	if d, _ := r.e.GetADAccount(ctx, r.sa, r.conn.ID, other); d.CheckoutStatus != "unavailable" || d.AccountStatusDetail != "UNMANAGED" || d.Project != nil {
		t.Fatalf("unmanaged account view %+v", d)
	}

	// Discovered list: filter by UPN, sAMAccountName or assigned user; paging; missing left out.
	list := func(p opa.Principal, q opa.DiscoveredQuery) []string {
		t.Helper()
		pg, err := r.e.DiscoveredADAccounts(ctx, p, r.conn.ID, q)
		must(t, err)
		var out []string
		for _, a := range pg.Items {
			out = append(out, a.ID)
		}
		return out
	}
	if got := list(r.ra, opa.DiscoveredQuery{}); !cmp.Equal(got, []string{admin, svc, other}) {
		t.Fatalf("discovered %v", got)
	}
	for q, want := range map[string][]string{"ADM.JANE@": {admin}, "svc_w": {svc}, "E.D": {admin}, "zzz": nil, "OTHER": {other}} {
		if got := list(r.sa, opa.DiscoveredQuery{ContainsAccountNameOrAssignedOPAUser: q}); !cmp.Equal(got, want) {
			t.Errorf("contains %q: got %v, want %v", q, got, want)
		}
	}
	if got := list(r.ra, opa.DiscoveredQuery{ManagedOnly: true}); !cmp.Equal(got, []string{admin, svc}) {
		t.Errorf("managed only: %v", got)
	}
	pg, err := r.e.DiscoveredADAccounts(ctx, r.ra, r.conn.ID, opa.DiscoveredQuery{Page: opa.PageRequest{Count: 2}})
	must(t, err)
	pg2, err := r.e.DiscoveredADAccounts(ctx, r.ra, r.conn.ID, opa.DiscoveredQuery{Page: opa.PageRequest{Count: 2, Offset: pg.Next}})
	must(t, err)
	if len(pg.Items) != 2 || len(pg2.Items) != 1 || pg2.Items[0].ID != other {
		t.Fatalf("paging: %d then %d", len(pg.Items), len(pg2.Items))
	}
	_, err = r.e.DiscoveredADAccounts(ctx, r.ra, r.conn.ID, opa.DiscoveredQuery{Page: opa.PageRequest{Count: 5000}})
	wantErr(t, "bad count", err, opa.ErrInvalid)

	// Team-wide and resource-group lists.
	all := func(p opa.Principal, q opa.AccountsQuery) []string {
		t.Helper()
		asPage, err := r.e.AllADAccounts(ctx, p, q, opa.PageRequest{})
		as := asPage.Items
		must(t, err)
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	if got := all(r.sa, opa.AccountsQuery{}); len(got) != 3 {
		t.Fatalf("all accounts %v", got)
	}
	if got := all(r.sa, opa.AccountsQuery{AccountType: "shared"}); !cmp.Equal(got, []string{svc}) {
		t.Errorf("shared: %v", got)
	}
	if got := all(r.sa, opa.AccountsQuery{Contains: "JANE", ADConnectionIDs: []string{r.conn.ID}}); !cmp.Equal(got, []string{admin}) {
		t.Errorf("contains jane: %v", got)
	}
	if got := all(r.sa, opa.AccountsQuery{ADConnectionIDs: []string{"other"}}); len(got) != 0 {
		t.Errorf("other connection: %v", got)
	}
	_, err = r.e.AllADAccounts(ctx, r.sa, opa.AccountsQuery{AccountType: "BOTH"}, opa.PageRequest{})
	wantErr(t, "bad type", err, opa.ErrInvalid)
	rg1Page, err := r.e.ResourceGroupADAccounts(ctx, r.dsa1, r.rg1.ID, opa.AccountsQuery{}, opa.PageRequest{})
	rg1 := rg1Page.Items
	must(t, err)
	if len(rg1) != 1 || rg1[0].ID != admin {
		t.Fatalf("rg1 accounts %+v", rg1)
	}

	// Project list with settings.
	must(t, r.e.Store().Update(ctx, func(tx storage.WriteTx) error {
		pr, err := storage.Projects.Get(tx, r.p1a.ID)
		if err != nil {
			return err
		}
		pr.ADCheckout.Required = true
		pr.ADPassword.EnablePeriodicRotation, pr.ADPassword.AccountSelectorMode = true, "EXCLUDE"
		pr.ADPassword.ExcludeList = []storage.AccountRef{{AccountName: "JANE.DOE"}}
		return storage.Projects.Update(tx, pr)
	}))
	plPage, err := r.e.ProjectADAccounts(ctx, r.dra1, r.rg1.ID, r.p1a.ID, "adm.", opa.PageRequest{})
	pl := plPage.Items
	must(t, err)
	if len(pl) != 1 || !cmp.Equal(pl[0].AccountSettingsEnabled, []string{"CHECKOUT"}) {
		t.Fatalf("project accounts %+v", pl)
	}
	if pl, _ := r.e.ProjectADAccounts(ctx, r.dra1, r.rg1.ID, r.p1a.ID, "nobody", opa.PageRequest{}); len(pl.Items) != 0 {
		t.Fatalf("filtered project accounts %+v", pl)
	}
	pd, err := r.e.ProjectADAccount(ctx, r.dsa1, r.rg1.ID, r.p1a.ID, admin)
	must(t, err)
	if pd.ID != admin || pd.CheckoutStatus != "checked_out" {
		t.Fatalf("project account %+v", pd)
	}
	_, err = r.e.ProjectADAccount(ctx, r.dsa1, r.rg1.ID, r.p1a.ID, svc)
	wantErr(t, "account of another project", err, opa.ErrNotFound)
	_, err = r.e.ProjectADAccounts(ctx, r.dsa1, r.rg1.ID, r.p2.ID, "", opa.PageRequest{})
	wantErr(t, "project of another rg", err, opa.ErrNotFound)

	// Roles.
	forbidden := func(what string, err error) {
		t.Helper()
		wantErr(t, what, err, opa.ErrForbidden)
	}
	_, err = r.e.DiscoveredADAccounts(ctx, r.eu, r.conn.ID, opa.DiscoveredQuery{})
	forbidden("end user discovered", err)
	_, err = r.e.DiscoveredADAccounts(ctx, r.dra1, r.conn.ID, opa.DiscoveredQuery{})
	forbidden("delegated discovered", err)
	_, err = r.e.DiscoveredADAccounts(ctx, r.other, r.conn.ID, opa.DiscoveredQuery{})
	wantErr(t, "other team discovered", err, opa.ErrNotFound)
	_, err = r.e.AllADAccounts(ctx, r.ra, opa.AccountsQuery{}, opa.PageRequest{})
	forbidden("resource admin team-wide", err)
	_, err = r.e.AllADAccounts(ctx, r.dsa1, opa.AccountsQuery{}, opa.PageRequest{})
	forbidden("delegated team-wide", err)
	_, err = r.e.ResourceGroupADAccounts(ctx, r.dsa1, r.rg2.ID, opa.AccountsQuery{}, opa.PageRequest{})
	forbidden("delegated other rg", err)
	_, err = r.e.ResourceGroupADAccounts(ctx, r.sa, "nope", opa.AccountsQuery{}, opa.PageRequest{})
	wantErr(t, "unknown rg", err, opa.ErrNotFound)
	_, err = r.e.GetADAccount(ctx, r.eu, r.conn.ID, admin)
	forbidden("end user get", err)
	_, err = r.e.GetADAccount(ctx, r.dra2, r.conn.ID, admin)
	forbidden("delegated admin of another rg get", err)
	if _, err := r.e.GetADAccount(ctx, r.dra1, r.conn.ID, admin); err != nil {
		t.Fatalf("delegated admin of the account's rg: %v", err)
	}
	_, err = r.e.GetADAccount(ctx, r.ra, r.conn.ID, "nope")
	wantErr(t, "unknown account", err, opa.ErrNotFound)
	_, err = r.e.ProjectADAccounts(ctx, r.dra2, r.rg1.ID, r.p1a.ID, "", opa.PageRequest{})
	forbidden("delegated project list of another rg", err)
}

// TestForceSyncEvaluates checks that a force sync (import, then rule evaluation and matching)
// gives imported accounts their rule, type and user, and that overrides survive a re-sync.
func TestForceSyncEvaluates(t *testing.T) {
	ctx := context.Background()
	clock := opa.NewManualClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	resolver := memdir.NewResolver()
	e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(9), opa.WithDirectoryResolver(resolver))
	must(t, err)
	team, err := e.CreateTeam(ctx, "acme")
	must(t, err)
	sys := opa.SystemPrincipal(team)
	rg, err := e.CreateResourceGroup(ctx, sys, "rg", "")
	must(t, err)
	pr, err := e.CreateProject(ctx, sys, rg.ID, "admins")
	must(t, err)
	jane, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "jane"})
	must(t, err)
	bob, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "bob"})
	must(t, err)

	d := memdir.New(memdir.WithClock(clock.Now))
	root, err := d.AddDomain("corp.example.com")
	must(t, err)
	admins, err := d.AddOU(root, "Admins")
	must(t, err)
	sub, err := d.AddOU(root, "SubAdmins")
	must(t, err)
	_, err = d.AddUser(admins, memdir.User{SAMAccountName: "adm.jane", UserPrincipalName: "adm.jane@corp.example.com"})
	must(t, err)
	_, err = d.AddUser(sub, memdir.User{SAMAccountName: "adm.bob", UserPrincipalName: "adm.bob@corp.example.com"})
	must(t, err)
	resolver.Set("acme", "corp.example.com", d)

	conn, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "corp", Domain: "corp.example.com"})
	must(t, err)
	must(t, e.ConfigureAccountRuleSettings(ctx, sys, conn.ID, opa.RuleSettings{AllowPartialMatches: true,
		PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: "STARTS WITH", MatchValue: "adm"}}}))
	_, err = e.CreateAccountRule(ctx, sys, conn.ID, opa.AccountRuleInput{Name: "admins", RuleType: "INDIVIDUAL",
		OrganizationalUnits: []string{admins}, ResourceGroup: opa.NamedObject{ID: rg.ID}, Project: opa.NamedObject{ID: pr.ID}})
	must(t, err)
	must(t, e.ForceSync(ctx, sys, conn.ID))

	byName := func() map[string]opa.ADAccount {
		t.Helper()
		pg, err := e.DiscoveredADAccounts(ctx, sys, conn.ID, opa.DiscoveredQuery{})
		must(t, err)
		out := map[string]opa.ADAccount{}
		for _, a := range pg.Items {
			out[a.AccountName] = a
		}
		return out
	}
	got := byName()
	if a := got["adm.jane"]; a.AccountType != "INDIVIDUAL" || a.MatchedUser == nil || a.MatchedUser.ID != jane.ID || a.Project == nil || a.Project.ID != pr.ID {
		t.Fatalf("adm.jane after sync: %+v", a)
	}
	if a := got["adm.bob"]; a.AccountType != "" || a.MatchedUser != nil || a.AccountStatusDetail != "UNMANAGED" {
		t.Fatalf("adm.bob (in SubAdmins, not Admins) after sync: %+v", a)
	}
	_, err = e.UpdateADAccountMatch(ctx, sys, conn.ID, got["adm.jane"].ID, opa.AccountMatchInput{MatchOverrideUserID: bob.ID})
	must(t, err)
	must(t, e.ForceSync(ctx, sys, conn.ID))
	if a := byName()["adm.jane"]; a.MatchStatus != "OVERRIDDEN" || a.MatchedUser == nil || a.MatchedUser.ID != bob.ID {
		t.Fatalf("override after re-sync: %+v", a)
	}
}
