package ldapdir_test

import (
	"crypto/tls"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/ldapdir"
	"github.com/opakit/opa/revealjwe"
)

const checkoutOU = "OU=Checkout"

// binds reports whether user@domain binds with password in a fresh LDAPS connection, outside the
// connector (so no pooled state is involved).
func (s *sambaEnv) binds(t *testing.T, user, password string) bool {
	t.Helper()
	c, err := ldap.DialURL(s.url, ldap.DialWithTLSConfig(&tls.Config{RootCAs: s.pool, ServerName: s.host}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Bind(user+"@"+s.domain, password) == nil
}

// TestSambaEngineCheckoutRotation runs checkout → check-in → rotation through the engine against
// Samba: a SHARED account rule puts carol (OU=Checkout) in a project whose AD settings require
// checkout; an end user reveals her password (it binds), checks in, and the engine's rotation sets
// a new password in Samba (pwdLastSet changes, the new one binds; after one more rotation the first
// no longer does: Samba accepts the immediately previous password for a while). Then a
// project password policy the domain's policy refuses (8 digits: no complexity) makes the
// post-check-in rotation fail with PASSWORD_POLICY_VIOLATION, leaving the account unavailable.
func TestSambaEngineCheckoutRotation(t *testing.T) {
	s := needSamba(t)
	c := ctx(t)
	if _, err := s.tool("user", "show", "carol"); err != nil {
		if _, err := s.tool("ou", "create", s.dn(checkoutOU)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.tool("user", "create", "carol", alicePass, "--userou="+checkoutOU); err != nil {
			t.Fatal(err)
		}
	}

	e, sys, conn := s.engine(t, ldapdir.WithCAFile(s.caFile), s.host)
	rg, err := e.CreateResourceGroup(c, sys, "rg", "")
	if err != nil {
		t.Fatal(err)
	}
	proj, err := e.CreateProject(c, sys, rg.ID, "shared")
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string, roles ...opa.RoleGrant) opa.Principal {
		t.Helper()
		if _, err := e.CreateUser(c, sys, opa.UserInput{Username: name, Roles: roles}); err != nil {
			t.Fatal(err)
		}
		p, err := e.PrincipalForUser(c, "acme", name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sec := user("sec", opa.RoleGrant{Role: opa.RoleSecurityAdmin})
	eve := user("eve")

	if _, err := e.CreateUserSyncJob(c, sys, conn.ID, opa.UserSyncJobInput{Name: "checkout", IsActive: true, BaseDN: s.dn(checkoutOU)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateAccountRule(c, sys, conn.ID, opa.AccountRuleInput{Name: "shared", RuleType: "SHARED",
		OrganizationalUnits: []string{s.dn(checkoutOU)}, ResourceGroup: opa.NamedObject{ID: rg.ID}, Project: opa.NamedObject{ID: proj.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ForceSync(c, sys, conn.ID); err != nil {
		t.Fatalf("force sync: %v", err)
	}
	page, err := e.DiscoveredADAccounts(c, sys, conn.ID, opa.DiscoveredQuery{Page: opa.PageRequest{Count: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var acct opa.ADAccount
	for _, a := range page.Items {
		if a.SAMAccountName == "carol" {
			acct = a
		}
	}
	if acct.ID == "" || acct.AccountType != opa.AccountTypeShared || acct.Project == nil || acct.Project.ID != proj.ID {
		t.Fatalf("carol after force sync: %+v (of %d accounts)", acct, len(page.Items))
	}
	if _, err := e.UpdateProjectCheckoutSettings(c, sec, rg.ID, proj.ID, opa.SettingsAD,
		opa.ProjectCheckoutSettings{CheckoutRequired: true, CheckoutDurationInSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePolicy(c, sec, opa.PolicyInput{Name: "reveal", Active: true, PrincipalUserIDs: []string{eve.UserID},
		Rules: []opa.PolicyRule{{Name: "co", Privileges: []string{opa.PrivilegeRevealPassword},
			Resources: opa.PolicyResources{ADProjectIDs: []string{proj.ID}}}}}); err != nil {
		t.Fatal(err)
	}

	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := key.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	reveal := func(p opa.Principal) (string, error) {
		t.Helper()
		ms, err := e.ADAccountUAMs(c, p, conn.ID, acct.ID, opa.PrivilegeRevealPassword)
		if err != nil || len(ms) == 0 {
			t.Fatalf("access methods: %d, %v", len(ms), err)
		}
		resp, err := e.RevealADAccountPassword(c, p, conn.ID, acct.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ms[0]})
		if err != nil {
			return "", err
		}
		pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(pt), nil
	}
	availability := func() string {
		t.Helper()
		d, err := e.ADAccountEndUser(c, eve, conn.ID, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Account.AvailabilityStatus
	}

	// The first reveal sets a password (the engine never hands out one it did not set) and checks
	// the account out to eve.
	first, err := reveal(eve)
	if err != nil {
		t.Fatalf("eve's reveal: %v", err)
	}
	if !s.binds(t, "carol", first) {
		t.Fatal("the revealed password does not bind against Samba")
	}
	if got := availability(); got != opa.AvailabilityCheckedOut {
		t.Fatalf("after the reveal eve sees %s, want %s", got, opa.AvailabilityCheckedOut)
	}
	before := s.toolShow(t, "carol")["pwdLastSet"]

	// Check-in rotates.
	if err := e.CheckInResource(c, eve, opa.CheckinRequest{ResourceID: acct.ID, ResourceType: opa.ResourceTypeADAccount}); err != nil {
		t.Fatalf("check-in: %v", err)
	}
	if after := s.toolShow(t, "carol")["pwdLastSet"]; after == before {
		t.Errorf("pwdLastSet unchanged by the check-in rotation (%s)", after)
	}
	if got := availability(); got != opa.AvailabilityAvailable {
		t.Fatalf("after check-in eve sees %s", got)
	}
	second, err := reveal(eve)
	if err != nil {
		t.Fatalf("reveal after check-in: %v", err)
	}
	if second == first {
		t.Fatal("check-in did not change the password")
	}
	if !s.binds(t, "carol", second) {
		t.Error("the rotated password does not bind against Samba")
	}
	// Samba, like AD for NTLM, still accepts the immediately previous password during its "old
	// password allowed period" (60 minutes by default), simple binds included; it keeps one
	// previous password only. So the first password must stop binding after one more rotation.
	if s.binds(t, "carol", first) {
		t.Log("the previous password still binds right after the rotation (Samba's old password allowed period)")
	}
	if err := e.CheckInResource(c, eve, opa.CheckinRequest{ResourceID: acct.ID, ResourceType: opa.ResourceTypeADAccount}); err != nil {
		t.Fatalf("second check-in: %v", err)
	}
	third, err := reveal(eve)
	if err != nil {
		t.Fatalf("reveal after the second check-in: %v", err)
	}
	if third == second || !s.binds(t, "carol", third) {
		t.Error("the second check-in's password is unchanged or does not bind")
	}
	if s.binds(t, "carol", first) {
		t.Error("the password from two rotations ago still binds")
	}
	details, err := e.GetADAccount(c, sec, conn.ID, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if details.PasswordChangeSuccessCount != 3 || details.LastPasswordChangeErrorType != "" {
		t.Errorf("after three rotations: %d successes, error type %q", details.PasswordChangeSuccessCount, details.LastPasswordChangeErrorType)
	}

	// A project policy the domain refuses: eight digits fail Samba's complexity rule. Eve holds the
	// checkout from her last reveal; her check-in's rotation fails visibly.
	if _, err := e.UpdateProjectPasswordPolicy(c, sec, rg.ID, proj.ID, opa.SettingsAD, opa.ProjectPasswordPolicy{
		CharacterOptions: opa.PasswordCharacterOptions{Digits: true}, MinLengthInBytes: 8, MaxLengthInBytes: 8}); err != nil {
		t.Fatal(err)
	}
	before = s.toolShow(t, "carol")["pwdLastSet"]
	if err := e.CheckInResource(c, eve, opa.CheckinRequest{ResourceID: acct.ID, ResourceType: opa.ResourceTypeADAccount}); err != nil {
		t.Fatalf("check-in with a failing rotation: %v", err)
	}
	details, err = e.GetADAccount(c, sec, conn.ID, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if details.LastPasswordChangeErrorType != opa.RotationErrPolicyViolation {
		t.Errorf("refused rotation: error type %q, want %s", details.LastPasswordChangeErrorType, opa.RotationErrPolicyViolation)
	}
	if got := availability(); got != opa.AvailabilityUnavailable {
		t.Errorf("after the refused rotation eve sees %s, want %s", got, opa.AvailabilityUnavailable)
	}
	if _, err := reveal(eve); err == nil {
		t.Error("reveal succeeded while the post-check-in rotation is pending")
	}
	if after := s.toolShow(t, "carol")["pwdLastSet"]; after != before {
		t.Errorf("pwdLastSet changed although Samba refused the password (%s → %s)", before, after)
	}
	if !s.binds(t, "carol", third) {
		t.Error("the last accepted password no longer binds after the refused rotation")
	}
}
