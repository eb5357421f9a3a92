package opa

import "testing"

// TestDNKeyFastPath checks that the allocation-free fast path gives exactly what parsing with
// go-ldap gives, and that DNs it cannot handle fall back to the parser.
func TestDNKeyFastPath(t *testing.T) {
	for _, dn := range []string{
		"CN=Jane,OU=Admins,DC=corp,DC=example,DC=com",
		"cn = Jane , ou=ADMINS,dc=corp",
		"OU=,DC=x",
		`CN=Doe\, Jane,OU=Admins,DC=corp`,
		"CN=a+UID=b,DC=x",
		"CN=a=b,DC=x",
		`CN="quoted",DC=x`,
		"CN=Jörg,DC=x",
		"CN=#04024869,DC=x",
		"", "CN", "CN=a,", ",DC=x",
	} {
		want, wantOK := canonicalRDNs(dn)
		key, offs, ok := dnKey(dn, nil, nil)
		if ok != wantOK {
			t.Errorf("%q: ok %v, parser %v", dn, ok, wantOK)
			continue
		}
		if !ok {
			continue
		}
		wantKey := ""
		for i, r := range want {
			if i > 0 {
				wantKey += ","
			}
			wantKey += r
		}
		if string(key) != wantKey || len(offs) != len(want)-1 {
			t.Errorf("%q: key %q offsets %v, parser %q", dn, key, offs, wantKey)
		}
		for i, off := range offs {
			if key[off-1] != ',' || string(key[off:off+len(want[i+1])]) != want[i+1] {
				t.Errorf("%q: offset %d = %d does not start RDN %q", dn, i, off, want[i+1])
			}
		}
	}
}
