package opa

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Group membership actions.
const (
	GroupActionAdd    = "ADD"
	GroupActionRemove = "REMOVE"
)

// MaxGroupMembershipValues caps the values of one group membership change.
const MaxGroupMembershipValues = 1000

// AgentAction is the body of the Directories Integration "update group membership" operation
// (POST /api/v1/directories/{appInstanceId}/groups/modify), in the wire format.
type AgentAction struct {
	// ID names the AD or LDAP group; see ModifyDirectoryGroup for the accepted forms.
	ID         string                `json:"id"`
	Parameters AgentActionParameters `json:"parameters"`
}

// AgentActionParameters says what to change: Action ADD or REMOVE, the membership Attribute
// ("member" in AD, e.g. "uniqueMember" in LDAP), and the Values naming the users.
type AgentActionParameters struct {
	Action    string   `json:"action"`
	Attribute string   `json:"attribute"`
	Values    []string `json:"values"`
}

func (a *AgentAction) validate() error {
	a.Parameters.Action = strings.ToUpper(strings.TrimSpace(a.Parameters.Action))
	switch {
	case strings.TrimSpace(a.ID) == "":
		return invalidf("id is required")
	case a.Parameters.Action == "":
		return invalidf("parameters.action is required")
	case a.Parameters.Action != GroupActionAdd && a.Parameters.Action != GroupActionRemove:
		return invalidf("parameters.action must be ADD or REMOVE")
	case strings.TrimSpace(a.Parameters.Attribute) == "":
		return invalidf("parameters.attribute is required (member for AD)")
	case membershipAttribute(a.Parameters.Attribute) == "":
		return invalidf("parameters.attribute must be member (AD) or uniqueMember (LDAP), the attributes that hold member DNs")
	case len(a.Parameters.Values) == 0:
		return invalidf("parameters.values needs at least one user id")
	case len(a.Parameters.Values) > MaxGroupMembershipValues:
		return invalidf("parameters.values allows at most %d user ids", MaxGroupMembershipValues)
	}
	for _, v := range a.Parameters.Values {
		if strings.TrimSpace(v) == "" {
			return invalidf("parameters.values holds an empty user id")
		}
	}
	a.Parameters.Attribute = membershipAttribute(a.Parameters.Attribute)
	return nil
}

// membershipAttribute returns the name of the membership attribute attr names case-insensitively
// ("member" or "uniqueMember", the group attributes that hold member DNs, which is what the
// directory receives), or "" for any other. Decided here (docs/wire.md#directories-api): the
// other attributes of a group are the directory's own (objectGUID, objectSid, memberOf,
// objectClass, distinguishedName, cn…), which AD refuses to be written this way, and an
// attribute option (member;range=…) is not an attribute.
func membershipAttribute(attr string) string {
	for _, m := range []string{"member", "uniqueMember"} {
		if strings.EqualFold(strings.TrimSpace(attr), m) {
			return m
		}
	}
	return ""
}

// ModifyDirectoryGroup adds users to or removes them from a group in the directory of the AD
// connection whose Okta app instance id is appInstanceID. Needs resource_admin.
//
// Identifiers, decided here: the group id and each value may be an Okta id (the group's "00g…",
// a user's "00u…", or a nested group's "00g…"; see DirectoryOktaID and AssignDirectoryOktaID), an
// objectGUID (the id Okta's AD integration imports objects by, e.g. "2f1c…-…"), an objectSid
// ("S-1-5-21-…") or a distinguished name; each is resolved by a search under the connection's
// domain. Groups must be of objectClass
// group, groupOfNames or groupOfUniqueNames. The directory receives member DNs.
//
// Errors: ErrInvalid for a missing id, action (ADD or REMOVE), attribute (member or uniqueMember,
// see membershipAttribute) or values; ErrNotFound
// for an unknown app instance (or one of another team), group or user; ErrUnavailable when no
// agent serves the directory (the API's 502); ErrTimeout when the agent does not answer in time
// (504). Every attempt past validation is audited. Safe for concurrent use.
func (e *Engine) ModifyDirectoryGroup(ctx context.Context, p Principal, appInstanceID string, action AgentAction) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := action.validate(); err != nil {
		return err
	}
	var conn *storage.Connection
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := storage.Connections.First(tx, storage.ConnectionsByAppInstance, appInstanceID)
		if err != nil || c.TeamID != p.TeamID {
			return notFoundf("Resource not found: %s (AppInstance)", appInstanceID)
		}
		conn = c
		return nil
	})
	if err != nil {
		return err
	}
	err = e.modifyGroup(ctx, conn, action)
	outcome, detail := "success", fmt.Sprintf("%s %d members of group %s via %s", action.Parameters.Action, len(action.Parameters.Values), action.ID, action.Parameters.Attribute)
	if err != nil {
		outcome, detail = "failure", detail+": "+errorCodeOf(err)
	}
	if aerr := e.store.Update(context.WithoutCancel(ctx), func(tx storage.WriteTx) error {
		return e.audit(tx, p, AuditGroupModify, "active_directory_group", action.ID, outcome, detail)
	}); aerr != nil {
		err = errors.CombineErrors(err, aerr)
	}
	return err
}

func (e *Engine) modifyGroup(ctx context.Context, conn *storage.Connection, action AgentAction) error {
	dir, err := e.directoryFor(ctx, conn)
	if err != nil {
		return err
	}
	base := domainDN(conn.Domain)
	ids, err := e.newOktaIDs(ctx, dir, conn)
	if err != nil {
		return err
	}
	var group string
	switch oktaIDPrefix(action.ID) {
	case OktaGroupIDPrefix:
		group, err = ids.dn(ctx, action.ID, OktaGroupIDPrefix)
	case OktaUserIDPrefix:
		err = notFoundf("%s is the Okta id of a user, not of a group", action.ID)
	default:
		group, err = resolveObject(ctx, dir, base, action.ID, ldapGroupClass)
	}
	if err != nil {
		return wrapNotFound(err, "Resource not found: %s (Group)", action.ID)
	}
	members, err := resolveMembers(ctx, dir, base, ids, action.Parameters.Values)
	if err != nil {
		return err
	}
	err = dir.ModifyMembers(ctx, group, action.Parameters.Attribute, action.Parameters.Action == GroupActionAdd, members)
	return wrapNotFound(err, "Not found: a group or user of the request no longer exists in the directory")
}

// memberBatch is how many objectSid and objectGUID values one search looks up (an OR filter).
const memberBatch = 100

// resolveMembers returns the DNs of the objects values name (see ModifyDirectoryGroup), in order.
// DNs are one base-object search each and derived Okta ids one search of the domain per kind;
// objectSids, objectGUIDs and assigned Okta ids are looked up memberBatch at a time with one
// search, not one each. Each must name exactly one object (an assigned Okta id, one of its kind);
// the first value in order that does not is ErrNotFound "Resource not found: {value} (User)".
func resolveMembers(ctx context.Context, dir directory.Directory, base string, ids *oktaIDs, values []string) ([]string, error) {
	type lookup struct {
		i           int
		attr, value string
		prefix      string // an assigned Okta id's: the object must be of its kind
	}
	out := make([]string, len(values))
	errs := make([]error, len(values))
	var batch []lookup
	for i, v := range values {
		switch prefix := oktaIDPrefix(v); {
		case prefix != "":
			if guid, ok := ids.conn.OktaIDs[v]; ok {
				batch = append(batch, lookup{i, "objectGUID", guid, prefix})
				continue
			}
			out[i], errs[i] = ids.dn(ctx, v, prefix)
		case looksLikeDN(v):
			out[i], errs[i] = resolveObject(ctx, dir, base, v, "")
		case strings.HasPrefix(strings.ToUpper(v), "S-1-"):
			batch = append(batch, lookup{i, "objectSid", v, ""})
		default:
			batch = append(batch, lookup{i, "objectGUID", v, ""})
		}
		if errs[i] != nil && !errors.Is(errs[i], ErrNotFound) {
			return nil, errs[i] // the directory failed: no use asking it more
		}
	}
	key := func(attr, v string) string { return attr + "\x00" + strings.ToLower(v) }
	for start := 0; start < len(batch); start += memberBatch {
		chunk := batch[start:min(start+memberBatch, len(batch))]
		var f strings.Builder
		f.WriteString("(|")
		for _, l := range chunk {
			f.WriteString("(" + l.attr + "=" + ldap.EscapeFilter(l.value) + ")")
		}
		f.WriteString(")")
		es, err := dir.Search(ctx, directory.SearchRequest{BaseDN: base, Scope: directory.ScopeSubtree, Filter: f.String(),
			Attributes: []string{"objectClass", "objectSid", "objectGUID"}})
		if err != nil {
			return nil, wrapNotFound(err, "Resource not found: %s (User)", values[chunk[0].i])
		}
		found := map[string][]*directory.Entry{}
		for _, en := range es {
			for _, attr := range []string{"objectSid", "objectGUID"} {
				if v := en.Get(attr); v != "" {
					found[key(attr, v)] = append(found[key(attr, v)], en)
				}
			}
		}
		for _, l := range chunk {
			m := found[key(l.attr, l.value)]
			switch {
			case len(m) != 1:
				errs[l.i] = notFoundf("no single directory object has the id %q", values[l.i])
			case l.prefix != "" && kindPrefixOf(m[0]) != l.prefix:
				errs[l.i] = notFoundf("the object with the Okta id %q is not of its kind", values[l.i])
			default:
				out[l.i] = m[0].DN
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			return nil, wrapNotFound(err, "Resource not found: %s (User)", values[i])
		}
	}
	return out, nil
}

// resolveObject returns the DN of the object an id names: a DN, an objectSid or an objectGUID.
// classFilter, when set, restricts the object's class.
func resolveObject(ctx context.Context, dir directory.Directory, base, id, classFilter string) (string, error) {
	req := directory.SearchRequest{BaseDN: base, Scope: directory.ScopeSubtree, Attributes: []string{"objectClass"}, SizeLimit: 2}
	switch {
	case looksLikeDN(id):
		req.BaseDN, req.Scope, req.Filter = id, directory.ScopeBaseObject, "(objectClass=*)"
	case strings.HasPrefix(strings.ToUpper(id), "S-1-"):
		req.Filter = "(objectSid=" + ldap.EscapeFilter(id) + ")"
	default:
		req.Filter = "(objectGUID=" + ldap.EscapeFilter(id) + ")"
	}
	if classFilter != "" {
		req.Filter = "(&" + req.Filter + classFilter + ")"
	}
	es, err := dir.Search(ctx, req)
	if err != nil {
		return "", err
	}
	if len(es) != 1 {
		return "", notFoundf("no single directory object has the id %q", id)
	}
	return es[0].DN, nil
}

func looksLikeDN(s string) bool {
	if !strings.Contains(s, "=") {
		return false
	}
	dn, err := ldap.ParseDN(s)
	return err == nil && len(dn.RDNs) > 0
}
