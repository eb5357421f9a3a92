package directory

import (
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"
	"pgregory.net/rapid"
)

// escapedDNs groups spellings of DNs: the DNs of one group name the same entry, different groups
// name different entries. Together they cover the escapes of RFC 4514 (\=, \,, \+, \\, hex
// escapes, quoted characters), insignificant and escaped leading and trailing spaces, case,
// multi-valued RDNs in either order, and non-ASCII values.
var escapedDNs = [][]string{
	{`CN=a\=b,DC=x`, `cn=a=b,dc=x`, `CN=a\3db,DC=X`, `cn = a\=b , dc = x`},
	{`CN=a\,b,DC=x`, `cn=a\2cb,dc=x`, `CN=A\2Cb,DC=x`},
	{`CN=a\+b,DC=x`, `cn=a\2bb,dc=x`},
	{`CN=a+SN=b,DC=x`, `sn=B+cn=A,dc=x`, `CN=a + SN=b,DC=x`},
	{`CN=a,SN=b,DC=x`},
	{`CN=a\\b,DC=x`, `cn=a\5cb,dc=x`},
	{`CN=a\5c,DC=x`, `CN=a\\,DC=x`},
	{`CN=a\"b\;c\<d\>,DC=x`, `cn=a\22b\3bc\3cd\3e,dc=x`},
	{`CN=\ lead,DC=x`, `CN=\20lead,DC=x`},
	{`CN=lead,DC=x`, `CN=  lead  ,DC=x`, `CN=LEAD,DC=x`},
	{`CN=trail\ ,DC=x`, `CN=trail\20,DC=x`},
	{`CN=\#hash,DC=x`, `CN=\23hash,DC=x`},
	{`CN=#04024869,DC=x`, `CN=Hi,DC=x`, `cn=hi,dc=x`},
	{`OU=Jörg,DC=x`, `ou=JÖRG,dc=x`, `OU=J\c3\b6rg,DC=x`, `ou=j\C3\96RG,dc=x`},
	{`OU=Straße,DC=x`, `ou=STRAẞE,dc=x`},
	{`OU=strasse,DC=x`, `OU=STRASSE,DC=x`},
	{`CN=Doe\, Jane,OU=Users,DC=corp,DC=example,DC=com`, `cn=doe\, jane,ou=users,dc=corp,dc=example,dc=com`},
	{`OU=Users,DC=corp,DC=example,DC=com`, `ou = Users ; dc=CORP, dc=example,dc=com`},
}

func mustParse(t testing.TB, dn string) *ldap.DN {
	t.Helper()
	d, err := ldap.ParseDN(dn)
	if err != nil {
		t.Fatalf("go-ldap does not parse %q: %v", dn, err)
	}
	return d
}

// TestNormalizeDNAgreesWithParser checks NormalizeDN against go-ldap over the escaped DNs: two
// DNs get one key exactly when the parser reads them as the same name (distinguishedNameMatch),
// every key parses back to its DN's name, and each ancestor offset starts the key of the parent.
func TestNormalizeDNAgreesWithParser(t *testing.T) {
	type entry struct {
		dn, key string
		group   int
	}
	var all []entry
	for g, group := range escapedDNs {
		for _, dn := range group {
			key, err := NormalizeDN(dn)
			if err != nil {
				t.Fatalf("NormalizeDN(%q): %v", dn, err)
			}
			all = append(all, entry{dn, key, g})
			if back := mustParse(t, key); !back.EqualFold(mustParse(t, dn)) {
				t.Errorf("NormalizeDN(%q) = %q, which parses to another name", dn, key)
			}
		}
	}
	for _, a := range all {
		for _, b := range all {
			same := mustParse(t, a.dn).EqualFold(mustParse(t, b.dn))
			if same != (a.group == b.group) {
				t.Fatalf("table error: go-ldap says %q and %q same=%v", a.dn, b.dn, same)
			}
			if (a.key == b.key) != same {
				t.Errorf("%q -> %q and %q -> %q; go-ldap says same=%v", a.dn, a.key, b.dn, b.key, same)
			}
		}
	}
	if got, _ := NormalizeDN(`CN=a\=b,DC=x`); got != "cn=a=b,dc=x" {
		t.Errorf(`NormalizeDN("CN=a\=b,DC=x") = %q, want "cn=a=b,dc=x"`, got)
	}
}

func TestNormalizeDNAncestorsAndErrors(t *testing.T) {
	for _, group := range escapedDNs {
		for _, dn := range group {
			key, offs, ok := AppendNormalizedDN([]byte("junk"), nil, dn)
			if !ok {
				t.Fatalf("%q: not ok", dn)
			}
			d := mustParse(t, dn)
			if len(offs) != len(d.RDNs)-1 {
				t.Fatalf("%q: %d ancestor offsets for %d RDNs", dn, len(offs), len(d.RDNs))
			}
			for i, off := range offs {
				parent := &ldap.DN{RDNs: d.RDNs[i+1:]}
				want, err := NormalizeDN(parent.String())
				if err != nil || string(key[off:]) != want || key[off-1] != ',' {
					t.Errorf("%q: ancestor %d at %d is %q, want %q", dn, i, off, key[off:], want)
				}
			}
			if !strings.HasPrefix(string(key), "junk") {
				t.Errorf("%q: the buffer's prefix was not kept", dn)
			}
		}
	}
	for _, dn := range []string{"CN", "CN=a,", ",DC=x", `CN="quoted",DC=x`, `CN=a\`, `CN=a\zz,DC=x`, "=a,DC=x"} {
		if _, err := NormalizeDN(dn); !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeDN(%q) = %v, want ErrInvalid", dn, err)
		}
		if key, _, ok := AppendNormalizedDN([]byte("x"), nil, dn); ok || string(key) != "x" {
			t.Errorf("AppendNormalizedDN(%q) = %q, %v; want the buffer unchanged and not ok", dn, key, ok)
		}
	}
	if got, err := NormalizeDN(""); got != "" || err != nil {
		t.Errorf(`NormalizeDN("") = %q, %v`, got, err)
	}
}

// TestPlainDNFastPath checks that the fast path gives exactly what the parser gives, for the DNs
// it takes, and that it leaves the others to the parser.
func TestPlainDNFastPath(t *testing.T) {
	for _, dn := range []string{
		"CN=Jane,OU=Admins,DC=corp,DC=example,DC=com",
		"cn = Jane , ou=ADMINS,dc=corp",
		"OU=,DC=x",
		"CN=a=b,DC=x",
		"CN=  padded  ,DC=x",
		"CN=WEB1$,OU=Servers,DC=x",
		`CN=Doe\, Jane,OU=Admins,DC=corp`,
		"CN=a+UID=b,DC=x",
		"CN=Jörg,DC=x",
		"CN=#04024869,DC=x",
		"", "CN", "CN=a,", ",DC=x", "=a",
	} {
		fast, fastOffs, fastOK := appendPlainDN(nil, nil, dn)
		slow, slowOffs, slowOK := appendParsedDN(nil, nil, dn)
		if !fastOK {
			continue
		}
		if !slowOK || string(fast) != string(slow) || len(fastOffs) != len(slowOffs) {
			t.Errorf("%q: fast path %q %v, parser %q %v (ok %v)", dn, fast, fastOffs, slow, slowOffs, slowOK)
			continue
		}
		for i := range fastOffs {
			if fastOffs[i] != slowOffs[i] {
				t.Errorf("%q: offsets %v, parser %v", dn, fastOffs, slowOffs)
			}
		}
	}
}

// TestNormalizeDNProperty draws DNs from small pools of values, each written with random escapes,
// spaces and case, and checks the key against go-ldap's distinguishedNameMatch.
func TestNormalizeDNProperty(t *testing.T) {
	values := []string{"a", "A", "a=b", "a,b", "a+b", `a\b`, " a", "a ", "#a", "ä", "Ä", "a\"b", "a;b", "x y"}
	types := []string{"cn", "CN", "ou", "OU", "dc", "sn"}
	spell := func(t *rapid.T, v string) string {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			c := v[i]
			special := strings.IndexByte(`,+"\;<>=#`, c) >= 0 || (c == ' ' && (i == 0 || i == len(v)-1))
			switch {
			case c >= 0x80 || rapid.IntRange(0, 3).Draw(t, "hex") == 0:
				b.WriteString(`\` + strings.ToUpper(string("0123456789abcdef"[c>>4])) + string("0123456789abcdef"[c&0xf]))
			case special:
				b.WriteString(`\` + string(c))
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	gen := func(t *rapid.T, label string) string {
		n := rapid.IntRange(1, 3).Draw(t, label+"-rdns")
		var rdns []string
		for range n {
			m := rapid.IntRange(1, 2).Draw(t, label+"-attrs")
			var attrs []string
			for range m {
				typ := rapid.SampledFrom(types).Draw(t, label+"-type")
				attrs = append(attrs, typ+rapid.SampledFrom([]string{"=", " = "}).Draw(t, "eq")+spell(t, rapid.SampledFrom(values).Draw(t, label+"-value")))
			}
			rdns = append(rdns, strings.Join(attrs, "+"))
		}
		return strings.Join(rdns, rapid.SampledFrom([]string{",", ", ", ";"}).Draw(t, "sep"))
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := gen(t, "a"), gen(t, "b")
		pa, err1 := ldap.ParseDN(a)
		pb, err2 := ldap.ParseDN(b)
		if err1 != nil || err2 != nil {
			t.Fatalf("generated a DN go-ldap refuses: %q %v, %q %v", a, err1, b, err2)
		}
		ka, err1 := NormalizeDN(a)
		kb, err2 := NormalizeDN(b)
		if err1 != nil || err2 != nil {
			t.Fatalf("NormalizeDN: %v, %v", err1, err2)
		}
		if (ka == kb) != pa.EqualFold(pb) {
			t.Fatalf("%q -> %q, %q -> %q; go-ldap EqualFold = %v", a, ka, b, kb, pa.EqualFold(pb))
		}
		if back, err := ldap.ParseDN(ka); err != nil || !back.EqualFold(pa) {
			t.Fatalf("%q -> %q does not parse back to the same name (%v)", a, ka, err)
		}
	})
}

// TestSplitPlainRDN checks the promise a cache keyed by the parent text relies on: two DNs
// SplitPlainRDN accepts with the same plain parent text are both well formed or both malformed
// under AppendNormalizedDN, with the same ancestor keys; and it refuses what it must leave to the
// parser.
func TestSplitPlainRDN(t *testing.T) {
	for _, dn := range []string{"CN=a", "", ",DC=x", "=a,DC=x", " =a,DC=x", "CN,DC=x", `CN=a\,b,DC=x`,
		"CN=a+SN=b,DC=x", "CN=Jörg,DC=x", "CN=a;DC=x", `CN="q",DC=x`, "CN=#1,DC=x", "CN=a\n,DC=x"} {
		if p, ok := SplitPlainRDN(dn); ok {
			t.Errorf("SplitPlainRDN(%q) = %q, true; want not ok", dn, p)
		}
	}
	if p, ok := SplitPlainRDN("CN=Jane Doe , OU=Admins,DC=corp"); !ok || p != " OU=Admins,DC=corp" {
		t.Errorf("SplitPlainRDN = %q, %v", p, ok)
	}
	if p, ok := SplitPlainRDN(`CN=a,OU=b\,c,DC=x`); !ok || p != `OU=b\,c,DC=x` || IsPlainDN(p) {
		t.Errorf("SplitPlainRDN = %q, %v; IsPlainDN = %v", p, ok, IsPlainDN(p))
	}
	ancestors := func(dn string) (string, bool) {
		key, offs, ok := AppendNormalizedDN(nil, nil, dn)
		if !ok || len(offs) == 0 {
			return "", ok
		}
		return string(key[offs[0]:]), true
	}
	firsts := []string{"CN=a", "cn = B ", "OU=x=y", "CN=", "DC=WEB1$", "uid=Jane Doe"}
	parts := []string{"OU=Team1", "ou = team1 ", "DC=corp", "dc=Corp", "OU=", "=bad", "bad", " ", "OU=a=b"}
	rapid.Check(t, func(t *rapid.T) {
		parent := strings.Join(rapid.SliceOfN(rapid.SampledFrom(parts), 1, 4).Draw(t, "parent"), rapid.SampledFrom([]string{",", ", "}).Draw(t, "sep"))
		a := rapid.SampledFrom(firsts).Draw(t, "a") + "," + parent
		b := rapid.SampledFrom(firsts).Draw(t, "b") + "," + parent
		pa, okA := SplitPlainRDN(a)
		pb, okB := SplitPlainRDN(b)
		if !okA || !okB || pa != parent || pb != parent || !IsPlainDN(parent) {
			t.Fatalf("SplitPlainRDN(%q) = %q %v, SplitPlainRDN(%q) = %q %v; want %q", a, pa, okA, b, pb, okB, parent)
		}
		ka, okA := ancestors(a)
		kb, okB := ancestors(b)
		if okA != okB || ka != kb {
			t.Fatalf("%q: ancestors %q (ok %v); %q: ancestors %q (ok %v)", a, ka, okA, b, kb, okB)
		}
		if okA {
			if want, err := NormalizeDN(parent); err != nil || want != ka {
				t.Fatalf("%q: ancestor key %q, NormalizeDN(parent) = %q, %v", a, ka, want, err)
			}
		}
	})
}
