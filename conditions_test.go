package opa_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
)

// recordingDecider answers from met (condition -> met) and records every question.
type recordingDecider struct {
	mu   sync.Mutex
	met  map[opa.Condition]bool
	err  error
	asks []opa.ConditionRequest
}

func (d *recordingDecider) DecideCondition(_ context.Context, req opa.ConditionRequest) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asks = append(d.asks, req)
	return d.met[req.Condition], d.err
}

func (d *recordingDecider) set(c opa.Condition, met bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.met[c] = met
}

// TestConditionsWithoutDecider: by default an MFA or access request condition is never met: the
// access method shows condition_is_met false, and a reveal or rotation through it is ErrForbidden
// naming the condition; a rule without conditions still works.
func TestConditionsWithoutDecider(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	f.policy(opa.PolicyRule{Name: "mfa", Privileges: []string{opa.PrivilegeRevealPassword, opa.PrivilegeRotatePassword},
		Resources:  opa.PolicyResources{ADAccountIDs: []string{a.ID}},
		Conditions: opa.PolicyConditions{MFARequired: true, AccessRequestRequired: true}}, f.alice)
	m := f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
	if len(m.Conditionals) != 2 || m.Conditionals[0].Type != "mfa" || m.Conditionals[0].ConditionIsMet || m.Conditionals[1].Type != "access_request" {
		t.Fatalf("conditionals %+v", m.Conditionals)
	}
	_, err := f.reveal(f.alice, a.ID, testKey(t, revealjwe.KindP256))
	wantErr(t, "reveal", err, opa.ErrForbidden)
	if !strings.Contains(err.Error(), "requires mfa") {
		t.Fatalf("the refusal does not name the condition: %v", err)
	}
	rm := f.uam(f.alice, a.ID, opa.PrivilegeRotatePassword)
	err = f.e.RotateADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: rm})
	wantErr(t, "rotate", err, opa.ErrForbidden)
	if !strings.Contains(err.Error(), "requires mfa") {
		t.Fatalf("the rotate refusal does not name the condition: %v", err)
	}
	if pw, _ := f.dir.Password(a.DistinguishedName); pw != "Initial-1" {
		t.Fatal("a refused operation changed the directory")
	}
}

// TestConditionDecider: the decider is asked, outside any transaction, about each condition of
// the rule for the principal, the account, the privilege and the engine's time; the access method
// shows its answers; a reveal and a rotation succeed only when every condition is met, and name
// the first unmet one otherwise; the decider's error fails the operation (ErrUnavailable when it
// has no class); a Universal Directory account is decided the same way.
func TestConditionDecider(t *testing.T) {
	d := &recordingDecider{met: map[opa.Condition]bool{}}
	f := newAccessFixture(t, opa.WithConditionDecider(d))
	a := f.account("svc1", opa.AccountTypeShared, "")
	pol := f.policy(opa.PolicyRule{Name: "guarded", Privileges: []string{opa.PrivilegeRevealPassword, opa.PrivilegeRotatePassword},
		Resources:  opa.PolicyResources{ADAccountIDs: []string{a.ID}},
		Conditions: opa.PolicyConditions{MFARequired: true, AccessRequestRequired: true}}, f.alice)
	key := testKey(t, revealjwe.KindP256)

	m := f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
	if m.Conditionals[0].ConditionIsMet || m.Conditionals[1].ConditionIsMet {
		t.Fatalf("nothing approved yet: %+v", m.Conditionals)
	}
	d.set(opa.ConditionMFA, true)
	_, err := f.reveal(f.alice, a.ID, key)
	wantErr(t, "access request not met", err, opa.ErrForbidden)
	if !strings.Contains(err.Error(), "requires access_request") {
		t.Fatalf("refusal %v does not name access_request", err)
	}
	d.set(opa.ConditionAccessRequest, true)
	m = f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
	if !m.Conditionals[0].ConditionIsMet || !m.Conditionals[1].ConditionIsMet {
		t.Fatalf("both approved: %+v", m.Conditionals)
	}
	d.mu.Lock()
	d.asks = nil
	d.mu.Unlock()
	pw, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	if got, _ := f.dir.Password(a.DistinguishedName); got != pw {
		t.Fatal("the revealed password is not the directory's")
	}
	d.mu.Lock()
	asks := d.asks
	d.mu.Unlock()
	var reveal []opa.ConditionRequest
	for _, q := range asks {
		if q.Privilege == opa.PrivilegeRevealPassword {
			reveal = append(reveal, q)
		}
	}
	if len(reveal) < 4 { // two for the listing of the access method, two for the reveal
		t.Fatalf("questions %+v", asks)
	}
	q := reveal[len(reveal)-1]
	want := opa.ConditionRequest{Condition: opa.ConditionAccessRequest, Principal: f.alice,
		Resource: opa.ConditionResource{Type: opa.ResourceTypeADAccount, ID: a.ID, Name: a.UPN, ConnectionID: f.conn.ID,
			ProjectID: f.proj.ID, ResourceGroupID: f.rg.ID},
		PolicyID: pol.ID, RuleID: pol.Rules[0].ID, Privilege: opa.PrivilegeRevealPassword, Time: f.clock.Now().UTC()}
	if q.Condition != want.Condition || q.Principal.UserID != want.Principal.UserID || q.Principal.Username != "alice" ||
		q.Resource != want.Resource || q.PolicyID != want.PolicyID || q.RuleID != want.RuleID || !q.Time.Equal(want.Time) {
		t.Fatalf("question %+v, want %+v", q, want)
	}

	// Rotation: decided for rotate_password.
	rm := f.uam(f.alice, a.ID, opa.PrivilegeRotatePassword)
	d.set(opa.ConditionMFA, false)
	wantErr(t, "rotate without mfa", f.e.RotateADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: rm}), opa.ErrForbidden)
	d.set(opa.ConditionMFA, true)
	must(t, f.e.RotateADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: rm}))

	// The decider fails: the operation fails with its error, and an unclassed one is unavailable.
	d.mu.Lock()
	d.err = errors.New("the MFA service is down")
	d.mu.Unlock()
	pub, err := key.PublicJWK()
	must(t, err)
	_, err = f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, opa.RevealRequest{PublicKey: pub, UserAccessMethod: m})
	wantErr(t, "reveal with the decider down", err, opa.ErrUnavailable)
	_, err = f.e.ADAccountUAMs(f.ctx, f.alice, f.conn.ID, a.ID, "")
	wantErr(t, "access methods with the decider down", err, opa.ErrUnavailable)
	d.mu.Lock()
	d.err = nil
	d.mu.Unlock()

	// A Universal Directory account is decided the same way.
	ud, err := f.e.CreateUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.UDAccountInput{Name: "gh", Username: "gh@okta.example", Password: "Vaulted-gh"})
	must(t, err)
	f.policy(opa.PolicyRule{Name: "ud", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{UDAccountIDs: []string{ud.ID}}, Conditions: opa.PolicyConditions{MFARequired: true}}, f.alice)
	ums, err := f.e.UDAccountUAMs(f.ctx, f.alice, ud.ID)
	must(t, err)
	jwk := pub
	d.set(opa.ConditionMFA, false)
	_, err = f.e.RevealUDAccountPassword(f.ctx, f.alice, ud.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ums[0]})
	wantErr(t, "UD reveal without mfa", err, opa.ErrForbidden)
	d.set(opa.ConditionMFA, true)
	resp, err := f.e.RevealUDAccountPassword(f.ctx, f.alice, ud.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ums[0]})
	must(t, err)
	if pt, err := revealjwe.Decrypt(resp.PasswordJWE, key); err != nil || string(pt) != "Vaulted-gh" {
		t.Fatalf("UD reveal: %q, %v", pt, err)
	}
	if _, err := opa.New(f.e.Store(), opa.WithConditionDecider(nil)); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("nil decider: %v", err)
	}
}
