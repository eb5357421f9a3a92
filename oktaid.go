package opa

import (
	"context"
	"crypto/sha256"
	"math/big"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Okta ids of imported directory objects, decided here (docs/wire.md#directories-api): Okta's AD
// integration imports the directory's groups and users into Okta, where each gets an Okta id —
// "00g" and 17 letters or digits for a group, "00u…" for a user — and the Directories API's
// groups/modify names groups and users by those ids (the reference's sample is
// "00g1xucgTZFrziXg10g4"). The engine has no Okta org, so:
//
//   - every group and user under the connection's domain has an Okta id: the one assigned to it
//     (AssignDirectoryOktaID, a fixture's connection "okta_ids"), or else one derived from the
//     team's name, the connection's domain and the object's objectGUID (the key Okta imports by),
//     so it stays the same across restarts, syncs, renames and moves;
//   - an object has one id: once one is assigned, the derived one no longer names it.
//
// Resolving derived ids searches the domain's groups (or users) once per request; assigned ids
// are looked up by objectGUID with the request's objectSids and objectGUIDs (resolveMembers).

// Okta id prefixes of directory objects.
const (
	OktaGroupIDPrefix = "00g"
	OktaUserIDPrefix  = "00u"
)

const (
	oktaIDLen      = 20
	ldapGroupClass = "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	ldapUserClass  = "(&(|(objectClass=user)(objectClass=person)(objectClass=inetOrgPerson))(!(objectClass=computer)))"
)

// oktaIDPrefix returns the prefix of an Okta id of a directory object ("00g" or "00u"), or ""
// when id is not one: three characters of prefix and 17 ASCII letters or digits.
func oktaIDPrefix(id string) string {
	if len(id) != oktaIDLen {
		return ""
	}
	p := id[:3]
	if p != OktaGroupIDPrefix && p != OktaUserIDPrefix {
		return ""
	}
	for i := 3; i < len(id); i++ {
		c := id[i]
		if alnum := '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'; !alnum {
			return ""
		}
	}
	return p
}

// IsDirectoryOktaID reports whether id has the form of the Okta id of a directory group ("00g" and
// 17 ASCII letters or digits) or user ("00u…"). Safe for concurrent use.
func IsDirectoryOktaID(id string) bool { return oktaIDPrefix(id) != "" }

// classFilterOf returns the LDAP filter of the objects an Okta id prefix names.
func classFilterOf(prefix string) string {
	if prefix == OktaGroupIDPrefix {
		return ldapGroupClass
	}
	return ldapUserClass
}

// derivedOktaID is the Okta id of a directory object that has none assigned. Not a secret: a
// stable name, the digest only spreads it.
func derivedOktaID(teamName, domain, prefix, guid string) string {
	sum := sha256.Sum256([]byte("opa directory okta id\x00" + strings.ToLower(teamName) + "\x00" +
		strings.ToLower(strings.Trim(domain, ".")) + "\x00" + prefix + "\x00" + strings.ToLower(guid)))
	s := new(big.Int).SetBytes(sum[:16]).Text(62) // 0-9a-zA-Z, up to 22 digits
	for len(s) < oktaIDLen-3 {
		s = "0" + s
	}
	return prefix + s[:oktaIDLen-3]
}

// kindPrefixOf returns the Okta id prefix of a directory entry by its objectClass: "00g" for a
// group, "00u" for a user (not a computer), "" for anything else.
func kindPrefixOf(en *directory.Entry) string {
	var user, computer bool
	for _, c := range en.GetAll("objectClass") {
		switch strings.ToLower(c) {
		case "group", "groupofnames", "groupofuniquenames":
			return OktaGroupIDPrefix
		case "user", "person", "inetorgperson":
			user = true
		case "computer":
			computer = true
		}
	}
	if user && !computer {
		return OktaUserIDPrefix
	}
	return ""
}

// oktaIDs resolves the Okta ids of one connection's directory objects within one request.
type oktaIDs struct {
	dir      directory.Directory
	base     string
	team     string
	conn     *storage.Connection
	assigned map[string]bool              // lower-case objectGUIDs that have an assigned id
	derived  map[string]map[string]string // prefix → derived id → DN, filled by one search each
}

func (e *Engine) newOktaIDs(ctx context.Context, dir directory.Directory, conn *storage.Connection) (*oktaIDs, error) {
	var teamName string
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		t, err := storage.Teams.Get(tx, conn.TeamID)
		if err == nil {
			teamName = t.Name
		}
		return err
	}); err != nil {
		return nil, wrapNotFound(err, "the team of AD connection %s does not exist", conn.ID)
	}
	r := &oktaIDs{dir: dir, base: domainDN(conn.Domain), team: teamName, conn: conn,
		assigned: make(map[string]bool, len(conn.OktaIDs)), derived: map[string]map[string]string{}}
	for _, g := range conn.OktaIDs {
		r.assigned[g] = true
	}
	return r, nil
}

// dn returns the DN of the object the Okta id names (prefix its kind). ErrNotFound when none does.
func (r *oktaIDs) dn(ctx context.Context, id, prefix string) (string, error) {
	if guid, ok := r.conn.OktaIDs[id]; ok {
		return resolveObject(ctx, r.dir, r.base, guid, classFilterOf(prefix))
	}
	m, ok := r.derived[prefix]
	if !ok {
		es, err := r.dir.Search(ctx, directory.SearchRequest{BaseDN: r.base, Scope: directory.ScopeSubtree,
			Filter: "(&(objectGUID=*)" + classFilterOf(prefix) + ")", Attributes: []string{"objectGUID"}})
		if err != nil {
			return "", err
		}
		m = make(map[string]string, len(es))
		for _, en := range es {
			guid := strings.ToLower(en.Get("objectGUID"))
			if guid == "" || r.assigned[guid] {
				continue
			}
			m[derivedOktaID(r.team, r.conn.Domain, prefix, guid)] = en.DN
		}
		r.derived[prefix] = m
	}
	if dn, ok := m[id]; ok {
		return dn, nil
	}
	return "", notFoundf("no directory object has the Okta id %q", id)
}

// of returns the Okta id of the entry (its objectGUID and objectClass read), "" when it is
// neither a group nor a user.
func (r *oktaIDs) of(en *directory.Entry) string {
	prefix := kindPrefixOf(en)
	guid := strings.ToLower(en.Get("objectGUID"))
	if prefix == "" || guid == "" {
		return ""
	}
	for id, g := range r.conn.OktaIDs {
		if g == guid {
			return id
		}
	}
	return derivedOktaID(r.team, r.conn.Domain, prefix, guid)
}

// lookupEntry returns the directory entry ref names (a DN, an objectSid, an objectGUID or an Okta
// id) with its objectClass and objectGUID.
func (r *oktaIDs) lookupEntry(ctx context.Context, ref string) (*directory.Entry, error) {
	if prefix := oktaIDPrefix(ref); prefix != "" {
		dn, err := r.dn(ctx, ref, prefix)
		if err != nil {
			return nil, err
		}
		ref = dn
	}
	req := directory.SearchRequest{BaseDN: r.base, Scope: directory.ScopeSubtree, Attributes: []string{"objectClass", "objectGUID"}, SizeLimit: 2}
	switch {
	case looksLikeDN(ref):
		req.BaseDN, req.Scope, req.Filter = ref, directory.ScopeBaseObject, "(objectClass=*)"
	case strings.HasPrefix(strings.ToUpper(ref), "S-1-"):
		req.Filter = "(objectSid=" + ldap.EscapeFilter(ref) + ")"
	default:
		req.Filter = "(objectGUID=" + ldap.EscapeFilter(ref) + ")"
	}
	es, err := r.dir.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(es) != 1 {
		return nil, notFoundf("no single directory object has the id %q", ref)
	}
	return es[0], nil
}

// DirectoryOktaID returns the Okta id of the directory group or user that ref names in the
// connection's directory: the id assigned to it, or else its derived one (see the top of
// oktaid.go). ref is a distinguished name, an objectSid, an objectGUID or an Okta id. Needs
// resource_admin.
//
// Errors: ErrInvalid for an empty ref; ErrNotFound for an unknown connection (or one of another
// team), or when ref names no group or user under the connection's domain; ErrUnavailable and
// ErrTimeout when the directory cannot be asked. Safe for concurrent use.
func (e *Engine) DirectoryOktaID(ctx context.Context, p Principal, connectionID, ref string) (string, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return "", err
	}
	if strings.TrimSpace(ref) == "" {
		return "", invalidf("a distinguished name, objectSid, objectGUID or Okta id is required")
	}
	conn, ids, err := e.connOktaIDs(ctx, p, connectionID)
	if err != nil {
		return "", err
	}
	en, err := ids.lookupEntry(ctx, ref)
	if err != nil {
		return "", wrapNotFound(err, "Resource not found: %s (Group or User)", ref)
	}
	id := ids.of(en)
	if id == "" {
		return "", notFoundf("%s of AD connection %s is neither a group nor a user", ref, conn.ID)
	}
	return id, nil
}

func (e *Engine) connOktaIDs(ctx context.Context, p Principal, connectionID string) (*storage.Connection, *oktaIDs, error) {
	var conn *storage.Connection
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		conn, err = e.teamConnection(tx, p, connectionID)
		return err
	}); err != nil {
		return nil, nil, err
	}
	dir, err := e.directoryFor(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	ids, err := e.newOktaIDs(ctx, dir, conn)
	return conn, ids, err
}

// AssignDirectoryOktaID gives the directory group or user that ref names (a distinguished name,
// an objectSid or an objectGUID) in the connection's directory the Okta id oktaID ("00g" and 17
// letters or digits for a group, "00u…" for a user), as Okta's import would have; groups/modify
// then accepts it, and the object's derived id no longer names it. The id follows the object
// (its objectGUID) through renames and moves. Assigning the id the object already has is a
// no-op. Needs resource_admin; fixtures use it for their connections' "okta_ids".
//
// Errors: ErrInvalid for a malformed id, an empty ref, or a ref whose object is not of the id's
// kind (a 00g id for a user); ErrNotFound for an unknown connection (or one of another team) or
// a ref that names no object under the connection's domain; ErrConflict when another object of
// the team has the id, or the object already has another one; ErrUnavailable and ErrTimeout when
// the directory cannot be asked. Audited. Safe for concurrent use.
func (e *Engine) AssignDirectoryOktaID(ctx context.Context, p Principal, connectionID, oktaID, ref string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	prefix := oktaIDPrefix(oktaID)
	switch {
	case prefix == "":
		return invalidf("an Okta id is 00g (a group) or 00u (a user) followed by 17 letters or digits, not %q", oktaID)
	case strings.TrimSpace(ref) == "" || oktaIDPrefix(ref) != "":
		return invalidf("the object is named by its distinguished name, objectSid or objectGUID")
	}
	_, ids, err := e.connOktaIDs(ctx, p, connectionID)
	if err != nil {
		return err
	}
	en, err := ids.lookupEntry(ctx, ref)
	if err != nil {
		return wrapNotFound(err, "Resource not found: %s (Group or User)", ref)
	}
	kind := kindPrefixOf(en)
	guid := strings.ToLower(en.Get("objectGUID"))
	switch {
	case kind == "" || guid == "":
		return invalidf("%s is neither a group nor a user", ref)
	case kind != prefix:
		return invalidf("%s ids name %s, and %s is not one", prefix, map[string]string{OktaGroupIDPrefix: "groups", OktaUserIDPrefix: "users"}[prefix], ref)
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		conn, err := e.teamConnection(tx, p, connectionID)
		if err != nil {
			return err
		}
		if g, ok := conn.OktaIDs[oktaID]; ok {
			if g == guid {
				return nil
			}
			return conflictf("the Okta id %s already names another object of AD connection %s", oktaID, conn.ID)
		}
		for id, g := range conn.OktaIDs {
			if g == guid {
				return conflictf("%s already has the Okta id %s", ref, id)
			}
		}
		others, err := storage.Connections.List(tx, storage.ConnectionsByTeam, p.TeamID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if _, ok := o.OktaIDs[oktaID]; ok && o.ID != conn.ID {
				return conflictf("the Okta id %s already names an object of AD connection %s", oktaID, o.ID)
			}
		}
		if conn.OktaIDs == nil {
			conn.OktaIDs = map[string]string{}
		}
		conn.OktaIDs[oktaID] = guid
		if err := storage.Connections.Update(tx, conn); err != nil {
			return errors.Wrap(err, "store the Okta id")
		}
		return e.audit(tx, p, AuditConnectionSet, "active_directory_connection", conn.ID, "okta_id_assigned", oktaID+" "+ref)
	})
}
