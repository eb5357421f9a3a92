package ldapdir

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

func testConn(dcs []string) directory.Connection {
	return directory.Connection{
		ID:                     "c1",
		Domain:                 "example.test",
		DomainControllers:      dcs,
		ServiceAccountUsername: "svc-opa",
		ServiceAccountPassword: "s3rvice-Secret",
	}
}

func TestDecodeSID(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"everyone", []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, "S-1-1-0"},
		{"local system", []byte{1, 1, 0, 0, 0, 0, 0, 5, 0x12, 0, 0, 0}, "S-1-5-18"},
		{"administrators", []byte{1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 0x02, 0, 0}, "S-1-5-32-544"},
		{"domain user", []byte{0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x15, 0x00, 0x00, 0x00,
			0xc7, 0xf7, 0xfe, 0xd7, 0x7c, 0x77, 0x55, 0xc8, 0x94, 0x5a, 0xce, 0x01, 0xf5, 0x03, 0x00, 0x00},
			"S-1-5-21-3623811015-3361044348-30300820-1013"},
		{"large authority", []byte{1, 0, 0x01, 0, 0, 0, 0, 0x02}, "S-1-0x010000000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSID(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DecodeSID = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range [][]byte{nil, {1, 1, 0, 0, 0, 0, 0, 5}, {1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0}, make([]byte, 7)} {
		if _, err := DecodeSID(bad); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("DecodeSID(%x) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestDecodeGUID(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		// The example of Microsoft's GUID documentation and RFC 4122's byte-order discussion.
		{[]byte{0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C, 0x33, 0x01},
			"3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{[]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f},
			"03020100-0504-0706-0809-0a0b0c0d0e0f"},
	}
	for _, tt := range tests {
		got, err := DecodeGUID(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("DecodeGUID(%x) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := DecodeGUID(make([]byte, 15)); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("DecodeGUID(15 bytes) error = %v, want ErrInvalid", err)
	}
}

// TestEncodeGUIDAndADFilter: objectGUID equality values in string form reach AD as the GUID's 16
// bytes (AD matches no string form), inside any filter; presence, other attributes, objectSid
// and values that are not GUIDs are left alone.
func TestEncodeGUIDAndADFilter(t *testing.T) {
	ms := []byte{0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C, 0x33, 0x01}
	b, err := EncodeGUID("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
	if err != nil || string(b) != string(ms) {
		t.Fatalf("EncodeGUID = %x, %v; want %x", b, err, ms)
	}
	if back, _ := DecodeGUID(b); back != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" {
		t.Fatalf("round trip %q", back)
	}
	for _, bad := range []string{"", "3f2504e0", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301"} {
		if _, err := EncodeGUID(bad); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("EncodeGUID(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
	// equalityValues returns the attribute=value pairs of the equality assertions of filter, as
	// AD receives them (the compiled filter's bytes).
	equalityValues := func(filter string) map[string]string {
		t.Helper()
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("%q: %v", filter, err)
		}
		out := map[string]string{}
		var walk func(*ber.Packet)
		walk = func(p *ber.Packet) {
			if p.Tag == ldap.FilterEqualityMatch {
				out[ber.DecodeString(p.Children[0].Data.Bytes())] = ber.DecodeString(p.Children[1].Data.Bytes())
				return
			}
			for _, c := range p.Children {
				walk(c)
			}
		}
		walk(p)
		return out
	}
	got, err := adFilter("(&(objectClass=group)(|(objectGUID=3f2504e0-4f89-11d3-9a0c-0305e82c3301)(objectSid=S-1-5-21-1-2-3-500)(cn=x)))")
	if err != nil {
		t.Fatal(err)
	}
	vals := equalityValues(got)
	if vals["objectGUID"] != string(ms) || vals["objectSid"] != "S-1-5-21-1-2-3-500" || vals["cn"] != "x" || vals["objectClass"] != "group" {
		t.Fatalf("adFilter gave %q: %q", got, vals)
	}
	for _, same := range []string{"(objectGUID=*)", "(objectGUID=not-a-guid)", "(cn=3f2504e0-4f89-11d3-9a0c-0305e82c3301)", "(objectClass=user)"} {
		if got, err := adFilter(same); err != nil || got != same {
			t.Errorf("adFilter(%q) = %q, %v; want it unchanged", same, got, err)
		}
	}
	if _, err := adFilter("(("); err == nil {
		t.Error("adFilter accepted a malformed filter")
	}
}

func TestEncodePassword(t *testing.T) {
	got, err := encodePassword("Ab1€😀")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{'"', 0, 'A', 0, 'b', 0, '1', 0, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE, '"', 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encodePassword (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "a\xffb"} {
		_, err := encodePassword(bad)
		if !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("encodePassword(%q) error = %v, want ErrInvalid", bad, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q contains the password", err)
		}
	}
}

func TestEscapeFilter(t *testing.T) {
	got := "(sAMAccountName=" + EscapeFilter(`a*b(c)\d`+"\x00") + ")"
	want := `(sAMAccountName=a\2ab\28c\29\5cd\00)`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := ldap.CompileFilter(got); err != nil {
		t.Errorf("escaped filter does not compile: %v", err)
	}
}

func TestPasswordError(t *testing.T) {
	const pw = "tooShort1"
	for _, code := range []uint16{ldap.LDAPResultConstraintViolation, ldap.LDAPResultUnwillingToPerform} {
		err := passwordError(ldap.NewError(code, errors.New("0000052D: Constraint violation - check_password_restrictions: "+pw)),
			"CN=alice,DC=example,DC=test", pw)
		if !errors.Is(err, directory.ErrConstraint) || !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("code %d: %v is not ErrConstraint and ErrInvalid", code, err)
		}
		if msg := errors.FlattenDetails(err) + err.Error(); strings.Contains(msg, pw) {
			t.Errorf("code %d: error contains the password: %q", code, msg)
		}
		if !strings.Contains(err.Error(), "password policy refused") {
			t.Errorf("code %d: message %q does not name the policy", code, err)
		}
	}
	err := passwordError(ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("no such object")), "CN=x,DC=t", pw)
	if !errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrConstraint) {
		t.Errorf("noSuchObject: %v, want ErrNotFound only", err)
	}
}

func TestMapError(t *testing.T) {
	tests := []struct {
		code uint16
		want error
	}{
		{ldap.LDAPResultNoSuchObject, directory.ErrNotFound},
		{ldap.LDAPResultInvalidDNSyntax, directory.ErrInvalid},
		{ldap.LDAPResultConstraintViolation, directory.ErrInvalid},
		{ldap.LDAPResultEntryAlreadyExists, errclass.Conflict},
		{ldap.LDAPResultInsufficientAccessRights, errclass.Forbidden},
		{ldap.LDAPResultInvalidCredentials, directory.ErrUnavailable},
		{ldap.LDAPResultTimeLimitExceeded, directory.ErrTimeout},
		{ldap.LDAPResultBusy, directory.ErrUnavailable},
		{ldap.LDAPResultOther, directory.ErrUnavailable},
	}
	for _, tt := range tests {
		err := mapError(ldap.NewError(tt.code, errors.New("diag")), "op", "DC=t", "")
		if !errors.Is(err, tt.want) {
			t.Errorf("code %d: %v, want %v", tt.code, err, tt.want)
		}
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		in   string
		opts config
		want server
	}{
		{"dc1.test", config{}, server{"dc1.test:636", "dc1.test", true}},
		{"dc1.test", config{startTLS: true}, server{"dc1.test:389", "dc1.test", false}},
		{"dc1.test", config{port: 1636}, server{"dc1.test:1636", "dc1.test", true}},
		{"dc1.test:3269", config{port: 1636}, server{"dc1.test:3269", "dc1.test", true}},
		{"ldap://dc1.test", config{}, server{"dc1.test:389", "dc1.test", false}},
		{"LDAPS://127.0.0.1:636/", config{startTLS: true}, server{"127.0.0.1:636", "127.0.0.1", true}},
		{"[::1]:636", config{}, server{"[::1]:636", "::1", true}},
	}
	for _, tt := range tests {
		got, err := parseServer(tt.in, &tt.opts)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(server{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "http://dc1", "dc1:0", "dc1:x"} {
		if _, err := parseServer(bad, &config{}); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestBindName(t *testing.T) {
	for in, want := range map[string]string{
		"svc":                    "svc@example.test",
		"svc@other.test":         "svc@other.test",
		`EXAMPLE\svc`:            `EXAMPLE\svc`,
		"CN=svc,DC=example,DC=t": "CN=svc,DC=example,DC=t",
	} {
		if got := bindName(in, "example.test"); got != want {
			t.Errorf("bindName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFailoverOrder(t *testing.T) {
	ctx := context.Background()
	n := &fakeNet{dcs: map[string]*fakeDC{"dc2.test:636": {entries: 1}, "dc3.test:636": {entries: 1}}}
	d := newFake(t, n, []string{"dc1.test", "dc2.test", "dc3.test"}, WithPoolSize(1))
	if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: "DC=test"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dc1.test:636", "dc2.test:636"}, n.dialed()); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}
	// dc1 cools down: the next new connection goes straight to dc2.
	n.dcs["dc2.test:636"].set(func(f *fakeDC) { f.dropAfterOp = true })
	for range 2 {
		if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: "DC=test"}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"dc1.test:636", "dc2.test:636", "dc2.test:636"}, n.dialed()); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}
	if s := d.Stats(); s.Failovers != 1 || s.Dials != 2 {
		t.Errorf("stats = %+v, want 1 failover and 2 dials", s)
	}
}

func TestFailoverNoCooldown(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc2.test:636": {entries: 1, dropAfterOp: true}}}
	d := newFake(t, n, []string{"dc1.test", "dc2.test"}, WithFailoverCooldown(0))
	for range 2 {
		if _, err := d.Search(context.Background(), directory.SearchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"dc1.test:636", "dc2.test:636", "dc1.test:636", "dc2.test:636"}
	if diff := cmp.Diff(want, n.dialed()); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}
}

func TestAllUnreachable(t *testing.T) {
	n := &fakeNet{}
	d := newFake(t, n, []string{"dc1.test", "dc2.test:1"})
	_, err := d.Search(context.Background(), directory.SearchRequest{})
	if !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	for _, addr := range []string{"dc1.test:636", "dc2.test:1"} {
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("error %q does not name %s", err, addr)
		}
	}
}

func TestBindRefusedNoFailover(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{
		"dc1.test:636": {bindCode: int(ldap.LDAPResultInvalidCredentials)},
		"dc2.test:636": {},
	}}
	d := newFake(t, n, []string{"dc1.test", "dc2.test"})
	_, err := d.Search(context.Background(), directory.SearchRequest{})
	if !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(errors.FlattenDetails(err)+err.Error(), "s3rvice-Secret") {
		t.Errorf("error contains the service account password: %+v", err)
	}
	if diff := cmp.Diff([]string{"dc1.test:636"}, n.dialed()); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}
}

// TestAuthenticate: Authenticate binds on a fresh connection even when the pool holds one, so a
// password changed on the server since is seen; a refusal is ErrCredentials and ErrUnavailable
// and never names the password; a directory that cannot be reached is ErrUnavailable alone.
func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	dc := &fakeDC{entries: 1}
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": dc}}
	d := newFake(t, n, []string{"dc1.test"})
	if err := d.Authenticate(ctx); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: "DC=test"}); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Dials != 1 {
		t.Errorf("the search dialled again after Authenticate: %+v", s)
	}
	dc.set(func(f *fakeDC) { f.bindCode = int(ldap.LDAPResultInvalidCredentials) })
	err := d.Authenticate(ctx)
	if !errors.Is(err, directory.ErrCredentials) || !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("refused bind: %v, want ErrCredentials and ErrUnavailable", err)
	}
	if strings.Contains(errors.FlattenDetails(err)+err.Error(), "s3rvice-Secret") {
		t.Errorf("error contains the service account password: %+v", err)
	}
	down := newFake(t, &fakeNet{}, []string{"dc1.test"})
	if err := down.Authenticate(ctx); !errors.Is(err, directory.ErrUnavailable) || errors.Is(err, directory.ErrCredentials) {
		t.Errorf("unreachable: %v, want ErrUnavailable without ErrCredentials", err)
	}
}

func TestCertificateVerification(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": {entries: 1}, "127.0.0.1:636": {entries: 1}}}
	conn := testConn([]string{"dc1.test"})

	// No CA: the system pool does not know the fake CA.
	d, err := New(conn, WithDialer(n.dial))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Search(context.Background(), directory.SearchRequest{})
	if !errors.Is(err, directory.ErrUnavailable) || !strings.Contains(errors.FlattenHints(err), "WithRootCAs") {
		t.Errorf("without the CA: %v (hint %q), want ErrUnavailable with a CA hint", err, errors.FlattenHints(err))
	}

	// The right CA but a name the certificate does not carry.
	_, pool := fakeCert()
	d, _ = New(testConn([]string{"127.0.0.1"}), WithDialer(n.dial), WithRootCAs(pool))
	if _, err := d.Search(context.Background(), directory.SearchRequest{}); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("wrong name: %v, want ErrUnavailable", err)
	}
	// Fixed by the server name option, or by turning verification off.
	for _, opt := range []Option{WithTLSServerName("dc1.test"), WithInsecureSkipVerify()} {
		d, _ = New(testConn([]string{"127.0.0.1"}), WithDialer(n.dial), WithRootCAs(pool), opt)
		if _, err := d.Search(context.Background(), directory.SearchRequest{}); err != nil {
			t.Errorf("with option: %v", err)
		}
	}
}

func TestPagedSearch(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": {entries: 2500}}}
	d := newFake(t, n, []string{"dc1.test"})
	got, err := d.Search(context.Background(), directory.SearchRequest{BaseDN: "DC=test", Filter: "(objectClass=user)"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2500 {
		t.Fatalf("got %d entries, want 2500", len(got))
	}
	if got[2499].DN != "CN=u2499,DC=test" || got[3].Get("objectSid") != "S-1-5-3" {
		t.Errorf("last entry %q, objectSid %q", got[2499].DN, got[3].Get("objectSid"))
	}
	if s := d.Stats(); s.Pages != 3 || s.Entries != 2500 {
		t.Errorf("stats = %+v, want 3 pages and 2500 entries", s)
	}

	got, err = d.Search(context.Background(), directory.SearchRequest{SizeLimit: 1500})
	if err != nil || len(got) != 1500 {
		t.Fatalf("size limit: %d entries, %v; want 1500", len(got), err)
	}

	d2 := newFake(t, n, []string{"dc1.test"}, WithPageSize(100))
	if got, err := d2.Search(context.Background(), directory.SearchRequest{}); err != nil || len(got) != 2500 || d2.Stats().Pages != 25 {
		t.Errorf("page size 100: %d entries, %d pages, %v", len(got), d2.Stats().Pages, err)
	}
}

func TestSearchInvalid(t *testing.T) {
	d := newFake(t, &fakeNet{}, []string{"dc1.test"})
	for _, req := range []directory.SearchRequest{
		{Filter: "(cn=a"},
		{BaseDN: "not a dn"},
		{Scope: 7},
		{SizeLimit: -1},
	} {
		if _, err := d.Search(context.Background(), req); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", req, err)
		}
	}
}

func TestTimeout(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": {hangSearch: true}}}
	d := newFake(t, n, []string{"dc1.test"}, WithPoolSize(1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Search(ctx, directory.SearchRequest{})
	if !errors.Is(err, directory.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout wrapping DeadlineExceeded", err)
	}
	// The aborted connection left the pool: the next operation gets a fresh one.
	n.dcs["dc1.test:636"].set(func(f *fakeDC) { f.hangSearch = false })
	if _, err := d.Search(context.Background(), directory.SearchRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := d.Stats().Dials; got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}

	// The request timeout applies without a caller deadline.
	n.dcs["dc1.test:636"].set(func(f *fakeDC) { f.hangSearch = true })
	d = newFake(t, n, []string{"dc1.test"}, WithRequestTimeout(100*time.Millisecond))
	if _, err := d.Search(context.Background(), directory.SearchRequest{}); !errors.Is(err, directory.ErrTimeout) {
		t.Fatalf("request timeout: %v, want ErrTimeout", err)
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": {entries: 3, dropAfterOp: true}}}
	d := newFake(t, n, []string{"dc1.test"}, WithPoolSize(1))
	for i := range 3 {
		if got, err := d.Search(context.Background(), directory.SearchRequest{}); err != nil || len(got) != 3 {
			t.Fatalf("search %d: %d entries, %v", i, len(got), err)
		}
	}
	if got := d.Stats().Dials; got != 3 {
		t.Errorf("dials = %d, want 3", got)
	}
}

func TestSetPassword(t *testing.T) {
	dc := &fakeDC{}
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": dc}}
	d := newFake(t, n, []string{"dc1.test"})
	const pw = "N3w-Passw0rd!"
	if err := d.SetPassword(context.Background(), "CN=alice,DC=test", pw); err != nil {
		t.Fatal(err)
	}
	enc, _ := encodePassword(pw)
	want := []ldap.Change{{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "unicodePwd", Vals: []string{string(enc)}}}}
	if diff := cmp.Diff(want, dc.changes()); diff != "" {
		t.Errorf("modify (-want +got):\n%s", diff)
	}

	dc.set(func(f *fakeDC) {
		f.modifyCode, f.modifyDiag = int(ldap.LDAPResultConstraintViolation), "0000052D: Constraint violation"
	})
	err := d.SetPassword(context.Background(), "CN=alice,DC=test", "x")
	if !errors.Is(err, directory.ErrConstraint) || !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("policy violation: %v, want ErrConstraint and ErrInvalid", err)
	}
	if err := d.SetPassword(context.Background(), "not a dn", pw); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("bad DN: %v, want ErrInvalid", err)
	}
}

func TestModifyMembers(t *testing.T) {
	dc := &fakeDC{}
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": dc}}
	d := newFake(t, n, []string{"dc1.test"})
	ctx := context.Background()
	members := []string{"CN=a,DC=test", "CN=b,DC=test"}
	if err := d.ModifyMembers(ctx, "CN=g,DC=test", "", true, members); err != nil {
		t.Fatal(err)
	}
	want := []ldap.Change{{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: "member", Vals: members}}}
	if diff := cmp.Diff(want, dc.changes()); diff != "" {
		t.Errorf("modify (-want +got):\n%s", diff)
	}

	// Already a member: AD refuses, the group search shows the member, so it is a success.
	dc.set(func(f *fakeDC) { f.modifyCode, f.entries = int(ldap.LDAPResultEntryAlreadyExists), 1 })
	if err := d.ModifyMembers(ctx, "CN=g,DC=test", "member", true, members); err != nil {
		t.Errorf("already a member: %v", err)
	}
	// Unknown group or member.
	dc.set(func(f *fakeDC) { f.modifyCode = int(ldap.LDAPResultNoSuchObject) })
	if err := d.ModifyMembers(ctx, "CN=g,DC=test", "member", false, members); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("no such object: %v, want ErrNotFound", err)
	}
	if err := d.ModifyMembers(ctx, "CN=g,DC=test", "member", true, []string{"bad dn"}); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("bad member DN: %v, want ErrInvalid", err)
	}
}

func TestResolver(t *testing.T) {
	n := &fakeNet{dcs: map[string]*fakeDC{"dc1.test:636": {entries: 1}}}
	_, pool := fakeCert()
	r, err := NewResolver(WithDialer(n.dial), WithRootCAs(pool))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	conn := testConn([]string{"dc1.test"})
	d1, err := r.Directory(ctx, directory.Team{ID: "t1", Name: "team"}, conn)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := r.Directory(ctx, directory.Team{ID: "t1", Name: "team"}, conn)
	if d1 != d2 {
		t.Error("the same connection got two directories")
	}
	conn.ServiceAccountPassword = "rotated"
	if d3, _ := r.Directory(ctx, directory.Team{ID: "t1", Name: "team"}, conn); d3 == d1 {
		t.Error("a changed service account kept the old directory")
	}
	conn.DomainControllers = nil
	if _, err := r.Directory(ctx, directory.Team{ID: "t1", Name: "team"}, conn); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("no domain controllers: %v, want ErrUnavailable", err)
	}
	if _, err := NewResolver(WithPageSize(5000)); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("page size 5000: %v, want ErrInvalid", err)
	}
}
