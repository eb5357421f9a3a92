package opa_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
)

var oktaIDShape = regexp.MustCompile(`^00[gu][0-9A-Za-z]{17}$`)

// TestModifyDirectoryGroupByOktaID: groups/modify names the group and the users by the Okta ids
// of the imported objects, as the reference's sample does; derived ids are stable, assigned ones
// replace them, and both follow the object through a rename.
func TestModifyDirectoryGroupByOktaID(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	o, _ := s.e.OPAConnection(ctx, s.admin, c.ID)
	app := o.AppInstanceID
	members := func() []string {
		e, _ := s.dir.Entry(s.dn["ops"])
		return e.GetAll("member")
	}
	oktaID := func(ref string) string {
		t.Helper()
		id, err := s.e.DirectoryOktaID(ctx, s.admin, c.ID, ref)
		must(t, err)
		return id
	}

	opsID, svcID, dbasID := oktaID(s.dn["ops"]), oktaID(s.dn["svc"]), oktaID(s.dn["dbas"])
	for _, id := range []string{opsID, svcID, dbasID} {
		if !oktaIDShape.MatchString(id) {
			t.Fatalf("Okta id %q is not 00g/00u and 17 letters or digits", id)
		}
	}
	if opsID[:3] != "00g" || svcID[:3] != "00u" || opsID == dbasID {
		t.Fatalf("ids ops %s dbas %s svc %s", opsID, dbasID, svcID)
	}
	svc, _ := s.dir.Entry(s.dn["svc"])
	if got := oktaID(svc.Get("objectSid")); got != svcID {
		t.Fatalf("by SID %s, by DN %s", got, svcID)
	}
	if got := oktaID(svcID); got != svcID {
		t.Fatalf("by its own Okta id %s, want %s", got, svcID)
	}
	wantErr(t, "a computer has no Okta id", errOf(s.e.DirectoryOktaID(ctx, s.admin, c.ID, s.dn["web1"])), opa.ErrNotFound)

	add := func(group string, values ...string) error {
		return s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: group,
			Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: values}})
	}
	must(t, add(opsID, svcID))
	if !slices.Contains(members(), s.dn["svc"]) {
		t.Fatalf("members %v", members())
	}
	// A nested group by its 00g id, mixed with a DN.
	must(t, s.e.ModifyDirectoryGroup(ctx, s.admin, app, opa.AgentAction{ID: opsID,
		Parameters: opa.AgentActionParameters{Action: "REMOVE", Attribute: "member", Values: []string{svcID, s.dn["jdoe"]}}}))
	must(t, add(opsID, dbasID))
	if m := members(); slices.Contains(m, s.dn["svc"]) || slices.Contains(m, s.dn["jdoe"]) || !slices.Contains(m, s.dn["dbas"]) {
		t.Fatalf("members after remove and nested add %v", m)
	}

	// Errors: nothing changes.
	before := members()
	for name, a := range map[string]struct {
		group  string
		values []string
	}{
		"unknown 00g":           {"00g1xucgTZFrziXg10g4", []string{svcID}},
		"a user's id as group":  {svcID, []string{svcID}},
		"unknown 00u":           {opsID, []string{"00u1xucgTZFrziXg10g4"}},
		"known and unknown 00u": {opsID, []string{svcID, "00uAAAAAAAAAAAAAAAAA"}},
	} {
		wantErr(t, name, add(a.group, a.values...), opa.ErrNotFound)
	}
	if m := members(); !slices.Equal(m, before) {
		t.Fatalf("a refused change changed the members: %v, was %v", m, before)
	}

	// Stable: another engine over the same directory, with the same team and domain, derives the
	// same ids (so they survive restarts and reloads).
	s2 := newSyncEnv(t)
	c2 := s2.conn(t)
	id2, err := s2.e.DirectoryOktaID(ctx, s2.admin, c2.ID, s2.dn["ops"])
	must(t, err)
	ops2, _ := s2.dir.Entry(s2.dn["ops"])
	ops1, _ := s.dir.Entry(s.dn["ops"])
	if ops1.Get("objectGUID") != ops2.Get("objectGUID") || id2 != opsID {
		t.Fatalf("same team, domain and directory: objectGUIDs %s %s, ids %s %s", ops1.Get("objectGUID"), ops2.Get("objectGUID"), id2, opsID)
	}

	// Assigned ids: the fixture's (or an admin's) choice replaces the derived one.
	const assigned = "00gOpsFromFixture001"
	must(t, s.e.AssignDirectoryOktaID(ctx, s.admin, c.ID, assigned, s.dn["ops"]))
	must(t, s.e.AssignDirectoryOktaID(ctx, s.admin, c.ID, assigned, s.dn["ops"])) // the same again: no-op
	if got := oktaID(s.dn["ops"]); got != assigned {
		t.Fatalf("assigned id reads back %s", got)
	}
	wantErr(t, "the derived id no longer names it", add(opsID, svcID), opa.ErrNotFound)
	must(t, add(assigned, svcID))
	if !slices.Contains(members(), s.dn["svc"]) {
		t.Fatalf("members %v", members())
	}

	// A rename: the ids follow the objectGUID.
	jdoeID := oktaID(s.dn["jdoe"])
	jdoe, _ := s.dir.Entry(s.dn["jdoe"])
	must(t, s.dir.Remove(s.dn["jdoe"]))
	moved := "CN=Jane Doe,OU=Groups," + s.dn["root"]
	must(t, s.dir.Add(memdir.EntrySpec{DN: moved, Attributes: map[string][]string{
		"objectClass": jdoe.GetAll("objectClass"), "objectGUID": {jdoe.Get("objectGUID")},
		"objectSid": {jdoe.Get("objectSid")}, "sAMAccountName": {"jdoe"}}}))
	if got := oktaID(moved); got != jdoeID {
		t.Fatalf("after a move the id is %s, was %s", got, jdoeID)
	}
	must(t, add(assigned, jdoeID))
	if !slices.Contains(members(), moved) {
		t.Fatalf("members %v", members())
	}

	// Assignment errors.
	for name, tc := range map[string]struct {
		id, ref string
		class   error
	}{
		"malformed id":              {"00gshort", s.dn["dbas"], opa.ErrInvalid},
		"wrong prefix":              {"00x1xucgTZFrziXg10g4", s.dn["dbas"], opa.ErrInvalid},
		"non-alphanumeric":          {"00g1xucgTZFrziXg10-4", s.dn["dbas"], opa.ErrInvalid},
		"empty ref":                 {"00g1xucgTZFrziXg10g4", "", opa.ErrInvalid},
		"a group id for a user":     {"00g1xucgTZFrziXg10g4", s.dn["svc"], opa.ErrInvalid},
		"a user id for a group":     {"00u1xucgTZFrziXg10g4", s.dn["dbas"], opa.ErrInvalid},
		"a computer":                {"00u1xucgTZFrziXg10g4", s.dn["web1"], opa.ErrInvalid},
		"unknown object":            {"00g1xucgTZFrziXg10g4", "S-1-5-21-1-2-3-999999", opa.ErrNotFound},
		"id of another object":      {assigned, s.dn["dbas"], opa.ErrConflict},
		"object already has an id":  {"00gAnotherIdForOps01", s.dn["ops"], opa.ErrConflict},
		"ref by Okta id is refused": {"00g1xucgTZFrziXg10g4", dbasID, opa.ErrInvalid},
	} {
		wantErr(t, name, s.e.AssignDirectoryOktaID(ctx, s.admin, c.ID, tc.id, tc.ref), tc.class)
	}
	wantErr(t, "other team", s.e.AssignDirectoryOktaID(ctx, s.other, c.ID, "00g1xucgTZFrziXg10g4", s.dn["dbas"]), opa.ErrNotFound)
	wantErr(t, "end user assigns", s.e.AssignDirectoryOktaID(ctx, s.enduser, c.ID, "00g1xucgTZFrziXg10g4", s.dn["dbas"]), opa.ErrForbidden)
	wantErr(t, "end user reads", errOf(s.e.DirectoryOktaID(ctx, s.enduser, c.ID, s.dn["dbas"])), opa.ErrForbidden)
	wantErr(t, "other team reads", errOf(s.e.DirectoryOktaID(ctx, s.other, c.ID, s.dn["dbas"])), opa.ErrNotFound)
	if got := oktaID(s.dn["dbas"]); got != dbasID {
		t.Fatalf("a refused assignment changed the id of dbas to %s", got)
	}
	s.dir.SetNoAgent(true)
	wantErr(t, "no agent", s.e.AssignDirectoryOktaID(ctx, s.admin, c.ID, "00g1xucgTZFrziXg10g4", s.dn["dbas"]), opa.ErrUnavailable)
	wantErr(t, "no agent, by okta id", add(assigned, svcID), opa.ErrUnavailable)
	s.dir.SetNoAgent(false)
}

func errOf[T any](_ T, err error) error { return err }

// TestModifyDirectoryGroupManyValues: 250 users named in every form at once (more than one
// batch of objectSid and objectGUID lookups) all become members; one unknown value among them is
// 404 naming it, and nothing changes.
func TestModifyDirectoryGroupManyValues(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	o, _ := s.e.OPAConnection(ctx, s.admin, c.ID)
	var values, dns []string
	for i := range 250 {
		dn, err := s.dir.AddUser(s.dn["users"], memdir.User{SAMAccountName: fmt.Sprintf("bulk%03d", i)})
		must(t, err)
		en, _ := s.dir.Entry(dn)
		dns = append(dns, dn)
		switch i % 5 {
		case 0:
			values = append(values, en.Get("objectSid"))
		case 1:
			values = append(values, strings.ToUpper(en.Get("objectGUID")))
		case 2:
			values = append(values, dn)
		case 3:
			id, err := s.e.DirectoryOktaID(ctx, s.admin, c.ID, dn)
			must(t, err)
			values = append(values, id)
		case 4:
			id := fmt.Sprintf("00uBulk%013d", i)
			must(t, s.e.AssignDirectoryOktaID(ctx, s.admin, c.ID, id, dn))
			values = append(values, id)
		}
	}
	members := func() []string {
		e, _ := s.dir.Entry(s.dn["dbas"])
		return e.GetAll("member")
	}
	before := members()
	bad := slices.Clone(values)
	bad[137] = "S-1-5-21-1-2-3-999999"
	err := s.e.ModifyDirectoryGroup(ctx, s.admin, o.AppInstanceID, opa.AgentAction{ID: s.dn["dbas"],
		Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: bad}})
	wantErr(t, "one unknown value", err, opa.ErrNotFound)
	if !strings.Contains(err.Error(), "S-1-5-21-1-2-3-999999 (User)") {
		t.Fatalf("the error does not name the unknown value: %v", err)
	}
	if !slices.Equal(members(), before) {
		t.Fatalf("a refused change changed the members")
	}
	must(t, s.e.ModifyDirectoryGroup(ctx, s.admin, o.AppInstanceID, opa.AgentAction{ID: s.dn["dbas"],
		Parameters: opa.AgentActionParameters{Action: "ADD", Attribute: "member", Values: values}}))
	got := members()
	for _, dn := range dns {
		if !slices.ContainsFunc(got, func(m string) bool { return strings.EqualFold(m, dn) }) {
			t.Fatalf("%s is not a member (%d members)", dn, len(got))
		}
	}
}
