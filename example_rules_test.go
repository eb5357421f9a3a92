package opa_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

// rulesExampleSetup returns an engine with a team, a project and an AD connection whose in-memory
// directory holds an admin account adm.jane in OU=Admins and a service account in OU=Service.
func rulesExampleSetup() (e *opa.Engine, sys opa.Principal, rgID, projectID, connID string) {
	ctx := context.Background()
	clock := opa.NewManualClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	resolver := memdir.NewResolver()
	e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(1), opa.WithDirectoryResolver(resolver))
	if err != nil {
		log.Fatal(err)
	}
	team, _ := e.CreateTeam(ctx, "acme")
	sys = opa.SystemPrincipal(team)
	rg, _ := e.CreateResourceGroup(ctx, sys, "infra", "")
	pr, _ := e.CreateProject(ctx, sys, rg.ID, "tier0")
	if _, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "jane.doe"}); err != nil {
		log.Fatal(err)
	}
	d := memdir.New(memdir.WithClock(clock.Now))
	root, _ := d.AddDomain("corp.example.com")
	admins, _ := d.AddOU(root, "Admins")
	service, _ := d.AddOU(root, "Service")
	_, _ = d.AddUser(admins, memdir.User{SAMAccountName: "adm.jane.doe", UserPrincipalName: "adm.jane.doe@corp.example.com"})
	_, _ = d.AddUser(service, memdir.User{SAMAccountName: "svc_backup", UserPrincipalName: "svc_backup@corp.example.com"})
	resolver.Set("acme", "corp.example.com", d)
	conn, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "corp", Domain: "corp.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	return e, sys, rg.ID, pr.ID, conn.ID
}

// Account rules decide which discovered accounts are managed, as what type and in which project;
// the rule settings match INDIVIDUAL accounts to users (here: "adm." + username).
func ExampleEngine_CreateAccountRule() {
	ctx := context.Background()
	e, sys, rgID, projectID, connID := rulesExampleSetup()

	err := e.ConfigureAccountRuleSettings(ctx, sys, connID, opa.RuleSettings{
		MatchingCriteria:        opa.MatchingCriteria{Username: true},
		AllowPartialMatches:     true,
		PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: opa.PartialStartsWith, MatchValue: "adm"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	target := func(name, typ, ou string) opa.AccountRuleInput {
		return opa.AccountRuleInput{Name: name, RuleType: typ, OrganizationalUnits: []string{ou},
			ResourceGroup: opa.NamedObject{ID: rgID}, Project: opa.NamedObject{ID: projectID}}
	}
	if _, err := e.CreateAccountRule(ctx, sys, connID, target("admins", opa.AccountIndividual, "OU=Admins,DC=corp,DC=example,DC=com")); err != nil {
		log.Fatal(err)
	}
	if _, err := e.CreateAccountRule(ctx, sys, connID, target("service", opa.AccountShared, "ou=service,dc=CORP,dc=example,dc=com")); err != nil {
		log.Fatal(err)
	}
	if err := e.ForceSync(ctx, sys, connID); err != nil { // import, then rules and matching
		log.Fatal(err)
	}
	page, err := e.DiscoveredADAccounts(ctx, sys, connID, opa.DiscoveredQuery{})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range page.Items {
		user := "-"
		if a.MatchedUser != nil {
			user = a.MatchedUser.Name
		}
		fmt.Println(a.AccountName, a.AccountType, a.Project.Name, a.MatchStatus, user)
	}
	// Unordered output:
	// adm.jane.doe INDIVIDUAL tier0 MATCH jane.doe
	// svc_backup SHARED tier0 NOT_APPLICABLE -
}

// Reordering takes the full list of rules; lower numbers win and priorities are renumbered 1..n.
func ExampleEngine_ReorderAccountRules() {
	ctx := context.Background()
	e, sys, rgID, projectID, connID := rulesExampleSetup()
	var ids []string
	for _, name := range []string{"first", "second"} {
		r, err := e.CreateAccountRule(ctx, sys, connID, opa.AccountRuleInput{Name: name, RuleType: opa.AccountShared,
			OrganizationalUnits: []string{"DC=corp,DC=example,DC=com"}, ResourceGroup: opa.NamedObject{ID: rgID}, Project: opa.NamedObject{ID: projectID}})
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	rules, err := e.ReorderAccountRules(ctx, sys, connID, []opa.RulePriority{{RuleID: ids[0], Priority: 20}, {RuleID: ids[1], Priority: 10}})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rules {
		fmt.Println(r.Priority, r.Name)
	}
	_, err = e.ReorderAccountRules(ctx, sys, connID, []opa.RulePriority{{RuleID: ids[0], Priority: 1}})
	fmt.Println(opa.ErrorClass(err) == opa.ErrConflict) // the list leaves a rule out: stale view
	// Output:
	// 1 second
	// 2 first
	// true
}

// A match override assigns an INDIVIDUAL account to a user whatever the rule settings say;
// force_no_match assigns it to nobody.
func ExampleEngine_UpdateADAccountMatch() {
	ctx := context.Background()
	e, sys, rgID, projectID, connID := rulesExampleSetup()
	bob, _ := e.CreateUser(ctx, sys, opa.UserInput{Username: "bob"})
	_, err := e.CreateAccountRule(ctx, sys, connID, opa.AccountRuleInput{Name: "admins", RuleType: opa.AccountIndividual,
		OrganizationalUnits: []string{"OU=Admins,DC=corp,DC=example,DC=com"}, ResourceGroup: opa.NamedObject{ID: rgID}, Project: opa.NamedObject{ID: projectID}})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.ForceSync(ctx, sys, connID); err != nil {
		log.Fatal(err)
	}
	page, _ := e.DiscoveredADAccounts(ctx, sys, connID, opa.DiscoveredQuery{ContainsAccountNameOrAssignedOPAUser: "adm."})
	acct := page.Items[0]
	fmt.Println(acct.AccountName, acct.MatchStatus)
	m, err := e.UpdateADAccountMatch(ctx, sys, connID, acct.ID, opa.AccountMatchInput{MatchOverrideUserID: bob.ID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.MatchOverrideUserID == bob.ID, m.ForceNoMatch)
	d, _ := e.GetADAccount(ctx, sys, connID, acct.ID)
	fmt.Println(d.MatchStatus, d.MatchedUser.Name)
	_, err = e.UpdateADAccountMatch(ctx, sys, connID, acct.ID, opa.AccountMatchInput{MatchOverrideUserID: bob.ID, ForceNoMatch: true})
	fmt.Println(opa.ErrorClass(err) == opa.ErrInvalid)
	// Output:
	// adm.jane.doe NO_MATCH
	// true false
	// OVERRIDDEN bob
	// true
}
