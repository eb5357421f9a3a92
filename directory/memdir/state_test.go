package memdir_test

import (
	"context"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/memdir"
)

// TestStateRoundTrip: a directory made FromState another's State holds the same entries,
// passwords, group memberships and memberOf, and goes on generating the identifiers the original
// would have generated next; changing the copy leaves the original alone.
func TestStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	d, dn := smallDomain(t)
	if err := d.SetPassword(ctx, dn["jdoe"], "Correct-Horse-9"); err != nil {
		t.Fatal(err)
	}
	s, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	c, err := memdir.FromState(s, memdir.WithPasswordPolicy(memdir.PasswordPolicy{MinLength: 12, Complex: true}))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, s2); diff != "" {
		t.Fatalf("State of the copy differs (-original +copy):\n%s", diff)
	}
	if pw, _ := c.Password(dn["jdoe"]); pw != "Correct-Horse-9" {
		t.Fatalf("copied password %q", pw)
	}
	all, err := c.Search(ctx, directory.SearchRequest{BaseDN: dn["root"], Scope: directory.ScopeSubtree, Filter: "(memberOf=" + dn["ops"] + ")"})
	if err != nil || len(all) != 1 || all[0].DN != dn["jdoe"] {
		t.Fatalf("memberOf search in the copy: %v %v", all, err)
	}
	a, err := d.AddUser(dn["users"], memdir.User{SAMAccountName: "next"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.AddUser(dn["users"], memdir.User{SAMAccountName: "next"})
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := d.Entry(a)
	eb, _ := c.Entry(b)
	for _, attr := range []string{"objectSid", "objectGUID"} {
		if ea.Get(attr) == "" || ea.Get(attr) != eb.Get(attr) {
			t.Errorf("next %s: original %q, copy %q", attr, ea.Get(attr), eb.Get(attr))
		}
	}
	if err := c.SetPassword(ctx, dn["jdoe"], "Another-Horse-10"); err != nil {
		t.Fatal(err)
	}
	if pw, _ := d.Password(dn["jdoe"]); pw != "Correct-Horse-9" {
		t.Fatalf("changing the copy changed the original: %q", pw)
	}
	if err := c.SetPassword(ctx, dn["jdoe"], "short"); err == nil {
		t.Fatal("the copy lost its password policy")
	}
}

// TestFromStateRefusesBadStates: a child before its parent, a DN twice and a damaged generator
// are errors of the directory's classes.
func TestFromStateRefusesBadStates(t *testing.T) {
	d, _ := smallDomain(t)
	good, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit  func(s *memdir.State)
		class error
	}{
		"child first": {func(s *memdir.State) {
			s.Entries[0], s.Entries[len(s.Entries)-1] = s.Entries[len(s.Entries)-1], s.Entries[0]
		}, directory.ErrNotFound},
		"twice":     {func(s *memdir.State) { s.Entries = append(s.Entries, s.Entries[1]) }, directory.ErrInvalid},
		"generator": {func(s *memdir.State) { s.Generator = []byte("nope") }, directory.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			s := good
			s.Entries = append([]memdir.EntrySpec(nil), good.Entries...)
			tc.edit(&s)
			if _, err := memdir.FromState(s); !errors.Is(err, tc.class) {
				t.Fatalf("FromState: %v, want %v", err, tc.class)
			}
		})
	}
}
