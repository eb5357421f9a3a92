package memdir_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/memdir"
)

// TestBindAs: every operation of a bound directory checks its credentials first (case-insensitive
// username, exact password); a refusal is ErrCredentials and ErrUnavailable and names no
// password; a directory without service accounts accepts the anonymous bind only; faults come
// before the credentials; a password reset takes effect at the next operation.
func TestBindAs(t *testing.T) {
	ctx := context.Background()
	d, dn := smallDomain(t)
	d.SetServiceAccount("svc-opa", "Svc-Passw0rd!")
	good, bad := d.BindAs("SVC-OPA", "Svc-Passw0rd!"), d.BindAs("svc-opa", "guess")
	ops := map[string]func(directory.Directory) error{
		"authenticate": func(b directory.Directory) error { return b.Authenticate(ctx) },
		"search": func(b directory.Directory) error {
			_, err := b.Search(ctx, directory.SearchRequest{BaseDN: dn["root"]})
			return err
		},
		"set password": func(b directory.Directory) error { return b.SetPassword(ctx, dn["jdoe"], "Another-Passw0rd!") },
		"modify members": func(b directory.Directory) error {
			return b.ModifyMembers(ctx, dn["ops"], "member", true, []string{dn["adm"]})
		},
	}
	for name, op := range ops {
		if err := op(good); err != nil {
			t.Errorf("%s with the right credentials: %v", name, err)
		}
		err := op(bad)
		if !errors.Is(err, directory.ErrCredentials) || !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("%s with a wrong password: %v, want ErrCredentials and ErrUnavailable", name, err)
		}
		if msg := fmt.Sprintf("%+v", err); strings.Contains(msg, "guess") || strings.Contains(msg, "Svc-Passw0rd!") {
			t.Errorf("%s: the refusal shows a password: %s", name, msg)
		}
	}
	if pw, _ := d.Password(dn["jdoe"]); pw != "Another-Passw0rd!" {
		t.Errorf("the refused SetPassword changed the password: %q", pw)
	}

	d.SetNoAgent(true)
	if err := bad.Authenticate(ctx); !errors.Is(err, directory.ErrUnavailable) || errors.Is(err, directory.ErrCredentials) {
		t.Errorf("no agent: %v, want ErrUnavailable without ErrCredentials", err)
	}
	d.SetNoAgent(false)
	d.SetServiceAccount("svc-opa", "Reset-Passw0rd!")
	if err := good.Authenticate(ctx); !errors.Is(err, directory.ErrCredentials) {
		t.Errorf("after a reset the old password still binds: %v", err)
	}

	anon := memdir.New()
	if err := anon.BindAs("", "").Authenticate(ctx); err != nil {
		t.Errorf("anonymous bind to a directory without service accounts: %v", err)
	}
	if err := anon.BindAs("someone", "pw").Authenticate(ctx); !errors.Is(err, directory.ErrCredentials) {
		t.Errorf("a named bind to a directory without service accounts: %v, want ErrCredentials", err)
	}
	if err := memdir.New(memdir.WithServiceAccount("svc", "pw")).BindAs("", "").Authenticate(ctx); !errors.Is(err, directory.ErrCredentials) {
		t.Errorf("anonymous bind where a service account is required: %v, want ErrCredentials", err)
	}
}

// TestResolverPerTeam: a directory serves the team it was set for, by name without case; another
// team's connection of the same domain gets ErrUnavailable, with the message of a domain nobody
// serves.
func TestResolverPerTeam(t *testing.T) {
	ctx := context.Background()
	r := memdir.NewResolver()
	a, b := memdir.New(), memdir.New()
	r.Set("Acme", "corp.example.com", a)
	r.Set("globex", "CORP.example.com.", b)
	conn := directory.Connection{Domain: "corp.example.com"}
	for team, want := range map[string]*memdir.Dir{"acme": a, "GLOBEX": b} {
		got, err := r.Directory(ctx, directory.Team{ID: "id-" + team, Name: team}, conn)
		if err != nil {
			t.Fatalf("%s: %v", team, err)
		}
		if got.Authenticate(ctx) != nil {
			t.Fatalf("%s: anonymous bind refused", team)
		}
		want.SetNoAgent(true)
		if err := got.Authenticate(ctx); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("%s reached another team's directory", team)
		}
		want.SetNoAgent(false)
	}
	_, other := r.Directory(ctx, directory.Team{ID: "x", Name: "initech"}, conn)
	_, nobody := r.Directory(ctx, directory.Team{ID: "x", Name: "initech"}, directory.Connection{Domain: "nobody.example.com"})
	if !errors.Is(other, directory.ErrUnavailable) {
		t.Fatalf("a third team: %v, want ErrUnavailable", other)
	}
	if strings.ReplaceAll(other.Error(), "corp", "nobody") != nobody.Error() {
		t.Errorf("another team's domain answers %q, a domain nobody serves %q", other, nobody)
	}
	r.Set("acme", "corp.example.com", nil)
	if _, err := r.Directory(ctx, directory.Team{Name: "acme"}, conn); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("after Set(nil): %v", err)
	}
}
