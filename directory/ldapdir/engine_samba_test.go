package ldapdir_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/ldapdir"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// TestSambaEngineUserSync runs the engine's user sync through the LDAP resolver against Samba,
// and an admin rotation through it, with a dead first domain controller (127.0.0.2; the engine takes bare host names): OU=Engineering's accounts carry the SIDs samba-tool
// reports, and OU=Bulk's bulkUsers users all arrive through paging.
func TestSambaEngineUserSync(t *testing.T) {
	s := needSamba(t)
	c := ctx(t)
	// Nothing listens on 127.0.0.2.
	e, admin, conn := s.engine(t, ldapdir.WithRootCAs(s.pool), "127.0.0.2", s.host)
	eng, err := e.CreateUserSyncJob(c, admin, conn.ID, opa.UserSyncJobInput{Name: "engineering", BaseDN: s.dn(engineerOU)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.RunUserSyncJob(c, admin, conn.ID, eng.ID)
	if err != nil {
		t.Fatalf("engineering sync: %v (%+v)", err, res)
	}
	t.Logf("engineering: %s", res.Status.Summary)
	page, err := e.DiscoveredADAccounts(c, admin, conn.ID, opa.DiscoveredQuery{Page: opa.PageRequest{Count: 100}})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, a := range page.Items {
		if a.SAMAccountName != "alice" && a.SAMAccountName != "bob" {
			continue
		}
		found++
		want := s.toolShow(t, a.SAMAccountName)
		if a.SID != want["objectSid"] || a.DistinguishedName != want["dn"] {
			t.Errorf("%s: account SID %q DN %q, samba-tool says %v", a.SAMAccountName, a.SID, a.DistinguishedName, want)
		}
	}
	if found != 2 {
		t.Errorf("found %d of alice and bob among %d accounts", found, len(page.Items))
	}

	// An admin rotation of bob's account sets a new password in Samba through the connector.
	var bobID string
	for _, a := range page.Items {
		if a.SAMAccountName == "bob" {
			bobID = a.ID
		}
	}
	rg, err := e.CreateResourceGroup(c, admin, "rg", "")
	if err != nil {
		t.Fatal(err)
	}
	proj, err := e.CreateProject(c, admin, rg.ID, "proj")
	if err != nil {
		t.Fatal(err)
	}
	// Put the account in the project directly (account rules are tested in package opa).
	if err := e.Store().Update(c, func(tx storage.WriteTx) error {
		a, err := storage.Accounts.Get(tx, bobID)
		if err != nil {
			return err
		}
		cp := *a
		cp.ProjectID, cp.ResourceGroupID = proj.ID, rg.ID
		return storage.Accounts.Update(tx, &cp)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateUser(c, admin, opa.UserInput{Username: "sec", Roles: []opa.RoleGrant{{Role: opa.RoleSecurityAdmin}}}); err != nil {
		t.Fatal(err)
	}
	sec, err := e.PrincipalForUser(c, "acme", "sec")
	if err != nil {
		t.Fatal(err)
	}
	before := s.toolShow(t, "bob")["pwdLastSet"]
	if err := e.AdminRotateResource(c, sec, rg.ID, proj.ID, opa.CheckinRequest{ResourceID: bobID, ResourceType: opa.ResourceTypeADAccount}); err != nil {
		t.Fatalf("admin rotation through Samba: %v", err)
	}
	if after := s.toolShow(t, "bob")["pwdLastSet"]; after == before {
		t.Errorf("pwdLastSet unchanged after the engine's rotation (%s)", after)
	}
	details, err := e.GetADAccount(c, sec, conn.ID, bobID)
	if err != nil {
		t.Fatal(err)
	}
	if details.PasswordChangeSuccessCount != 1 || details.LastPasswordChangeErrorType != "" {
		t.Errorf("after rotation: %d successes, error type %q", details.PasswordChangeSuccessCount, details.LastPasswordChangeErrorType)
	}

	bulk, err := e.CreateUserSyncJob(c, admin, conn.ID, opa.UserSyncJobInput{Name: "bulk", BaseDN: s.dn("OU=Bulk")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err = e.RunUserSyncJob(c, admin, conn.ID, bulk.ID)
	if err != nil {
		t.Fatalf("bulk sync: %v (%+v)", err, res)
	}
	elapsed := time.Since(start)
	want := strconv.Itoa(bulkUsers) + " accounts found: " + strconv.Itoa(bulkUsers) + " added"
	if len(res.Status.Summary) < len(want) || res.Status.Summary[:len(want)] != want {
		t.Errorf("bulk sync summary %q, want it to start with %q", res.Status.Summary, want)
	}
	t.Logf("user sync of OU=Bulk through the engine: %s in %v", res.Status.Summary, elapsed.Round(time.Millisecond))
}

// engine returns an engine on memstore whose directory is Samba through an ldapdir resolver made
// with opt (closed when the test ends), a team's system principal, and an AD connection to Samba
// through the domain controllers dcs.
func (s *sambaEnv) engine(t *testing.T, opt ldapdir.Option, dcs ...string) (*opa.Engine, opa.Principal, opa.ADConnection) {
	t.Helper()
	c := ctx(t)
	resolver, err := ldapdir.NewResolver(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resolver.Close() })
	e, err := opa.New(memstore.New(), opa.WithDirectoryResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	team, err := e.CreateTeam(c, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sys := opa.SystemPrincipal(team)
	// The create binds first: a password the DC refuses stores nothing and never shows in the error.
	_, err = e.CreateADConnection(c, sys, opa.ADConnectionInput{
		Name: "samba", Domain: s.domain, DomainControllers: dcs,
		ServiceAccountUsername: s.admin, ServiceAccountPassword: "Not-" + s.adminPassword,
	})
	if !errors.Is(err, opa.ErrInvalid) || strings.Contains(fmt.Sprintf("%+v", err), s.adminPassword) {
		t.Fatalf("create with a wrong service account password: %v, want ErrInvalid without the password", err)
	}
	conn, err := e.CreateADConnection(c, sys, opa.ADConnectionInput{
		Name: "samba", Domain: s.domain, DomainControllers: dcs,
		ServiceAccountUsername: s.admin, ServiceAccountPassword: s.adminPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, sys, conn
}
