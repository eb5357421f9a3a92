package opa_test

import (
	"context"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
)

// TestInitialRotationFollowsManagement: the flag rotates the accounts a rule brings under
// management (at the rule change or at the sync that discovers them), not those it already
// manages; clearing the flag, or the account leaving management, cancels a pending initial
// rotation (the next tick rotates nothing).
func TestInitialRotationFollowsManagement(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))
	accounts := func() map[string]opa.ADAccountDetails {
		page, err := s.e.DiscoveredADAccounts(ctx, s.admin, c.ID, opa.DiscoveredQuery{})
		must(t, err)
		out := map[string]opa.ADAccountDetails{}
		for _, a := range page.Items {
			d, err := s.e.GetADAccount(ctx, s.admin, c.ID, a.ID)
			must(t, err)
			out[a.SAMAccountName] = d
		}
		return out
	}
	rotated := func(key string) bool { pw, _ := s.dir.Password(s.dn[key]); return pw != "" }
	rule := func(flag bool) opa.AccountRuleInput {
		return opa.AccountRuleInput{Name: "users", RuleType: opa.AccountShared, OrganizationalUnits: []string{s.dn["users"]},
			ResourceGroup: opa.NamedObject{ID: s.rg.ID}, Project: opa.NamedObject{ID: s.web.ID}, EnableInitialPasswordRotation: flag}
	}

	// Under management without the flag, then the flag set: nothing rotates.
	r, err := s.e.CreateAccountRule(ctx, s.admin, c.ID, rule(false))
	must(t, err)
	_, err = s.e.UpdateAccountRule(ctx, s.admin, c.ID, r.ID, rule(true))
	must(t, err)
	if rotated("jdoe") || accounts()["jdoe"].AccountStatusDetail != opa.StatusMissingPassword {
		t.Fatalf("setting the flag on a rule rotated an account it already managed: %+v", accounts()["jdoe"])
	}

	// A new account discovered by a sync under the flagged rule is rotated by that sync.
	v, err := s.dir.AddUser(s.dn["users"], memdir.User{SAMAccountName: "svc_new", UserPrincipalName: "svc_new@corp.example.com"})
	must(t, err)
	s.dn["new"] = v
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))
	if !rotated("new") || accounts()["svc_new"].AccountStatusDetail != opa.StatusRotated {
		t.Fatalf("a newly discovered account was not rotated: %+v", accounts()["svc_new"])
	}

	// Unmanaged, then managed again with the agent down: pending, failed; then the flag cleared:
	// cancelled, and the tick rotates nothing.
	must(t, s.e.DeleteAccountRule(ctx, s.admin, c.ID, r.ID))
	s.dir.SetNoAgent(true)
	r, err = s.e.CreateAccountRule(ctx, s.admin, c.ID, rule(true))
	must(t, err)
	s.dir.SetNoAgent(false)
	if a := accounts()["jdoe"]; a.AccountStatusDetail != opa.StatusRotationFailed || a.LastPasswordChangeErrorType != opa.RotationErrAgentUnavailable {
		t.Fatalf("initial rotation with no agent: %+v", a)
	}
	_, err = s.e.UpdateAccountRule(ctx, s.admin, c.ID, r.ID, rule(false))
	must(t, err)
	s.clock.Advance(time.Minute)
	must(t, s.e.Tick(ctx))
	if rotated("jdoe") || rotated("admjdoe") {
		t.Fatal("a cancelled initial rotation ran at the tick")
	}

	// Pending again, then the account leaves management: cancelled too.
	_, err = s.e.UpdateAccountRule(ctx, s.admin, c.ID, r.ID, rule(true)) // already managed: not pending
	must(t, err)
	must(t, s.e.DeleteAccountRule(ctx, s.admin, c.ID, r.ID))
	s.dir.SetNoAgent(true)
	r, err = s.e.CreateAccountRule(ctx, s.admin, c.ID, rule(true))
	must(t, err)
	s.dir.SetNoAgent(false)
	must(t, s.e.DeleteAccountRule(ctx, s.admin, c.ID, r.ID))
	must(t, s.e.Tick(ctx))
	if rotated("jdoe") {
		t.Fatal("the initial rotation of an account no longer managed ran at the tick")
	}
	// And with the agent up, the flag rotates at once.
	_, err = s.e.CreateAccountRule(ctx, s.admin, c.ID, rule(true))
	must(t, err)
	if !rotated("jdoe") || !rotated("admjdoe") || !rotated("svc") {
		t.Fatal("the accounts coming under management were not rotated")
	}
}
