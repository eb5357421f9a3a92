package opa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

const accessDomain = "corp.example.com"

// accessFixture is a team with a security admin, two end users, one AD connection served by an
// in-memory directory, a project and managed accounts inserted directly into the store.
type accessFixture struct {
	t          testing.TB
	ctx        context.Context
	e          *opa.Engine
	clock      *opa.ManualClock
	dir        *memdir.Dir
	team       opa.Team
	sys        opa.Principal
	secAdmin   opa.Principal
	alice, bob opa.Principal
	conn       storage.Connection
	rg         opa.ResourceGroup
	proj       opa.Project
	usersDN    string
}

// newAccessFixture makes the fixture; opts are passed to opa.New after the fixture's own.
func newAccessFixture(t testing.TB, opts ...opa.Option) *accessFixture {
	t.Helper()
	ctx := context.Background()
	f := &accessFixture{t: t, ctx: ctx}
	f.clock = opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f.dir = memdir.New()
	res := memdir.NewResolver()
	res.Set("acme", accessDomain, f.dir)
	var err error
	f.e, err = opa.New(memstore.New(), append([]opa.Option{opa.WithClock(f.clock), opa.WithSeed(7), opa.WithDirectoryResolver(res)}, opts...)...)
	must(t, err)
	root, err := f.dir.AddDomain(accessDomain)
	must(t, err)
	f.usersDN, err = f.dir.AddOU(root, "Users")
	must(t, err)
	f.team, err = f.e.CreateTeam(ctx, "acme")
	must(t, err)
	f.sys = opa.SystemPrincipal(f.team)
	f.secAdmin = f.user("sec", opa.RoleGrant{Role: opa.RoleSecurityAdmin})
	f.alice = f.user("alice")
	f.bob = f.user("bob")
	f.rg, err = f.e.CreateResourceGroup(ctx, f.sys, "rg", "")
	must(t, err)
	f.proj, err = f.e.CreateProject(ctx, f.sys, f.rg.ID, "proj")
	must(t, err)
	f.conn = storage.Connection{ID: "00000000-0000-4000-8000-00000000c001", TeamID: f.team.ID, Name: "corp",
		Domain: accessDomain, AppInstanceID: "app1", Status: "connected", SyncStatus: "SYNC_COMPLETED"}
	must(t, f.e.Store().Update(ctx, func(tx storage.WriteTx) error { return storage.Connections.Insert(tx, &f.conn) }))
	return f
}

func (f *accessFixture) user(name string, roles ...opa.RoleGrant) opa.Principal {
	f.t.Helper()
	_, err := f.e.CreateUser(f.ctx, f.sys, opa.UserInput{Username: name, Roles: roles})
	must(f.t, err)
	p, err := f.e.PrincipalForUser(f.ctx, "acme", name)
	must(f.t, err)
	return p
}

// account adds a directory user and a managed account for it (no known password yet).
func (f *accessFixture) account(sam, accountType, matchedUserID string) storage.Account {
	f.t.Helper()
	dn, err := f.dir.AddUser(f.usersDN, memdir.User{SAMAccountName: sam, UserPrincipalName: sam + "@" + accessDomain, Password: "Initial-1"})
	must(f.t, err)
	now := f.clock.Now().UTC()
	a := storage.Account{
		ID: "00000000-0000-4000-8000-" + padID(sam), TeamID: f.team.ID, ConnectionID: f.conn.ID, Domain: accessDomain,
		SID: "S-1-5-21-1-" + sam, UPN: sam + "@" + accessDomain, SAMAccountName: sam, DistinguishedName: dn,
		AccountType: accountType, ProjectID: f.proj.ID, ResourceGroupID: f.rg.ID, BroughtUnderManagementAt: now,
		MatchedUserID: matchedUserID, StatusDetail: "MISSING_PASSWORD", CreatedAt: now, UpdatedAt: now,
	}
	must(f.t, f.e.Store().Update(f.ctx, func(tx storage.WriteTx) error { return storage.Accounts.Insert(tx, &a) }))
	return a
}

func padID(s string) string {
	b := []byte("000000000000")
	for i := 0; i < len(s) && i < 12; i++ {
		b[11-i] = "0123456789abcdef"[s[len(s)-1-i]%16]
	}
	return string(b)
}

// policy creates an active policy for the principals with one rule.
func (f *accessFixture) policy(rule opa.PolicyRule, users ...opa.Principal) opa.Policy {
	f.t.Helper()
	in := opa.PolicyInput{Name: "p-" + rule.Name, Active: true, Rules: []opa.PolicyRule{rule}}
	for _, u := range users {
		in.PrincipalUserIDs = append(in.PrincipalUserIDs, u.UserID)
	}
	pol, err := f.e.CreatePolicy(f.ctx, f.secAdmin, in)
	must(f.t, err)
	return pol
}

func (f *accessFixture) getAccount(id string) storage.Account {
	f.t.Helper()
	var a *storage.Account
	must(f.t, f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
		var err error
		a, err = storage.Accounts.Get(tx, id)
		return err
	}))
	return *a
}

// uam returns p's first access method on the account with the privilege.
func (f *accessFixture) uam(p opa.Principal, acctID, priv string) opa.UserAccessMethod {
	f.t.Helper()
	ms, err := f.e.ADAccountUAMs(f.ctx, p, f.conn.ID, acctID, priv)
	must(f.t, err)
	if len(ms) == 0 {
		f.t.Fatalf("no %s access method", priv)
	}
	return ms[0]
}

// reveal reveals the account's password as p with a fresh key of kind and returns the plaintext.
func (f *accessFixture) reveal(p opa.Principal, acctID string, key *revealjwe.PrivateKey) (string, error) {
	f.t.Helper()
	jwk, err := key.PublicJWK()
	must(f.t, err)
	m := f.uam(p, acctID, opa.PrivilegeRevealPassword)
	resp, err := f.e.RevealADAccountPassword(f.ctx, p, f.conn.ID, acctID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: m})
	if err != nil {
		return "", err
	}
	pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
	must(f.t, err)
	return string(pt), nil
}

func TestPolicyValidation(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	good := opa.PolicyRule{Name: "r", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}
	tests := []struct {
		name string
		in   opa.PolicyInput
		who  opa.Principal
		want error
	}{
		{"end user may not", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{good}}, f.alice, opa.ErrForbidden},
		{"no name", opa.PolicyInput{PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{good}}, f.secAdmin, opa.ErrInvalid},
		{"no principal", opa.PolicyInput{Name: "x", Rules: []opa.PolicyRule{good}}, f.secAdmin, opa.ErrInvalid},
		{"unknown user", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{"nope"}, Rules: []opa.PolicyRule{good}}, f.secAdmin, opa.ErrInvalid},
		{"unknown privilege", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{{
			Privileges: []string{"delete_everything"}, Resources: good.Resources}}}, f.secAdmin, opa.ErrInvalid},
		{"no resources", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{{
			Privileges: []string{opa.PrivilegeRevealPassword}}}}, f.secAdmin, opa.ErrInvalid},
		{"unknown account", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{{
			Privileges: []string{opa.PrivilegeRevealPassword}, Resources: opa.PolicyResources{ADAccountIDs: []string{"nope"}}}}}, f.secAdmin, opa.ErrInvalid},
		{"checkout too short", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{{
			Privileges: []string{opa.PrivilegeRevealPassword}, Resources: good.Resources,
			Conditions: opa.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 60}}}}, f.secAdmin, opa.ErrInvalid},
		{"ok", opa.PolicyInput{Name: "x", PrincipalUserIDs: []string{f.alice.UserID}, Rules: []opa.PolicyRule{good}}, f.secAdmin, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.e.CreatePolicy(f.ctx, tc.who, tc.in)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := f.e.Policy(f.ctx, f.secAdmin, "nope"); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("unknown policy: got %v", err)
	}
}

func TestEndUserSeesOnlyWhatPoliciesGrant(t *testing.T) {
	f := newAccessFixture(t)
	shared := f.account("svc1", opa.AccountTypeShared, "")
	other := f.account("svc2", opa.AccountTypeShared, "")
	own := f.account("adm-alice", opa.AccountTypeIndividual, f.alice.UserID)
	_ = f.account("adm-bob", opa.AccountTypeIndividual, f.bob.UserID)

	// Nothing granted: no domains, accounts are not found (never forbidden).
	dsPage, err := f.e.ADDomains(f.ctx, f.alice, opa.DomainFilter{}, opa.PageRequest{})
	ds := dsPage.Items
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("domains without a policy: %v", ds)
	}
	if _, err := f.e.ADAccountEndUser(f.ctx, f.alice, f.conn.ID, shared.ID); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("ungranted account: got %v, want not found", err)
	}

	pol := f.policy(opa.PolicyRule{Name: "shared", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{ADAccountIDs: []string{shared.ID}}}, f.alice)
	f.policy(opa.PolicyRule{Name: "own", Privileges: []string{opa.PrivilegeRevealPassword, opa.PrivilegeRotatePassword},
		Resources: opa.PolicyResources{ADOwnIndividual: true}}, f.alice)

	dsPage, err = f.e.ADDomains(f.ctx, f.alice, opa.DomainFilter{}, opa.PageRequest{})
	ds = dsPage.Items
	must(t, err)
	if len(ds) != 1 || ds[0].ID != f.conn.ID || ds[0].Domain != accessDomain {
		t.Fatalf("domains: %+v", ds)
	}
	itemsPage, err := f.e.ADAccountsEndUser(f.ctx, f.alice, f.conn.ID, "", opa.PageRequest{})
	items := itemsPage.Items
	must(t, err)
	got := map[string]string{}
	for _, it := range items {
		got[it.Account.ID] = it.Account.AvailabilityStatus
	}
	if len(got) != 2 || got[shared.ID] != opa.AvailabilityAvailable || got[own.ID] != opa.AvailabilityAvailable {
		t.Fatalf("alice's accounts: %v", got)
	}
	if _, err := f.e.ADAccountEndUser(f.ctx, f.alice, f.conn.ID, other.ID); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("other account: got %v", err)
	}
	ms, err := f.e.ADAccountUAMs(f.ctx, f.alice, f.conn.ID, own.ID, opa.PrivilegeRotatePassword)
	must(t, err)
	if len(ms) != 1 || ms[0].Details.Privileges[0].PrivilegeType != opa.PrivilegeRotatePassword || ms[0].RuleResourceType != "active_directory_based_resource" {
		t.Fatalf("rotate UAMs: %+v", ms)
	}
	// Bob sees nothing; his individual account is not Alice's.
	if _, err := f.e.ADAccountsEndUser(f.ctx, f.bob, f.conn.ID, "", opa.PageRequest{}); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("bob: got %v", err)
	}

	// Deactivating the policy takes effect at once.
	_, err = f.e.UpdatePolicy(f.ctx, f.secAdmin, pol.ID, opa.PolicyInput{Name: pol.Name, Active: false,
		PrincipalUserIDs: pol.PrincipalUserIDs, Rules: pol.Rules})
	must(t, err)
	if _, err := f.e.ADAccountEndUser(f.ctx, f.alice, f.conn.ID, shared.ID); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("after deactivation: got %v", err)
	}
	// An unmanaged account is invisible even when named.
	must(t, f.e.Store().Update(f.ctx, func(tx storage.WriteTx) error {
		a, err := storage.Accounts.Get(tx, own.ID)
		if err != nil {
			return err
		}
		a.AccountType, a.ProjectID = "", ""
		return storage.Accounts.Update(tx, a)
	}))
	if _, err := f.e.ADAccountEndUser(f.ctx, f.alice, f.conn.ID, own.ID); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("unmanaged: got %v", err)
	}
}

func TestRevealRoundTripAndForbiddenUAM(t *testing.T) {
	for _, kind := range []string{revealjwe.KindRSA2048, revealjwe.KindP256, revealjwe.KindP384} {
		t.Run(kind, func(t *testing.T) {
			f := newAccessFixture(t)
			a := f.account("svc1", opa.AccountTypeShared, "")
			pol := f.policy(opa.PolicyRule{Name: "r", Privileges: []string{opa.PrivilegeRevealPassword},
				Resources: opa.PolicyResources{ADConnectionIDs: []string{f.conn.ID}, ADAccountTypes: []string{opa.AccountTypeShared}}}, f.alice)
			pw, err := f.reveal(f.alice, a.ID, testKey(t, kind))
			must(t, err)
			if dirPW, _ := f.dir.Password(a.DistinguishedName); pw != dirPW || pw == "Initial-1" || len(pw) != 32 {
				t.Fatalf("revealed %d chars; the directory has another password or the unmanaged initial one", len(pw))
			}
			if got := f.getAccount(a.ID); got.StatusDetail != "ROTATED" || got.Credential.SuccessCount != 1 {
				t.Fatalf("after first reveal: %s, %d rotations", got.StatusDetail, got.Credential.SuccessCount)
			}
			// A second reveal returns the same password (no checkout, no rotation).
			pw2, err := f.reveal(f.alice, a.ID, testKey(t, kind))
			must(t, err)
			if pw2 != pw {
				t.Fatal("second reveal returned another password")
			}
			// A stale access method: the rule is gone.
			m := f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
			m.RuleIDs = []string{"00000000-0000-4000-8000-000000000000"}
			jwk, _ := testKey(t, kind).PublicJWK()
			if _, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: m}); !errors.Is(err, opa.ErrForbidden) {
				t.Fatalf("stale UAM: got %v, want forbidden", err)
			}
			// A bad key is invalid input.
			if _, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RevealRequest{PublicKey: []byte(`{"kty":"oct","k":"AAAA"}`), UserAccessMethod: m}); !errors.Is(err, opa.ErrInvalid) {
				t.Fatalf("symmetric key: got %v, want invalid", err)
			}
			must(t, f.e.DeletePolicy(f.ctx, f.secAdmin, pol.ID))
			if _, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: m}); !errors.Is(err, opa.ErrNotFound) {
				t.Fatalf("after policy deletion: got %v, want not found", err)
			}
			evs, err := f.e.AuditEvents(f.ctx, f.secAdmin, opa.AuditFilter{ResourceID: a.ID})
			must(t, err)
			var reveals, rotations int
			for _, ev := range evs {
				if ev.Action == opa.AuditReveal {
					reveals++
				}
				if ev.Action == opa.AuditRotate {
					rotations++
				}
				if pw != "" && (strings.Contains(ev.Detail, pw) || strings.Contains(ev.Outcome, pw)) {
					t.Fatal("the audit trail contains the password")
				}
			}
			if reveals != 2 || rotations != 1 {
				t.Fatalf("audit: %d reveals, %d rotations", reveals, rotations)
			}
		})
	}
}
