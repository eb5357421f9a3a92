package opa_test

import (
	"context"
	"slices"
	"testing"

	"github.com/opakit/opa"
)

func TestModifyDirectoryGroup(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	o, _ := s.e.OPAConnection(ctx, s.admin, c.ID)
	app := o.AppInstanceID
	ops, _ := s.dir.Entry(s.dn["ops"])
	svc, _ := s.dir.Entry(s.dn["svc"])
	members := func() []string {
		e, _ := s.dir.Entry(s.dn["ops"])
		return e.GetAll("member")
	}

	// By objectGUID (group) and objectSid / DN (users).
	must(t, s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: ops.Get("objectGUID"),
		Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: []string{svc.Get("objectSid")}}}))
	if !slices.Contains(members(), s.dn["svc"]) {
		t.Fatalf("members %v", members())
	}
	must(t, s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: s.dn["ops"],
		Parameters: opa.AgentActionParameters{Action: "REMOVE", Attribute: "member", Values: []string{s.dn["svc"], s.dn["jdoe"]}}}))
	if len(members()) != 1 {
		t.Fatalf("members after remove %v", members())
	}

	valid := opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: []string{s.dn["jdoe"]}}
	for name, a := range map[string]opa.AgentAction{
		"no id":        {Parameters: valid},
		"no action":    {ID: s.dn["ops"], Parameters: opa.AgentActionParameters{Attribute: "member", Values: valid.Values}},
		"bad action":   {ID: s.dn["ops"], Parameters: opa.AgentActionParameters{Action: "TOGGLE", Attribute: "member", Values: valid.Values}},
		"no attribute": {ID: s.dn["ops"], Parameters: opa.AgentActionParameters{Action: "ADD", Values: valid.Values}},
		"no values":    {ID: s.dn["ops"], Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member"}},
	} {
		wantErr(t, name, s.e.ModifyDirectoryGroup(ctx, s.admin, app, a), opa.ErrInvalid)
	}
	ok := opa.AgentAction{ID: s.dn["ops"], Parameters: valid}
	wantErr(t, "unknown app", s.e.ModifyDirectoryGroup(ctx, s.admin, "0oanope", ok), opa.ErrNotFound)
	wantErr(t, "other team's app", s.e.ModifyDirectoryGroup(ctx, s.other, app, ok), opa.ErrNotFound)
	wantErr(t, "unknown group", s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: "00g1xucgTZFrziXg10g4", Parameters: valid}), opa.ErrNotFound)
	wantErr(t, "a user is not a group", s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: s.dn["jdoe"], Parameters: valid}), opa.ErrNotFound)
	wantErr(t, "unknown user", s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: s.dn["ops"],
		Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: []string{"S-1-5-21-1-2-3-999999"}}}), opa.ErrNotFound)
	wantErr(t, "end user", s.e.ModifyDirectoryGroup(ctx, s.enduser, app, ok), opa.ErrForbidden)
	s.dir.SetNoAgent(true)
	wantErr(t, "no agent", s.e.ModifyDirectoryGroup(ctx, s.admin, app, ok), opa.ErrUnavailable)
	s.dir.SetNoAgent(false)
	s.dir.SetAgentTimeout(true)
	wantErr(t, "agent timeout", s.e.ModifyDirectoryGroup(ctx, s.admin, app, ok), opa.ErrTimeout)
	s.dir.SetAgentTimeout(false)
	s.resolver.Set("acme", "corp.example.com", nil)
	wantErr(t, "no directory at all", s.e.ModifyDirectoryGroup(ctx, s.admin, app, ok), opa.ErrUnavailable)

	events, err := s.e.AuditEvents(ctx, s.sys, opa.AuditFilter{Action: opa.AuditGroupModify})
	must(t, err)
	// Audited: 2 successes and 6 failures past the app instance lookup (unknown group, not a group,
	// unknown user, no agent, timeout, no directory).
	failures := 0
	for _, ev := range events {
		if ev.Outcome == "failure" {
			failures++
		}
	}
	if len(events) != 8 || failures != 6 {
		t.Fatalf("%d audit events (%d failures), want 8 (6)", len(events), failures)
	}
}
