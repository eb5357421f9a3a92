package opa_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

func TestUDAccountsLifecycle(t *testing.T) {
	f := newAccessFixture(t)
	if _, err := f.e.CreateUDAccount(f.ctx, f.alice, f.rg.ID, f.proj.ID, opa.UDAccountInput{Name: "x", Username: "x"}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("end user creating a UD account: got %v", err)
	}
	var ids []string
	for _, n := range []string{"alpha", "beta", "gamma"} {
		a, err := f.e.CreateUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.UDAccountInput{Name: n + " account", Username: n + "@okta.example", Password: "Vaulted-" + n})
		must(t, err)
		ids = append(ids, a.ID)
	}
	allPage, err := f.e.AllUDAccounts(f.ctx, f.secAdmin, "BETA", opa.PageRequest{})
	all := allPage.Items
	must(t, err)
	if len(all) != 1 || all[0].Username != "beta@okta.example" {
		t.Fatalf("contains beta: %+v", all)
	}
	if _, err := f.e.AllUDAccounts(f.ctx, f.alice, "", opa.PageRequest{}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("end user on the team list: got %v", err)
	}
	rglPage, err := f.e.ResourceGroupUDAccounts(f.ctx, f.secAdmin, f.rg.ID, "", opa.PageRequest{})
	rgl := rglPage.Items
	must(t, err)
	if len(rgl) != 3 {
		t.Fatalf("resource group list: %d", len(rgl))
	}

	f.policy(opa.PolicyRule{Name: "ud", Privileges: []string{opa.PrivilegeRevealPassword, opa.PrivilegeRotatePassword},
		Resources: opa.PolicyResources{UDProjectIDs: []string{f.proj.ID}}}, f.alice)
	_, err = f.e.UpdateProjectCheckoutSettings(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsUD,
		opa.ProjectCheckoutSettings{CheckoutRequired: true, CheckoutDurationInSeconds: 900, IncludeList: []opa.ProjectAccountRef{{AccountID: ids[0]}}})
	must(t, err)

	page, err := f.e.UDAccountsEndUser(f.ctx, f.alice, "", opa.PageRequest{Count: 2})
	must(t, err)
	if len(page.Items) != 2 || page.Next == "" {
		t.Fatalf("first page: %d items, next %q", len(page.Items), page.Next)
	}
	page2, err := f.e.UDAccountsEndUser(f.ctx, f.alice, "", opa.PageRequest{Count: 2, Offset: page.Next})
	must(t, err)
	if len(page2.Items) != 1 || page2.Next != "" {
		t.Fatalf("second page: %+v", page2)
	}
	if _, err := f.e.UDAccountsEndUser(f.ctx, f.bob, "", opa.PageRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.UDAccountEndUser(f.ctx, f.bob, ids[0]); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("bob: got %v", err)
	}

	// Reveal a vaulted password; ids[0] needs a checkout (project include list), 15 minutes.
	key := testKey(t, revealjwe.KindP256)
	jwk, _ := key.PublicJWK()
	ms, err := f.e.UDAccountUAMs(f.ctx, f.alice, ids[0])
	must(t, err)
	var reveal, rotate opa.UserAccessMethod
	for _, m := range ms {
		switch m.Details.Privileges[0].PrivilegeType {
		case opa.PrivilegeRevealPassword:
			reveal = m
		case opa.PrivilegeUpdatePassword:
			rotate = m
		}
	}
	if !reveal.CheckoutRequirements.Required || reveal.CheckoutRequirements.MaxCheckoutDurationInSeconds != 900 {
		t.Fatalf("UD reveal UAM: %+v", reveal.CheckoutRequirements)
	}
	resp, err := f.e.RevealUDAccountPassword(f.ctx, f.alice, ids[0], opa.RevealRequest{PublicKey: jwk, UserAccessMethod: reveal})
	must(t, err)
	pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
	must(t, err)
	if string(pt) != "Vaulted-alpha" {
		t.Fatal("UD reveal returned another password")
	}
	d, err := f.e.ProjectUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, ids[0])
	must(t, err)
	if d.CheckoutStatus != "checked_out" || !d.CheckoutEnabled || d.LastCheckoutUser != "alice" {
		t.Fatalf("UD details during checkout: %+v", d)
	}
	// Expiry rotates the stored password.
	f.clock.Advance(15 * time.Minute)
	must(t, f.e.Tick(f.ctx))
	resp, err = f.e.RevealUDAccountPassword(f.ctx, f.alice, ids[0], opa.RevealRequest{PublicKey: jwk, UserAccessMethod: reveal})
	must(t, err)
	pt2, _ := revealjwe.Decrypt(resp.PasswordJWE, key)
	if string(pt2) == "Vaulted-alpha" || len(pt2) != 32 {
		t.Fatal("the UD password was not rotated on expiry")
	}
	must(t, f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: ids[0], ResourceType: opa.ResourceTypeUDAccount}))

	// Rotate ids[1] to a client-chosen password encrypted to the vault key.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	raw, err := f.e.VaultJWKS(f.ctx)
	must(t, err)
	must(t, json.Unmarshal(raw, &set))
	vault, err := revealjwe.ParsePublicKey(set.Keys[0])
	must(t, err)
	newJWE, err := revealjwe.Encrypt(vault, []byte("Chosen-Password-1"))
	must(t, err)
	ms1, err := f.e.UDAccountUAMs(f.ctx, f.alice, ids[1])
	must(t, err)
	for _, m := range ms1 {
		if m.Details.Privileges[0].PrivilegeType == opa.PrivilegeUpdatePassword {
			rotate = m
		} else {
			reveal = m
		}
	}
	must(t, f.e.RotateUDAccountPassword(f.ctx, f.alice, ids[1], opa.RotateRequest{PasswordJWE: newJWE, UserAccessMethod: rotate}))
	resp, err = f.e.RevealUDAccountPassword(f.ctx, f.alice, ids[1], opa.RevealRequest{PublicKey: jwk, UserAccessMethod: reveal})
	must(t, err)
	if pt, _ := revealjwe.Decrypt(resp.PasswordJWE, key); string(pt) != "Chosen-Password-1" {
		t.Fatal("UD rotation with a client password did not take")
	}
	if err := f.e.RotateUDAccountPassword(f.ctx, f.alice, ids[1], opa.RotateRequest{PasswordJWE: "garbage", UserAccessMethod: rotate}); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("bad password_jwe: got %v", err)
	}
	// Without password_jwe the engine generates one.
	must(t, f.e.RotateUDAccountPassword(f.ctx, f.alice, ids[1], opa.RotateRequest{UserAccessMethod: rotate}))
	plPage, err := f.e.ProjectUDAccounts(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, "", opa.PageRequest{})
	pl := plPage.Items
	must(t, err)
	if len(pl) != 3 {
		t.Fatalf("project list: %d", len(pl))
	}
	for _, it := range pl {
		if it.ID == ids[0] && (len(it.AccountSettingsEnabled) != 1 || it.AccountSettingsEnabled[0] != "CHECKOUT") {
			t.Fatalf("settings of %s: %v", it.ID, it.AccountSettingsEnabled)
		}
	}
}

func TestProjectSettingsValidation(t *testing.T) {
	f := newAccessFixture(t)
	cs := opa.ProjectCheckoutSettings{CheckoutRequired: true, CheckoutDurationInSeconds: 900}
	if _, err := f.e.UpdateProjectCheckoutSettings(f.ctx, f.alice, f.rg.ID, f.proj.ID, opa.SettingsAD, cs); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("end user: got %v", err)
	}
	bad := []opa.ProjectCheckoutSettings{
		{CheckoutDurationInSeconds: 899},
		{CheckoutDurationInSeconds: 86401},
		{CheckoutDurationInSeconds: 900, IncludeList: []opa.ProjectAccountRef{{AccountName: "a"}}, ExcludeList: []opa.ProjectAccountRef{{AccountName: "b"}}},
	}
	for _, b := range bad {
		if _, err := f.e.UpdateProjectCheckoutSettings(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, b); !errors.Is(err, opa.ErrInvalid) {
			t.Fatalf("%+v: got %v", b, err)
		}
	}
	got, err := f.e.UpdateProjectCheckoutSettings(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD,
		opa.ProjectCheckoutSettings{CheckoutRequired: true, CheckoutDurationInSeconds: 1200, ExcludeList: []opa.ProjectAccountRef{{AccountName: "ghost"}}})
	must(t, err)
	if !got.CheckoutRequired || got.CheckoutDurationInSeconds != 1200 || !got.ExcludeList[0].Missing {
		t.Fatalf("checkout settings: %+v", got)
	}
	pp := opa.ProjectPasswordPolicy{EnablePeriodicRotation: true, PeriodicRotationDurationInSeconds: 60,
		CharacterOptions: opa.PasswordCharacterOptions{LowerCase: true}, MinLengthInBytes: 12, MaxLengthInBytes: 16}
	if _, err := f.e.UpdateProjectPasswordPolicy(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, pp); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("short period: got %v", err)
	}
	pp.PeriodicRotationDurationInSeconds = 3600
	pp.MinLengthInBytes = 20
	if _, err := f.e.UpdateProjectPasswordPolicy(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, pp); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("min > max: got %v", err)
	}
	if _, err := f.e.ProjectPasswordPolicy(f.ctx, f.alice, f.rg.ID, "nope", opa.SettingsAD); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("unknown project: got %v", err)
	}
}

func TestPeriodicRotationAndOnDemand(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	b := f.account("svc2", opa.AccountTypeShared, "")
	_, err := f.e.UpdateProjectPasswordPolicy(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, opa.ProjectPasswordPolicy{
		EnablePeriodicRotation: true, PeriodicRotationDurationInSeconds: 86400, PeriodicRotationAccountSelectorMode: "EXCLUDE",
		PeriodicRotationAccountExcludeList: []opa.ProjectAccountRef{{Domain: accessDomain, AccountName: "svc2"}},
		CharacterOptions:                   opa.PasswordCharacterOptions{LowerCase: true, Digits: true, ExcludeCertainSymbols: []string{"0", "o"}},
		MinLengthInBytes:                   16, MaxLengthInBytes: 20})
	must(t, err)
	f.clock.Advance(23 * time.Hour)
	must(t, f.e.Tick(f.ctx))
	if got := f.getAccount(a.ID); got.Credential.SuccessCount != 0 {
		t.Fatal("rotated before the period")
	}
	f.clock.Advance(time.Hour)
	must(t, f.e.Tick(f.ctx))
	got := f.getAccount(a.ID)
	if got.Credential.SuccessCount != 1 || got.Credential.NextRotationReason != "PERIODIC_ROTATION" ||
		!got.Credential.NextRotationAt.Equal(f.clock.Now().UTC().Add(24*time.Hour)) {
		t.Fatalf("after the period: %+v", got.Credential)
	}
	pw, _ := f.dir.Password(a.DistinguishedName)
	if len(pw) < 16 || len(pw) > 20 || containsAny(pw, "0oABCDEFGHIJKLMNOPQRSTUVWXYZ!#") {
		t.Fatalf("password of %d chars does not follow the policy", len(pw))
	}
	if got := f.getAccount(b.ID); got.Credential.SuccessCount != 0 {
		t.Fatal("an excluded account was rotated")
	}
	// On demand, through a rotate_password access method.
	f.policy(opa.PolicyRule{Name: "rot", Privileges: []string{opa.PrivilegeRotatePassword},
		Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}, f.alice)
	m := f.uam(f.alice, a.ID, opa.PrivilegeRotatePassword)
	must(t, f.e.RotateADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: m}))
	if pw2, _ := f.dir.Password(a.DistinguishedName); pw2 == pw {
		t.Fatal("on-demand rotation did not change the password")
	}
	f.dir.SetAgentTimeout(true)
	if err := f.e.RotateADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: m}); !errors.Is(err, opa.ErrTimeout) {
		t.Fatalf("rotation with a timing-out agent: got %v", err)
	}
	if got := f.getAccount(a.ID); got.StatusDetail != "ROTATION_FAILED" || got.Credential.LastErrorType != "AGENT_TIMEOUT" {
		t.Fatalf("after a failed on-demand rotation: %s %s", got.StatusDetail, got.Credential.LastErrorType)
	}
	// A failed on-demand rotation leaves the old password valid: the account stays available.
	if got := availability(t, f, f.alice, a.ID); got != opa.AvailabilityAvailable {
		t.Fatalf("after a failed on-demand rotation: %s", got)
	}
	f.dir.SetAgentTimeout(false)
	must(t, f.e.AdminRotateResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: b.ID}))
	if got := f.getAccount(b.ID); got.StatusDetail != "ROTATED" {
		t.Fatalf("admin rotation: %s", got.StatusDetail)
	}
	if err := f.e.AdminRotateResource(f.ctx, f.alice, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: b.ID}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("end user admin rotation: got %v", err)
	}
}

func containsAny(s, chars string) bool {
	for _, c := range chars {
		for _, d := range s {
			if c == d {
				return true
			}
		}
	}
	return false
}

// TestRevealRequestWireShape decodes the seed's sample body (its UAM details carry the secret
// shape) and checks the JWE header of a reveal.
func TestRevealRequestWireShape(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	f.policy(opa.PolicyRule{Name: "r", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}, f.alice)
	m := f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
	key := testKey(t, revealjwe.KindRSA2048)
	jwk, _ := key.PublicJWK()
	// What the seed sample's body decodes to (httpapi's decodeRevealRequest): its privileges object
	// names no AD privilege, so the method carries only its rule.
	req := opa.RevealRequest{PublicKey: jwk, UserAccessMethod: opa.UserAccessMethod{AccessCredential: "managed", Brokered: true,
		Identity: "x", RuleIDs: []string{m.RuleIDs[0]}}}
	resp, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, req)
	must(t, err)
	obj, err := jose.ParseEncryptedCompact(resp.PasswordJWE, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	must(t, err)
	if obj.Header.Algorithm != "RSA-OAEP-256" {
		t.Fatalf("alg %s", obj.Header.Algorithm)
	}
	out, _ := json.Marshal(resp)
	if string(out[:16]) != `{"password_jwe":` {
		t.Fatalf("response shape: %s", out[:16])
	}
}

func TestRotationPolicyViolationIsRecorded(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	// A directory that demands longer passwords than the project generates.
	strict := memdir.New(memdir.WithPasswordPolicy(memdir.PasswordPolicy{MinLength: 100}))
	root, err := strict.AddDomain(accessDomain)
	must(t, err)
	_, err = strict.AddUser(root, memdir.User{CN: "svc1", SAMAccountName: "svc1"})
	must(t, err)
	_ = a
	res := memdir.NewResolver()
	res.Set("acme", accessDomain, strict)
	e2, err := opa.New(f.e.Store(), opa.WithClock(f.clock), opa.WithDirectoryResolver(res))
	must(t, err)
	must(t, f.e.Store().Update(f.ctx, func(tx storage.WriteTx) error {
		acct, err := storage.Accounts.Get(tx, a.ID)
		if err != nil {
			return err
		}
		acct.DistinguishedName = "CN=svc1," + root
		return storage.Accounts.Update(tx, acct)
	}))
	err = e2.AdminRotateResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID})
	if !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("policy violation: got %v", err)
	}
	got := f.getAccount(a.ID)
	if got.StatusDetail != "ROTATION_FAILED" || got.Credential.LastErrorType != opa.RotationErrPolicyViolation || got.Credential.ErrorCount != 1 {
		t.Fatalf("recorded: %s %s %d", got.StatusDetail, got.Credential.LastErrorType, got.Credential.ErrorCount)
	}
}
