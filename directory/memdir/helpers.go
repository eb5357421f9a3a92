package memdir

import (
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// User describes a user object for AddUser. CN defaults to DisplayName, then SAMAccountName.
type User struct {
	CN                string
	SAMAccountName    string
	UserPrincipalName string
	GivenName         string
	SN                string
	DisplayName       string
	Mail              string
	// MemberOf lists the DNs of existing groups the user joins.
	MemberOf []string
	Password string
	// Attributes adds or overrides attributes.
	Attributes map[string][]string
}

// Computer describes a computer object for AddComputer.
type Computer struct {
	Name            string // the CN and sAMAccountName (with "$")
	DNSHostName     string
	OperatingSystem string
	// Attributes adds or overrides attributes.
	Attributes map[string][]string
}

func rdn(attr, value string) string {
	return attr + "=" + ldap.EscapeDN(value)
}

// AddDomain adds the naming-context root for a DNS domain ("corp.example.com" becomes
// "DC=corp,DC=example,DC=com") and returns its DN.
func (d *Dir) AddDomain(domain string) (string, error) {
	dn := DomainDN(domain)
	if dn == "" {
		return "", errclass.Mark(directory.ErrInvalid, "domain %q is not a DNS name", domain)
	}
	parts := strings.Split(domain, ".")
	return dn, d.Add(EntrySpec{DN: dn, Attributes: map[string][]string{
		"objectClass": {"top", "domain", "domainDNS"}, "dc": {parts[0]},
	}})
}

// DomainDN returns the DN of a DNS domain's naming context, "" for an empty domain.
func DomainDN(domain string) string {
	domain = strings.Trim(domain, ".")
	if domain == "" {
		return ""
	}
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = rdn("DC", p)
	}
	return strings.Join(parts, ",")
}

// AddOU adds an organizational unit under parentDN and returns its DN.
func (d *Dir) AddOU(parentDN, name string) (string, error) {
	dn := rdn("OU", name) + "," + parentDN
	return dn, d.Add(EntrySpec{DN: dn, Attributes: map[string][]string{
		"objectClass": {"top", "organizationalUnit"}, "ou": {name},
	}})
}

// AddUser adds a user under parentDN and returns its DN. objectSid and objectGUID are generated.
func (d *Dir) AddUser(parentDN string, u User) (string, error) {
	cn := u.CN
	if cn == "" {
		cn = u.DisplayName
	}
	if cn == "" {
		cn = u.SAMAccountName
	}
	dn := rdn("CN", cn) + "," + parentDN
	a := map[string][]string{
		"objectClass":    {"top", "person", "organizationalPerson", "user"},
		"objectCategory": {"CN=Person,CN=Schema,CN=Configuration," + rootOf(parentDN)},
		"cn":             {cn},
	}
	put := func(k, v string) {
		if v != "" {
			a[k] = []string{v}
		}
	}
	put("sAMAccountName", u.SAMAccountName)
	put("userPrincipalName", u.UserPrincipalName)
	put("givenName", u.GivenName)
	put("sn", u.SN)
	put("displayName", u.DisplayName)
	put("mail", u.Mail)
	if len(u.MemberOf) > 0 {
		a["memberOf"] = u.MemberOf
	}
	for k, v := range u.Attributes {
		a[k] = v
	}
	return dn, d.Add(EntrySpec{DN: dn, Attributes: a, Password: u.Password})
}

// AddComputer adds a computer under parentDN and returns its DN. As in AD, a computer is also of
// objectClass user.
func (d *Dir) AddComputer(parentDN string, c Computer) (string, error) {
	dn := rdn("CN", c.Name) + "," + parentDN
	a := map[string][]string{
		"objectClass":    {"top", "person", "organizationalPerson", "user", "computer"},
		"objectCategory": {"CN=Computer,CN=Schema,CN=Configuration," + rootOf(parentDN)},
		"cn":             {c.Name},
		"sAMAccountName": {strings.ToUpper(c.Name) + "$"},
	}
	if c.DNSHostName != "" {
		a["dNSHostName"] = []string{c.DNSHostName}
	}
	if c.OperatingSystem != "" {
		a["operatingSystem"] = []string{c.OperatingSystem}
	}
	for k, v := range c.Attributes {
		a[k] = v
	}
	return dn, d.Add(EntrySpec{DN: dn, Attributes: a})
}

// AddGroup adds a security group under parentDN with the member DNs and returns its DN.
func (d *Dir) AddGroup(parentDN, name string, members ...string) (string, error) {
	dn := rdn("CN", name) + "," + parentDN
	a := map[string][]string{
		"objectClass":    {"top", "group"},
		"objectCategory": {"CN=Group,CN=Schema,CN=Configuration," + rootOf(parentDN)},
		"cn":             {name},
		"sAMAccountName": {name},
	}
	if len(members) > 0 {
		a["member"] = members
	}
	return dn, d.Add(EntrySpec{DN: dn, Attributes: a})
}

// rootOf returns the DC= suffix of a DN.
func rootOf(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	var out []string
	for _, r := range p.RDNs {
		if len(r.Attributes) == 1 && strings.EqualFold(r.Attributes[0].Type, "dc") {
			out = append(out, rdn("DC", r.Attributes[0].Value))
		}
	}
	return strings.Join(out, ",")
}
