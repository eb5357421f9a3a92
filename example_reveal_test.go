package opa_test

import (
	"context"
	"fmt"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// exampleSetup builds an engine over memstore and an in-memory directory with one managed shared
// account, svc-backup, and returns it with an end user, alice, whom a security policy lets reveal
// it with a checkout. opts are passed to opa.New after the setup's own.
func exampleSetup(opts ...opa.Option) (context.Context, *opa.Engine, *opa.ManualClock, *memdir.Dir, opa.Principal, storage.Account) {
	ctx := context.Background()
	dir := memdir.New()
	res := memdir.NewResolver()
	res.Set("acme", "corp.example.com", dir)
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	e, _ := opa.New(memstore.New(), append([]opa.Option{opa.WithClock(clock), opa.WithSeed(1), opa.WithDirectoryResolver(res)}, opts...)...)

	root, _ := dir.AddDomain("corp.example.com")
	dn, _ := dir.AddUser(root, memdir.User{SAMAccountName: "svc-backup", UserPrincipalName: "svc-backup@corp.example.com"})

	team, _ := e.CreateTeam(ctx, "acme")
	sys := opa.SystemPrincipal(team)
	_, _ = e.CreateUser(ctx, sys, opa.UserInput{Username: "alice"})
	alice, _ := e.PrincipalForUser(ctx, "acme", "alice")
	rg, _ := e.CreateResourceGroup(ctx, sys, "servers", "")
	proj, _ := e.CreateProject(ctx, sys, rg.ID, "backup")

	// Connections and accounts normally come from the sync and the account rules.
	conn := storage.Connection{ID: "c0000000-0000-4000-8000-000000000001", TeamID: team.ID, Domain: "corp.example.com", Status: "connected"}
	acct := storage.Account{ID: "a0000000-0000-4000-8000-000000000001", TeamID: team.ID, ConnectionID: conn.ID,
		Domain: conn.Domain, SID: "S-1-5-21-1-1105", UPN: "svc-backup@corp.example.com", SAMAccountName: "svc-backup",
		DistinguishedName: dn, AccountType: opa.AccountTypeShared, ProjectID: proj.ID, ResourceGroupID: rg.ID,
		StatusDetail: "MISSING_PASSWORD"}
	_ = e.Store().Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Connections.Insert(tx, &conn); err != nil {
			return err
		}
		return storage.Accounts.Insert(tx, &acct)
	})

	_, _ = e.CreatePolicy(ctx, sys, opa.PolicyInput{
		Name: "backup operators", Active: true, PrincipalUserIDs: []string{alice.UserID},
		Rules: []opa.PolicyRule{{
			Name:       "reveal with checkout",
			Privileges: []string{opa.PrivilegeRevealPassword},
			Resources:  opa.PolicyResources{ADConnectionIDs: []string{conn.ID}, ADAccountTypes: []string{opa.AccountTypeShared}},
			Conditions: opa.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 900},
		}},
	})
	return ctx, e, clock, dir, alice, acct
}

// An end user lists the access methods of an account, reveals its password with a key pair of her
// own and decrypts the JWE. The reveal checks the account out.
func Example_reveal() {
	ctx, e, _, dir, alice, acct := exampleSetup()

	uams, _ := e.ADAccountUAMs(ctx, alice, acct.ConnectionID, acct.ID, opa.PrivilegeRevealPassword)
	fmt.Println("checkout required:", uams[0].CheckoutRequirements.Required, uams[0].CheckoutRequirements.MaxCheckoutDurationInSeconds)

	key, _ := revealjwe.GenerateKey(revealjwe.KindP256)
	jwk, _ := key.PublicJWK()
	resp, err := e.RevealADAccountPassword(ctx, alice, acct.ConnectionID, acct.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: uams[0]})
	if err != nil {
		fmt.Println(err)
		return
	}
	pw, _ := revealjwe.Decrypt(resp.PasswordJWE, key)
	current, _ := dir.Password(acct.DistinguishedName)
	fmt.Println("matches the directory:", string(pw) == current)

	d, _ := e.ADAccountEndUser(ctx, alice, acct.ConnectionID, acct.ID)
	fmt.Println(d.Account.AvailabilityStatus, d.CheckoutDetails.CurrentUserCheckoutExpiresAt.Format(time.Kitchen))
	// Output:
	// checkout required: true 900
	// matches the directory: true
	// CHECKED_OUT 9:15AM
}

// When a checkout expires, the next Tick checks the account in and rotates its password.
func Example_checkoutExpiry() {
	ctx, e, clock, dir, alice, acct := exampleSetup()
	uams, _ := e.ADAccountUAMs(ctx, alice, acct.ConnectionID, acct.ID, "")
	key, _ := revealjwe.GenerateKey(revealjwe.KindRSA2048)
	jwk, _ := key.PublicJWK()
	_, _ = e.RevealADAccountPassword(ctx, alice, acct.ConnectionID, acct.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: uams[0]})
	before, _ := dir.Password(acct.DistinguishedName)

	clock.Advance(15 * time.Minute)
	_ = e.Tick(ctx)

	after, _ := dir.Password(acct.DistinguishedName)
	d, _ := e.ADAccountEndUser(ctx, alice, acct.ConnectionID, acct.ID)
	fmt.Println(d.Account.AvailabilityStatus, d.Account.AccountStatusDetail, "rotated:", before != after)
	fmt.Println("rotations:", d.Rotation.PasswordChangeSuccessCount)
	// Output:
	// AVAILABLE ROTATED rotated: true
	// rotations: 2
}
