package directory

import (
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/internal/errclass"
)

// NormalizeDN returns the canonical form of a DN: parsed per RFC 4514 and lower-cased, so two DNs
// that name the same entry compare equal. directory.ErrInvalid for a malformed DN.
func NormalizeDN(dn string) (string, error) {
	if n, ok := simpleNormDN(dn); ok {
		return n, nil
	}
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return "", errclass.Wrap(err, ErrInvalid, "malformed DN %q", dn)
	}
	return strings.ToLower(p.String()), nil
}

// simpleNormDN normalizes a DN without escapes, quotes or multi-valued RDNs (nearly all of them)
// to the same form as ldap.ParseDN(dn).String() lower-cased, without parsing; ok is false for any
// other DN.
func simpleNormDN(dn string) (string, bool) {
	if dn == "" || strings.ContainsAny(dn, "\\\"+#;<>") {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(dn))
	for i, rdn := range strings.Split(dn, ",") {
		typ, val, found := strings.Cut(rdn, "=")
		typ, val = strings.TrimSpace(typ), strings.Trim(val, " ")
		if !found || typ == "" || val == "" || strings.Contains(val, "=") {
			return "", false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ToLower(typ))
		b.WriteByte('=')
		b.WriteString(strings.ToLower(val))
	}
	return b.String(), true
}
