package opa_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

// TestServiceAccountCheckedOnCreateAndUpdate: creating or changing a connection binds with its
// service account first. A refused password is ErrInvalid, names the username and not the
// password, and stores nothing; a duplicate is still a conflict whatever its password; a domain
// the team has no directory for is stored unchecked and reaches nothing; a password the directory
// later changes makes syncs ErrUnavailable, and an update to the new one is checked and accepted.
func TestServiceAccountCheckedOnCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	const secret = "p@$$w0rD-secret"
	in := opa.ADConnectionInput{GatewayID: testGateway, Name: "corp", Domain: "corp.example.com", ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "wrong-" + secret}

	_, err := s.e.CreateADConnection(ctx, s.admin, in)
	wantErr(t, "wrong password", err, opa.ErrInvalid)
	msg := fmt.Sprintf("%v %+v %s", err, err, errors.FlattenHints(err))
	if strings.Contains(msg, secret) || !strings.Contains(err.Error(), "svc_opa") {
		t.Fatalf("refusal %q: must name the user and not the password", err)
	}
	if page, err := s.e.ADConnections(ctx, s.admin, opa.PageRequest{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("a refused create stored a connection: %+v, %v", page.Items, err)
	}
	in.ServiceAccountUsername = "SVC_OPA" // AD compares account names without case
	_, err = s.e.CreateADConnection(ctx, s.admin, opa.ADConnectionInput{GatewayID: testGateway, Name: "corp", Domain: "corp.example.com", ServiceAccountUsername: "svc_opa"})
	wantErr(t, "no password", err, opa.ErrInvalid)

	in.ServiceAccountPassword = secret
	c, err := s.e.CreateADConnection(ctx, s.admin, in)
	must(t, err)
	in.Name = "again"
	in.ServiceAccountPassword = "wrong"
	_, err = s.e.CreateADConnection(ctx, s.admin, in)
	wantErr(t, "duplicate with a wrong password", err, opa.ErrConflict)

	in.Name, in.ServiceAccountPassword = "corp", "wrong"
	wantErr(t, "update to a wrong password", s.e.UpdateADConnection(ctx, s.admin, c.ID, in), opa.ErrInvalid)
	in.ServiceAccountPassword, in.ServiceAccountUsername = "", "nobody"
	wantErr(t, "update to another user, keeping the password", s.e.UpdateADConnection(ctx, s.admin, c.ID, in), opa.ErrInvalid)
	must(t, s.e.ForceSync(ctx, s.admin, c.ID)) // the refused updates changed nothing
	in.ServiceAccountUsername, in.Name = "svc_opa", "renamed"
	must(t, s.e.UpdateADConnection(ctx, s.admin, c.ID, in)) // the stored password is checked and kept

	// The directory's administrator resets the service account's password.
	s.dir.SetServiceAccount("svc_opa", "reset-by-AD-admin")
	err = s.e.ForceSync(ctx, s.admin, c.ID)
	wantErr(t, "sync with a stale password", err, opa.ErrUnavailable)
	if !strings.Contains(err.Error(), "svc_opa") || strings.Contains(fmt.Sprintf("%+v", err), "reset-by-AD-admin") {
		t.Fatalf("stale password error %q", err)
	}
	in.ServiceAccountPassword = "reset-by-AD-admin"
	must(t, s.e.UpdateADConnection(ctx, s.admin, c.ID, in))
	must(t, s.e.ForceSync(ctx, s.admin, c.ID))

	// No directory answers: stored unchecked, and every directory operation is unavailable.
	lab, err := s.e.CreateADConnection(ctx, s.admin, opa.ADConnectionInput{GatewayID: testGateway, Name: "lab", Domain: "lab.example.com",
		ServiceAccountUsername: "anyone", ServiceAccountPassword: "anything"})
	must(t, err)
	wantErr(t, "sync of a domain nobody serves", s.e.ForceSync(ctx, s.admin, lab.ID), opa.ErrUnavailable)
	s.dir.SetNoAgent(true)
	in.ServiceAccountPassword = "not checked while the agent is down"
	must(t, s.e.UpdateADConnection(ctx, s.admin, c.ID, in))
	s.dir.SetNoAgent(false)
	wantErr(t, "sync with the unchecked password", s.e.ForceSync(ctx, s.admin, c.ID), opa.ErrUnavailable)
}

// TestDirectoriesAreResolvedPerTeam: two teams with connections to the same domain name reach
// each its own directory; a team with no directory of the domain reaches none, whatever
// credentials it gives, and learns nothing about the other team's (the same ErrUnavailable as a
// domain nobody serves).
func TestDirectoriesAreResolvedPerTeam(t *testing.T) {
	ctx := context.Background()
	resolver := memdir.NewResolver()
	e, err := opa.New(memstore.New(), opa.WithDirectoryResolver(resolver))
	must(t, err)
	dirOf := func(team, user string) *memdir.Dir {
		d := memdir.New(memdir.WithServiceAccount("svc", "pw-"+team))
		root, err := d.AddDomain("corp.example.com")
		must(t, err)
		_, err = d.AddUser(root, memdir.User{SAMAccountName: user})
		must(t, err)
		resolver.Set(team, "corp.example.com", d)
		return d
	}
	dirOf("acme", "acme-user")
	dirOf("globex", "globex-user")
	sync := func(team, password string) ([]string, error) {
		tm, err := e.Team(ctx, team)
		if errors.Is(err, opa.ErrNotFound) {
			tm, err = e.CreateTeam(ctx, team)
		}
		must(t, err)
		sys := opa.SystemPrincipal(tm)
		c, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "corp-" + password, Domain: "corp.example.com",
			ServiceAccountUsername: "svc", ServiceAccountPassword: password})
		if err != nil {
			return nil, err
		}
		defer func() { must(t, e.DeleteADConnection(ctx, sys, c.ID)) }()
		if err := e.ForceSync(ctx, sys, c.ID); err != nil {
			return nil, err
		}
		page, err := e.DiscoveredADAccounts(ctx, sys, c.ID, opa.DiscoveredQuery{})
		must(t, err)
		var names []string
		for _, a := range page.Items {
			names = append(names, a.SAMAccountName)
		}
		return names, nil
	}
	for team, want := range map[string]string{"acme": "acme-user", "globex": "globex-user"} {
		names, err := sync(team, "pw-"+team)
		must(t, err)
		if len(names) != 1 || names[0] != want {
			t.Errorf("%s's sync found %v, want [%s]", team, names, want)
		}
	}
	_, err = sync("acme", "pw-globex")
	wantErr(t, "acme with globex's password", err, opa.ErrInvalid)
	_, stranger := sync("initech", "pw-acme")
	_, nobody := sync("initech", "whatever")
	wantErr(t, "a team without a directory of the domain", stranger, opa.ErrUnavailable)
	if stranger.Error() != nobody.Error() {
		t.Errorf("another team's password gives %q, a guess %q: the answers must not differ", stranger, nobody)
	}
}
