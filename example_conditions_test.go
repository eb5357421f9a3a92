package opa_test

import (
	"context"
	"fmt"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
)

// An embedder decides the MFA condition of a policy rule with its own step-up service: until the
// user has passed it, the access method's condition is not met and a rotation through it is
// refused, naming the condition.
func ExampleWithConditionDecider() {
	passedStepUp := map[string]bool{}
	decider := opa.ConditionDeciderFunc(func(_ context.Context, req opa.ConditionRequest) (bool, error) {
		return req.Condition == opa.ConditionMFA && passedStepUp[req.Principal.Username], nil
	})
	ctx, e, _, _, alice, acct := exampleSetup(opa.WithConditionDecider(decider))
	team, _ := e.Team(ctx, "acme")
	_, _ = e.CreatePolicy(ctx, opa.SystemPrincipal(team), opa.PolicyInput{
		Name: "step-up rotation", Active: true, PrincipalUserIDs: []string{alice.UserID},
		Rules: []opa.PolicyRule{{
			Name:       "rotate after MFA",
			Privileges: []string{opa.PrivilegeRotatePassword},
			Resources:  opa.PolicyResources{ADAccountIDs: []string{acct.ID}},
			Conditions: opa.PolicyConditions{MFARequired: true},
		}},
	})
	rotate := func() (bool, error) {
		uams, err := e.ADAccountUAMs(ctx, alice, acct.ConnectionID, acct.ID, opa.PrivilegeRotatePassword)
		if err != nil {
			return false, err
		}
		return uams[0].Conditionals[0].ConditionIsMet,
			e.RotateADAccountPassword(ctx, alice, acct.ConnectionID, acct.ID, opa.RotateRequest{UserAccessMethod: uams[0]})
	}

	met, err := rotate()
	fmt.Println(met, errors.Is(err, opa.ErrForbidden), err)
	passedStepUp["alice"] = true
	fmt.Println(rotate())
	// Output:
	// false true the user access method's policy rule "rotate after MFA" requires mfa (multi-factor authentication), which is not met for this user
	// true <nil>
}
