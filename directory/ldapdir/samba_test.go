package ldapdir_test

// Integration tests against a real Samba AD DC on loopback.
//
// With OPA_SAMBA_URL set (and the other OPA_SAMBA_* variables of scripts/samba-dc.sh's env file),
// they use that running domain controller, at the address in its URL (samba-dc.sh binds a loopback
// address of its own, so runs on one machine do not collide). Otherwise, with CI=true or OPA_SAMBA=1, TestMain starts
// one with scripts/samba-dc.sh and stops it afterwards; under CI=true a missing samba is first
// installed (scripts/samba-dc.sh install) and then a failure, never a skip. Without either, the
// Samba tests skip with a message.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/ldapdir"
)

// samba describes the domain controller under test; nil when the Samba tests skip.
var samba *sambaEnv

var skipReason = "Samba tests skipped: set OPA_SAMBA=1 (or CI=true) to start a Samba AD DC with scripts/samba-dc.sh, " +
	"or OPA_SAMBA_URL and the other variables of its env file to use a running one"

type sambaEnv struct {
	url, startTLSURL, caFile, admin, adminPassword, baseDN, domain, sam string
	host                                                                string // the DC's address, from url
	pool                                                                *x509.CertPool
}

const (
	bulkUsers  = 5000
	alicePass  = "Al1ce-Passw0rd!"
	engineerOU = "OU=Engineering"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ci := os.Getenv("CI") == "true"
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "OPA_SAMBA_") {
			env[k] = v
		}
	}
	if env["OPA_SAMBA_URL"] == "" && (ci || os.Getenv("OPA_SAMBA") == "1") {
		started, dir, err := startSamba(ci)
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: Samba AD DC:", err)
			return 1
		}
		defer func() {
			if out, err := exec.Command("../../scripts/samba-dc.sh", "stop", dir).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "samba-dc.sh stop: %v\n%s", err, out)
			}
		}()
		env = started
	}
	if env["OPA_SAMBA_URL"] != "" {
		s, err := newSambaEnv(env)
		if err == nil {
			err = s.seed()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: Samba fixtures:", err)
			return 1
		}
		samba = s
	}
	return m.Run()
}

// startSamba runs scripts/samba-dc.sh start and returns the variables it printed.
func startSamba(ci bool) (map[string]string, string, error) {
	script := "../../scripts/samba-dc.sh"
	start := exec.Command(script, "start")
	start.Env = append(os.Environ(), "OPA_SAMBA_USERS="+strconv.Itoa(bulkUsers))
	start.Stderr = os.Stderr
	out, err := start.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 && ci {
		fmt.Fprintln(os.Stderr, "samba is not installed; CI=true: installing it")
		inst := exec.Command(script, "install") // scripts/apt-install.sh: refreshes the lists, waits for the dpkg lock
		inst.Stdout, inst.Stderr = os.Stderr, os.Stderr
		if err := inst.Run(); err != nil {
			return nil, "", errors.Wrap(err, "installing samba")
		}
		start = exec.Command(script, "start")
		start.Env = append(os.Environ(), "OPA_SAMBA_USERS="+strconv.Itoa(bulkUsers))
		start.Stderr = os.Stderr
		out, err = start.Output()
	}
	if err != nil {
		return nil, "", errors.Wrapf(err, "%s start", script)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, env["OPA_SAMBA_DIR"], nil
}

func newSambaEnv(env map[string]string) (*sambaEnv, error) {
	s := &sambaEnv{
		url: env["OPA_SAMBA_URL"], startTLSURL: env["OPA_SAMBA_STARTTLS_URL"], caFile: env["OPA_SAMBA_CA"],
		admin: env["OPA_SAMBA_ADMIN"], adminPassword: env["OPA_SAMBA_ADMIN_PASSWORD"],
		baseDN: env["OPA_SAMBA_BASE_DN"], domain: env["OPA_SAMBA_DOMAIN"], sam: env["OPA_SAMBA_SAM"],
	}
	u, err := url.Parse(s.url)
	if err != nil || u.Hostname() == "" {
		return nil, errors.Newf("OPA_SAMBA_URL %q has no host", s.url)
	}
	s.host = u.Hostname()
	pem, err := os.ReadFile(s.caFile)
	if err != nil {
		return nil, err
	}
	s.pool = x509.NewCertPool()
	if !s.pool.AppendCertsFromPEM(pem) {
		return nil, errors.Newf("no certificate in %s", s.caFile)
	}
	return s, nil
}

func (s *sambaEnv) dn(rdns ...string) string { return strings.Join(append(rdns, s.baseDN), ",") }

// adminConn is a plain go-ldap connection bound as the domain administrator, for fixtures.
func (s *sambaEnv) adminConn() (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.url, ldap.DialWithTLSConfig(&tls.Config{RootCAs: s.pool, ServerName: s.host}))
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.admin, s.adminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// samba-tool runs samba-tool against the DC's database.
func (s *sambaEnv) tool(args ...string) (string, error) {
	out, err := exec.Command("samba-tool", append(args, "-H", s.sam)...).CombinedOutput()
	if err != nil {
		return "", errors.Newf("samba-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// seed creates the fixtures unless they exist (a reused DC): OU=Engineering with alice and bob
// (through samba-tool), OU=Bulk with bulkUsers users (LDAP adds), and a group.
func (s *sambaEnv) seed() error {
	c, err := s.adminConn()
	if err != nil {
		return errors.Wrap(err, "admin bind")
	}
	defer c.Close()
	exists := func(dn string) bool {
		_, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		return err == nil
	}
	if !exists(s.dn(engineerOU)) {
		if _, err := s.tool("ou", "create", s.dn(engineerOU)); err != nil {
			return err
		}
		for _, u := range []string{"alice", "bob"} {
			if _, err := s.tool("user", "create", u, alicePass, "--userou="+engineerOU); err != nil {
				return err
			}
		}
		if _, err := s.tool("group", "add", "opa-testers", "--groupou="+engineerOU); err != nil {
			return err
		}
	}
	if exists(s.dn("OU=Bulk")) {
		return nil // made by samba-dc.sh (OPA_SAMBA_USERS) or an earlier run
	}
	start := time.Now()
	if err := addBulkUsers(c, s, bulkUsers); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "samba fixtures: %d users added over LDAPS in %v\n", bulkUsers, time.Since(start).Round(time.Millisecond))
	return nil
}

// addBulkUsers adds n users to OU=Bulk over LDAP, several requests in flight on one connection.
func addBulkUsers(c *ldap.Conn, s *sambaEnv, n int) error {
	ou := ldap.NewAddRequest(s.dn("OU=Bulk"), nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	if err := c.Add(ou); err != nil {
		return errors.Wrap(err, "add OU=Bulk")
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				name := fmt.Sprintf("bulk%05d", i)
				req := ldap.NewAddRequest(s.dn("CN="+name, "OU=Bulk"), nil)
				req.Attribute("objectClass", []string{"user"})
				req.Attribute("sAMAccountName", []string{name})
				req.Attribute("userPrincipalName", []string{name + "@" + s.domain})
				if err := c.Add(req); err != nil {
					errs <- errors.Wrapf(err, "add %s", name)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func needSamba(t testing.TB) *sambaEnv {
	t.Helper()
	if samba == nil {
		t.Skip(skipReason)
	}
	return samba
}

// connDir returns a Directory for the Samba DC bound as user, verifying TLS with the Samba CA.
func (s *sambaEnv) connDir(t testing.TB, dcs []string, user, password string, opts ...ldapdir.Option) *ldapdir.Directory {
	t.Helper()
	d, err := ldapdir.New(directory.Connection{
		ID: "samba", Domain: s.domain, DomainControllers: dcs,
		ServiceAccountUsername: user, ServiceAccountPassword: password,
	}, append([]ldapdir.Option{ldapdir.WithRootCAs(s.pool)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func (s *sambaEnv) adminDir(t testing.TB, opts ...ldapdir.Option) *ldapdir.Directory {
	return s.connDir(t, []string{s.url}, s.admin, s.adminPassword, opts...)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// toolShow returns the attributes samba-tool user show prints for a user.
func (s *sambaEnv) toolShow(t *testing.T, user string) map[string]string {
	t.Helper()
	out, err := s.tool("user", "show", user, "--attributes=objectSid,objectGUID,userPrincipalName,pwdLastSet")
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			attrs[k] = strings.TrimSpace(v)
		}
	}
	return attrs
}

func TestSambaSearchOU(t *testing.T) {
	s := needSamba(t)
	d := s.adminDir(t)
	got, err := d.Search(ctx(t), directory.SearchRequest{
		BaseDN: s.dn(engineerOU), Filter: "(&(objectClass=user)(objectCategory=person))",
		Attributes: []string{"sAMAccountName", "objectSid", "objectGUID", "userPrincipalName"},
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range got {
		name := e.Get("sAMAccountName")
		seen[name] = true
		want := s.toolShow(t, name)
		if e.DN != want["dn"] || e.Get("objectSid") != want["objectSid"] || e.Get("objectGUID") != want["objectGUID"] ||
			e.Get("userPrincipalName") != want["userPrincipalName"] {
			t.Errorf("%s: got DN %q SID %q GUID %q UPN %q; samba-tool says %v", name, e.DN, e.Get("objectSid"),
				e.Get("objectGUID"), e.Get("userPrincipalName"), want)
		}
		if !strings.HasPrefix(e.Get("objectSid"), "S-1-5-21-") {
			t.Errorf("%s: objectSid %q", name, e.Get("objectSid"))
		}
	}
	if !seen["alice"] || !seen["bob"] || len(got) != 2 {
		t.Errorf("got %d users %v, want alice and bob", len(got), seen)
	}
	// An escaped filter value finds exactly one user.
	one, err := d.Search(ctx(t), directory.SearchRequest{BaseDN: s.baseDN, Filter: "(sAMAccountName=" + ldapdir.EscapeFilter("alice") + ")"})
	if err != nil || len(one) != 1 {
		t.Errorf("escaped search: %d entries, %v", len(one), err)
	}
	if _, err := d.Search(ctx(t), directory.SearchRequest{BaseDN: s.dn("OU=Nowhere")}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing base: %v, want ErrNotFound", err)
	}
}

func TestSambaPagedSearch(t *testing.T) {
	s := needSamba(t)
	for _, pageSize := range []int{1000, 500} {
		t.Run(strconv.Itoa(pageSize), func(t *testing.T) {
			d := s.adminDir(t, ldapdir.WithPageSize(pageSize))
			start := time.Now()
			got, err := d.Search(ctx(t), directory.SearchRequest{
				BaseDN: s.dn("OU=Bulk"), Filter: "(objectClass=user)",
				Attributes: []string{"sAMAccountName", "objectSid", "objectGUID", "userPrincipalName"},
			})
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if len(got) != bulkUsers {
				t.Fatalf("got %d users, want %d", len(got), bulkUsers)
			}
			names := map[string]bool{}
			for _, e := range got {
				names[e.Get("sAMAccountName")] = true
			}
			if len(names) != bulkUsers {
				t.Errorf("%d distinct users, want %d", len(names), bulkUsers)
			}
			// Samba hands out a cookie with the last full page and then one empty page.
			wantPages := int64((bulkUsers + pageSize - 1) / pageSize)
			if st := d.Stats(); st.Pages != wantPages && st.Pages != wantPages+1 {
				t.Errorf("pages = %d, want %d or %d", st.Pages, wantPages, wantPages+1)
			}
			t.Logf("%d users in %d pages of %d in %v", len(got), d.Stats().Pages, pageSize, elapsed)
		})
	}
}

func TestSambaSetPassword(t *testing.T) {
	s := needSamba(t)
	d := s.adminDir(t)
	aliceDN := s.dn("CN=alice", engineerOU)
	before := s.toolShow(t, "alice")["pwdLastSet"]
	newPass := "Rotated-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "!9"
	if err := d.SetPassword(ctx(t), aliceDN, newPass); err != nil {
		t.Fatal(err)
	}
	if after := s.toolShow(t, "alice")["pwdLastSet"]; after == before {
		t.Errorf("pwdLastSet unchanged (%s)", after)
	}
	// The new password binds, through the connector.
	asAlice := s.connDir(t, []string{s.url}, "alice", newPass)
	if _, err := asAlice.Search(ctx(t), directory.SearchRequest{BaseDN: aliceDN, Scope: directory.ScopeBaseObject}); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
	// (Samba still accepts the previous password for a while, as AD does for NTLM: no check here.)
	wrong := s.connDir(t, []string{s.url}, "alice", "Wrong-Passw0rd!")
	if _, err := wrong.Search(ctx(t), directory.SearchRequest{BaseDN: aliceDN}); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("bind with a wrong password: %v, want ErrUnavailable (invalid credentials)", err)
	}
	// Authenticate is what a connection's create or update asks: the server's answer to a bind.
	if err := wrong.Authenticate(ctx(t)); !errors.Is(err, directory.ErrCredentials) || !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("Authenticate with a wrong password: %v, want ErrCredentials and ErrUnavailable", err)
	}
	if err := asAlice.Authenticate(ctx(t)); err != nil {
		t.Errorf("Authenticate with the new password: %v", err)
	}

	// The domain's policy (length 7, complexity) refuses these.
	for _, bad := range []string{"abc", "alllowercase"} {
		err := d.SetPassword(ctx(t), aliceDN, bad)
		if !errors.Is(err, directory.ErrConstraint) || !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("%d-char password: %v, want ErrConstraint and ErrInvalid", len(bad), err)
			continue
		}
		if msg := fmt.Sprintf("%+v", err); strings.Contains(msg, bad) {
			t.Errorf("the error contains the password: %s", msg)
		}
		if !strings.Contains(err.Error(), "password policy") {
			t.Errorf("message %q does not name the password policy", err)
		}
		t.Logf("refused: %v", err)
	}
	if err := d.SetPassword(ctx(t), s.dn("CN=nobody", engineerOU), newPass); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
	// Over StartTLS too.
	st := s.connDir(t, []string{s.startTLSURL}, s.admin, s.adminPassword)
	if err := st.SetPassword(ctx(t), s.dn("CN=bob", engineerOU), newPass+"b"); err != nil {
		t.Errorf("StartTLS: %v", err)
	}
}

func TestSambaGroupMembership(t *testing.T) {
	s := needSamba(t)
	d := s.adminDir(t)
	group := s.dn("CN=opa-testers", engineerOU)
	alice, bob := s.dn("CN=alice", engineerOU), s.dn("CN=bob", engineerOU)
	members := func() map[string]bool {
		t.Helper()
		fresh := s.adminDir(t) // a fresh directory, so no pooled connection state is involved
		got, err := fresh.Search(ctx(t), directory.SearchRequest{BaseDN: group, Scope: directory.ScopeBaseObject, Attributes: []string{"member"}})
		if err != nil || len(got) != 1 {
			t.Fatalf("group search: %d, %v", len(got), err)
		}
		m := map[string]bool{}
		for _, v := range got[0].GetAll("member") {
			m[strings.ToLower(v)] = true
		}
		return m
	}
	lower := strings.ToLower
	if err := d.ModifyMembers(ctx(t), group, "member", true, []string{alice, bob}); err != nil {
		t.Fatal(err)
	}
	if m := members(); !m[lower(alice)] || !m[lower(bob)] || len(m) != 2 {
		t.Errorf("after add: %v", m)
	}
	if err := d.ModifyMembers(ctx(t), group, "member", true, []string{alice}); err != nil {
		t.Errorf("adding a member again: %v, want success (idempotent)", err)
	}
	if err := d.ModifyMembers(ctx(t), group, "", false, []string{alice}); err != nil {
		t.Fatal(err)
	}
	if m := members(); m[lower(alice)] || !m[lower(bob)] {
		t.Errorf("after remove: %v", m)
	}
	if err := d.ModifyMembers(ctx(t), group, "member", false, []string{alice}); err != nil {
		t.Errorf("removing a non-member: %v, want success (idempotent)", err)
	}
	if err := d.ModifyMembers(ctx(t), s.dn("CN=no-group", engineerOU), "member", true, []string{bob}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unknown group: %v, want ErrNotFound", err)
	}
	if err := d.ModifyMembers(ctx(t), group, "member", true, []string{s.dn("CN=nobody", engineerOU)}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unknown member: %v, want ErrNotFound", err)
	}
	if err := d.ModifyMembers(ctx(t), group, "member", false, []string{bob}); err != nil {
		t.Fatal(err)
	}
}

func TestSambaFailover(t *testing.T) {
	s := needSamba(t)
	// Port 1 on loopback: nothing listens, the dial is refused.
	d := s.connDir(t, []string{"ldaps://127.0.0.1:1", s.url}, s.admin, s.adminPassword)
	got, err := d.Search(ctx(t), directory.SearchRequest{BaseDN: s.dn(engineerOU), Scope: directory.ScopeBaseObject})
	if err != nil || len(got) != 1 {
		t.Fatalf("search through the second DC: %d, %v", len(got), err)
	}
	if st := d.Stats(); st.Failovers != 1 || st.Dials != 1 {
		t.Errorf("stats %+v, want one failover and one dial", st)
	}
	dead := s.connDir(t, []string{"ldaps://127.0.0.1:1", "ldaps://127.0.0.1:2"}, s.admin, s.adminPassword)
	if _, err := dead.Search(ctx(t), directory.SearchRequest{BaseDN: s.baseDN}); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("all dead: %v, want ErrUnavailable", err)
	}
}

func TestSambaTLSVerification(t *testing.T) {
	s := needSamba(t)
	req := directory.SearchRequest{BaseDN: s.dn(engineerOU), Scope: directory.ScopeBaseObject}
	// Default: the system pool, which does not know the test CA.
	d, err := ldapdir.New(directory.Connection{ID: "x", Domain: s.domain, DomainControllers: []string{s.url},
		ServiceAccountUsername: s.admin, ServiceAccountPassword: s.adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Search(ctx(t), req)
	if !errors.Is(err, directory.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") ||
		!strings.Contains(errors.FlattenHints(err), "WithRootCAs") {
		t.Errorf("no CA: %v (hint %q), want ErrUnavailable naming the certificate", err, errors.FlattenHints(err))
	}
	// With the Samba CA: by IP, by name (the DC's DNS name is in the certificate), and with StartTLS.
	for _, tc := range []struct {
		name string
		dc   string
		opts []ldapdir.Option
	}{
		{"by IP", s.url, nil},
		{"by name", s.url, []ldapdir.Option{ldapdir.WithTLSServerName("dc1.example.test")}},
		{"StartTLS", s.startTLSURL, nil},
	} {
		if _, err := s.connDir(t, []string{tc.dc}, s.admin, s.adminPassword, tc.opts...).Search(ctx(t), req); err != nil {
			t.Errorf("%s (%s) with the CA: %v", tc.name, tc.dc, err)
		}
	}
	// A name the certificate does not hold is refused.
	wrongName := s.connDir(t, []string{s.url}, s.admin, s.adminPassword, ldapdir.WithTLSServerName("dc2.example.test"))
	if _, err := wrongName.Search(ctx(t), req); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("a name not in the certificate: %v, want ErrUnavailable", err)
	}
	// The CA file option.
	f, err := ldapdir.New(directory.Connection{ID: "x", Domain: s.domain, DomainControllers: []string{s.url},
		ServiceAccountUsername: s.admin, ServiceAccountPassword: s.adminPassword}, ldapdir.WithCAFile(s.caFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Search(ctx(t), req); err != nil {
		t.Errorf("WithCAFile: %v", err)
	}
}

// BenchmarkSambaPagedSearch measures a full paged search of OU=Bulk (bulkUsers users): the
// directory half of a user sync.
func BenchmarkSambaPagedSearch(b *testing.B) {
	s := needSamba(b)
	d := s.adminDir(b)
	req := directory.SearchRequest{BaseDN: s.dn("OU=Bulk"), Filter: "(objectClass=user)",
		Attributes: []string{"sAMAccountName", "objectSid", "objectGUID", "userPrincipalName", "distinguishedName"}}
	for b.Loop() {
		got, err := d.Search(ctx(b), req)
		if err != nil || len(got) != bulkUsers {
			b.Fatalf("%d entries, %v", len(got), err)
		}
	}
	st := d.Stats()
	b.ReportMetric(float64(st.Pages)/float64(st.Searches), "pages/op")
	b.ReportMetric(float64(bulkUsers), "users/op")
}

// BenchmarkSambaSetPassword measures password rotations (unicodePwd replace) against Samba.
func BenchmarkSambaSetPassword(b *testing.B) {
	s := needSamba(b)
	d := s.adminDir(b)
	dn := s.dn("CN=bob", engineerOU)
	i := 0
	for b.Loop() {
		i++
		if err := d.SetPassword(ctx(b), dn, fmt.Sprintf("Bench-Rotation-%d-Xy9!", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSambaSearchByGUIDAndSID: a filter naming an objectGUID in its string form (the form Entry
// gives and groups/modify receives) finds the object on a real AD, which compares objectGUID as
// 16 bytes; so does an objectSid in S-1-… form, alone and inside the OR filter groups/modify
// batches its lookups into. Samba also matches a GUID sent as a string (Windows AD does not), so
// this test proves the 16-byte form Search now sends finds the object on a DC; the byte layout
// itself is pinned by TestEncodeGUIDAndADFilter.
func TestSambaSearchByGUIDAndSID(t *testing.T) {
	s := needSamba(t)
	d := s.adminDir(t)
	alice, bob := s.toolShow(t, "alice"), s.toolShow(t, "bob")
	if alice["objectGUID"] == "" || bob["objectSid"] == "" {
		t.Fatalf("samba-tool gave no GUID/SID: %v %v", alice, bob)
	}
	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"guid", "(objectGUID=" + alice["objectGUID"] + ")", []string{alice["dn"]}},
		{"guid upper case", "(objectGUID=" + strings.ToUpper(alice["objectGUID"]) + ")", []string{alice["dn"]}},
		{"sid", "(objectSid=" + bob["objectSid"] + ")", []string{bob["dn"]}},
		{"or of both", "(|(objectGUID=" + alice["objectGUID"] + ")(objectSid=" + bob["objectSid"] + "))", []string{alice["dn"], bob["dn"]}},
		{"unknown guid", "(objectGUID=00000000-0000-0000-0000-000000000001)", nil},
	} {
		got, err := d.Search(ctx(t), directory.SearchRequest{BaseDN: s.baseDN, Filter: tc.filter, Attributes: []string{"objectGUID"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var dns []string
		for _, e := range got {
			dns = append(dns, e.DN)
		}
		sort.Strings(dns)
		want := append([]string(nil), tc.want...)
		sort.Strings(want)
		if strings.Join(dns, "|") != strings.Join(want, "|") {
			t.Errorf("%s: found %q, want %q", tc.name, dns, want)
		}
	}
}
