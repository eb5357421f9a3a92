// Package memdir is an in-memory Active Directory for tests, fixtures and the fake server: a DN
// tree of entries with case-insensitive attribute names and DNs, objectClass, generated objectSid
// and objectGUID (in string form, as directory.Entry documents), searches with base, one-level and
// subtree scope, RFC 4515 filters (compiled with go-ldap's CompileFilter and evaluated here),
// passwords with an optional policy, group membership with a computed memberOf, and fault switches
// that make it behave like an unreachable or slow agent.
//
// A *Dir is safe for concurrent use.
package memdir

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// PasswordPolicy is what SetPassword enforces. The zero value accepts any non-empty password.
type PasswordPolicy struct {
	// MinLength is the minimum number of characters.
	MinLength int
	// Complex requires three of the four kinds upper case, lower case, digit and other, as AD's
	// "password must meet complexity requirements".
	Complex bool
}

// EntrySpec is an entry in the JSON-friendly form fixtures use:
//
//	{"dn": "CN=Jane Doe,OU=Users,DC=corp,DC=example,DC=com",
//	 "attributes": {"objectClass": ["top","person","organizationalPerson","user"], "sAMAccountName": ["jdoe"]},
//	 "password": "optional initial password"}
//
// objectGUID is generated when absent; objectSid is generated for users, computers and groups when
// absent. A "memberOf" attribute is not stored: it adds the entry to the named groups' "member".
type EntrySpec struct {
	DN         string              `json:"dn"`
	Attributes map[string][]string `json:"attributes"`
	Password   string              `json:"password,omitempty"`
}

// Option configures a Dir.
type Option func(*Dir)

// WithSeed makes the generated objectGUIDs and the domain SID depend on seed (default 1), so a
// directory built the same way twice has the same identifiers.
func WithSeed(seed uint64) Option {
	return func(d *Dir) {
		d.pcg = rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
		d.rng = rand.New(d.pcg)
	}
}

// WithPasswordPolicy sets the policy SetPassword enforces.
func WithPasswordPolicy(p PasswordPolicy) Option {
	return func(d *Dir) { d.policy = p }
}

// WithClock sets the clock behind pwdLastSet (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(d *Dir) { d.now = now }
}

// Dir is an in-memory directory. Make one with New or Load. It is safe for concurrent use.
type Dir struct {
	mu       sync.RWMutex
	entries  map[string]*node // by normalized DN
	children map[string]map[string]struct{}
	memberOf map[string]map[string]struct{} // member norm DN -> group norm DNs ("member" attribute only)
	pcg      *rand.PCG                      // rng's source, whose state State saves
	rng      *rand.Rand
	domSID   string
	nextRID  int
	policy   PasswordPolicy
	now      func() time.Time

	service serviceAccounts // who may bind (bind.go)

	faultMu sync.Mutex
	noAgent bool
	timeout bool
	hold    *hold
}

type hold struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

type attr struct {
	name   string
	values []string
}

type node struct {
	dn       string // as given
	norm     string
	parent   string // normalized
	attrs    map[string]*attr
	password string
}

// New returns an empty directory.
func New(opts ...Option) *Dir {
	d := &Dir{
		entries:  map[string]*node{},
		children: map[string]map[string]struct{}{},
		memberOf: map[string]map[string]struct{}{},
		nextRID:  1104,
		now:      time.Now,
	}
	WithSeed(1)(d)
	for _, o := range opts {
		o(d)
	}
	d.domSID = fmt.Sprintf("S-1-5-21-%d-%d-%d", d.rng.Uint32(), d.rng.Uint32(), d.rng.Uint32())
	return d
}

// Load returns a directory holding entries. Entries may come in any order; each needs its parent
// among them, except naming-context roots made only of DC= components. Errors: directory.ErrInvalid
// for a malformed DN, a duplicate DN or an unknown memberOf group; directory.ErrNotFound for a
// missing parent.
func Load(entries []EntrySpec, opts ...Option) (*Dir, error) {
	d := New(opts...)
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b EntrySpec) int { return dnDepth(a.DN) - dnDepth(b.DN) })
	type membership struct{ dn, group string }
	var later []membership // memberOf is applied once every group exists
	for _, s := range sorted {
		attrs := make(map[string][]string, len(s.Attributes))
		for k, v := range s.Attributes {
			if strings.EqualFold(k, "memberOf") {
				for _, g := range v {
					later = append(later, membership{s.DN, g})
				}
				continue
			}
			attrs[k] = v
		}
		s.Attributes = attrs
		if err := d.Add(s); err != nil {
			return nil, err
		}
	}
	for _, m := range later {
		gn, err := NormalizeDN(m.group)
		if err != nil {
			return nil, err
		}
		if _, ok := d.entries[gn]; !ok {
			return nil, errclass.Mark(directory.ErrInvalid, "memberOf group %q of %q does not exist", m.group, m.dn)
		}
		if err := d.ModifyMembers(context.Background(), m.group, "member", true, []string{m.dn}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// dnDepth returns the number of RDNs of dn (0 for a malformed one, which Add then refuses).
func dnDepth(dn string) int {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return 0
	}
	return len(p.RDNs)
}

// DomainSID returns the SID of the domain; objectSids of new objects are it plus a RID.
func (d *Dir) DomainSID() string { return d.domSID }

// NormalizeDN is directory.NormalizeDN: the canonical form of a DN, or a directory.ErrInvalid
// error for a malformed one.
func NormalizeDN(dn string) (string, error) { return directory.NormalizeDN(dn) }

func parentOf(dn string) (parent string, onlyDC bool, err error) {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return "", false, errclass.Wrap(err, directory.ErrInvalid, "malformed DN %q", dn)
	}
	if len(p.RDNs) == 0 {
		return "", false, errclass.Mark(directory.ErrInvalid, "empty DN")
	}
	onlyDC = true
	for _, r := range p.RDNs {
		for _, a := range r.Attributes {
			if !strings.EqualFold(a.Type, "dc") {
				onlyDC = false
			}
		}
	}
	key, offs, _ := directory.AppendNormalizedDN(nil, nil, dn)
	if len(offs) > 0 {
		parent = string(key[offs[0]:])
	}
	return parent, onlyDC, nil
}

// Add adds an entry (see EntrySpec). Errors: directory.ErrInvalid for a malformed or duplicate DN
// or an unknown memberOf group, directory.ErrNotFound for a missing parent.
func (d *Dir) Add(s EntrySpec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addLocked(s)
}

// newNode returns an entry for s not yet in the directory, with s's attributes but memberOf (which
// it returns apart), after checking that s's DN is valid and new and its parent exists (or it is
// a naming-context root made of DC= components only).
func (d *Dir) newNode(s EntrySpec) (n *node, memberOf []string, err error) {
	norm, err := NormalizeDN(s.DN)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := d.entries[norm]; ok {
		return nil, nil, errclass.Mark(directory.ErrInvalid, "entry %q already exists", s.DN)
	}
	parent, onlyDC, err := parentOf(s.DN)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := d.entries[parent]; !ok && !(onlyDC) {
		return nil, nil, errclass.Mark(directory.ErrNotFound, "parent of %q does not exist", s.DN)
	}
	n = &node{dn: s.DN, norm: norm, parent: parent, attrs: make(map[string]*attr, len(s.Attributes)), password: s.Password}
	for k, v := range s.Attributes {
		if strings.EqualFold(k, "memberOf") {
			memberOf = append(memberOf, v...)
			continue
		}
		n.set(k, slices.Clone(v))
	}
	return n, memberOf, nil
}

// insert puts n (from newNode) into the tree and links the members its "member" attribute names.
func (d *Dir) insert(n *node) {
	d.entries[n.norm] = n
	if d.children[n.parent] == nil {
		d.children[n.parent] = map[string]struct{}{}
	}
	d.children[n.parent][n.norm] = struct{}{}
	for _, m := range n.values("member") {
		if mn, err := NormalizeDN(m); err == nil {
			d.link(mn, n.norm)
		}
	}
}

func (d *Dir) addLocked(s EntrySpec) error {
	n, groups, err := d.newNode(s)
	if err != nil {
		return err
	}
	for _, g := range groups {
		gn, err := NormalizeDN(g)
		if err != nil {
			return err
		}
		if _, ok := d.entries[gn]; !ok {
			return errclass.Mark(directory.ErrInvalid, "memberOf group %q of %q does not exist", g, s.DN)
		}
	}
	if n.get("objectGUID") == nil {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], d.rng.Uint64())
		binary.LittleEndian.PutUint64(b[8:], d.rng.Uint64())
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		n.set("objectGUID", []string{uuid.UUID(b).String()})
	}
	if n.get("objectSid") == nil && n.hasClass("user", "computer", "group") {
		n.set("objectSid", []string{fmt.Sprintf("%s-%d", d.domSID, d.nextRID)})
		d.nextRID++
	}
	if n.password != "" {
		n.set("pwdLastSet", []string{fileTime(d.now())})
	}
	if n.get("distinguishedName") == nil {
		n.set("distinguishedName", []string{s.DN})
	}
	d.insert(n)
	for _, g := range groups {
		gn, _ := NormalizeDN(g)
		gnode := d.entries[gn]
		gnode.set("member", append(slices.Clone(gnode.values("member")), s.DN))
		d.link(n.norm, gn)
	}
	return nil
}

func (d *Dir) link(member, group string) {
	if d.memberOf[member] == nil {
		d.memberOf[member] = map[string]struct{}{}
	}
	d.memberOf[member][group] = struct{}{}
}

func (n *node) set(name string, v []string) {
	n.attrs[strings.ToLower(name)] = &attr{name: name, values: v}
}

func (n *node) get(name string) *attr { return n.attrs[strings.ToLower(name)] }

func (n *node) values(name string) []string {
	if a := n.get(name); a != nil {
		return a.values
	}
	return nil
}

func (n *node) hasClass(classes ...string) bool {
	for _, v := range n.values("objectClass") {
		for _, c := range classes {
			if strings.EqualFold(v, c) {
				return true
			}
		}
	}
	return false
}

// fileTime is AD's FILETIME: 100-nanosecond intervals since 1601-01-01 UTC, in decimal.
func fileTime(t time.Time) string {
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	return strconv.FormatInt((t.Unix()+epochDiff)*10_000_000+int64(t.Nanosecond()/100), 10)
}

// Remove deletes the entry with the DN, and its subtree. directory.ErrNotFound if absent.
func (d *Dir) Remove(dn string) error {
	norm, err := NormalizeDN(dn)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.entries[norm]; !ok {
		return errclass.Mark(directory.ErrNotFound, "entry %q does not exist", dn)
	}
	d.removeLocked(norm)
	return nil
}

func (d *Dir) removeLocked(norm string) {
	for c := range d.children[norm] {
		d.removeLocked(c)
	}
	n := d.entries[norm]
	delete(d.children, norm)
	delete(d.children[n.parent], norm)
	delete(d.entries, norm)
	for g := range d.memberOf[norm] {
		if gn := d.entries[g]; gn != nil {
			gn.set("member", slices.DeleteFunc(slices.Clone(gn.values("member")), func(m string) bool {
				mn, err := NormalizeDN(m)
				return err == nil && mn == norm
			}))
		}
	}
	delete(d.memberOf, norm)
	for _, gs := range d.memberOf {
		delete(gs, norm)
	}
}

// Modify replaces the values of one attribute of the entry (no values: removes the attribute).
// "member" keeps memberOf in step. directory.ErrNotFound for an unknown DN.
func (d *Dir) Modify(dn, attribute string, values ...string) error {
	norm, err := NormalizeDN(dn)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.entries[norm]
	if !ok {
		return errclass.Mark(directory.ErrNotFound, "entry %q does not exist", dn)
	}
	if strings.EqualFold(attribute, "member") {
		for _, m := range n.values("member") {
			if mn, err := NormalizeDN(m); err == nil {
				delete(d.memberOf[mn], norm)
			}
		}
		for _, m := range values {
			if mn, err := NormalizeDN(m); err == nil {
				d.link(mn, norm)
			}
		}
	}
	if len(values) == 0 {
		delete(n.attrs, strings.ToLower(attribute))
		return nil
	}
	n.set(attribute, slices.Clone(values))
	return nil
}

// Entry returns a copy of the entry with the DN (memberOf included). directory.ErrNotFound if
// absent.
func (d *Dir) Entry(dn string) (*directory.Entry, error) {
	norm, err := NormalizeDN(dn)
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, ok := d.entries[norm]
	if !ok {
		return nil, errclass.Mark(directory.ErrNotFound, "entry %q does not exist", dn)
	}
	return d.entryOf(n, nil), nil
}

// Password returns the password last set on the entry, for tests. ok is false for an unknown DN
// or an entry without a password.
func (d *Dir) Password(dn string) (pw string, ok bool) {
	norm, err := NormalizeDN(dn)
	if err != nil {
		return "", false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, found := d.entries[norm]
	if !found || n.password == "" {
		return "", false
	}
	return n.password, true
}

// Len returns the number of entries.
func (d *Dir) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}

// SetNoAgent switches the "no agent connected" fault: while on, every operation fails with
// directory.ErrUnavailable, as the Okta API's 502 "There are no connected agents.".
func (d *Dir) SetNoAgent(on bool) {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	d.noAgent = on
}

// SetAgentTimeout switches the "agent timeout" fault: while on, every operation fails with
// directory.ErrTimeout, as the Okta API's 504 "Timed out waiting for agent".
func (d *Dir) SetAgentTimeout(on bool) {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	d.timeout = on
}

// HoldSearches makes the next searches wait until release is called (or their context ends, which
// gives directory.ErrTimeout). entered is closed when the first search starts waiting. Tests use it
// to observe a sync while it runs.
func (d *Dir) HoldSearches() (entered <-chan struct{}, release func()) {
	h := &hold{entered: make(chan struct{}), release: make(chan struct{})}
	d.faultMu.Lock()
	d.hold = h
	d.faultMu.Unlock()
	var once sync.Once
	return h.entered, func() {
		once.Do(func() {
			d.faultMu.Lock()
			if d.hold == h {
				d.hold = nil
			}
			d.faultMu.Unlock()
			close(h.release)
		})
	}
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errclass.Wrap(err, directory.ErrTimeout, "timed out waiting for agent")
	}
	return nil
}

// fault returns the error a switched-on fault gives, after honouring ctx.
func (d *Dir) fault(ctx context.Context, search bool) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	d.faultMu.Lock()
	noAgent, timeout, h := d.noAgent, d.timeout, d.hold
	d.faultMu.Unlock()
	switch {
	case noAgent:
		return errclass.Mark(directory.ErrUnavailable, "there are no connected agents")
	case timeout:
		return errclass.Mark(directory.ErrTimeout, "timed out waiting for agent")
	}
	if search && h != nil {
		h.once.Do(func() { close(h.entered) })
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
	return nil
}

// Search implements directory.Directory. Errors: directory.ErrNotFound for a missing base DN,
// directory.ErrInvalid for a malformed DN or filter, and the fault errors.
func (d *Dir) Search(ctx context.Context, req directory.SearchRequest) ([]*directory.Entry, error) {
	var out []*directory.Entry
	err := d.search(ctx, req, func(e *directory.Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SearchPages implements directory.PageSearcher: Search's entries, at most size to a call of
// page, built one page at a time. The directory's read lock is held until the search is over, so
// page must not change the directory.
func (d *Dir) SearchPages(ctx context.Context, req directory.SearchRequest, size int, page func([]*directory.Entry) error) error {
	var buf []*directory.Entry
	err := d.search(ctx, req, func(e *directory.Entry) error {
		buf = append(buf, e)
		if size > 0 && len(buf) >= size {
			full := buf
			buf = nil
			return page(full)
		}
		return nil
	})
	if err == nil && len(buf) > 0 {
		err = page(buf)
	}
	return err
}

// search runs req and calls emit with each matching entry in order (sorted by normalized DN),
// stopping at emit's first error.
func (d *Dir) search(ctx context.Context, req directory.SearchRequest, emit func(*directory.Entry) error) error {
	if err := d.fault(ctx, true); err != nil {
		return err
	}
	filter := req.Filter
	if filter == "" {
		filter = "(objectClass=*)"
	}
	f, err := ldap.CompileFilter(filter)
	if err != nil {
		return errclass.Wrap(err, directory.ErrInvalid, "bad LDAP filter %q", filter)
	}
	if err := checkFilter(f); err != nil {
		return err
	}
	lowerFilterAttrs(f)
	base, err := NormalizeDN(req.BaseDN)
	if err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	b, ok := d.entries[base]
	if !ok {
		return errclass.Mark(directory.ErrNotFound, "base DN %q does not exist", req.BaseDN)
	}
	var cands []*node
	switch req.Scope {
	case directory.ScopeBaseObject:
		cands = []*node{b}
	case directory.ScopeOneLevel:
		for c := range d.children[base] {
			cands = append(cands, d.entries[c])
		}
	default:
		var walk func(*node)
		walk = func(n *node) {
			cands = append(cands, n)
			for c := range d.children[n.norm] {
				walk(d.entries[c])
			}
		}
		walk(b)
	}
	slices.SortFunc(cands, func(a, b *node) int { return strings.Compare(a.norm, b.norm) })
	found := 0
	for i, n := range cands {
		if i%1024 == 0 {
			if err := ctxErr(ctx); err != nil {
				return err
			}
		}
		if !d.match(f, n) {
			continue
		}
		if err := emit(d.entryOf(n, req.Attributes)); err != nil {
			return err
		}
		if found++; req.SizeLimit > 0 && found >= req.SizeLimit {
			break
		}
	}
	return nil
}

func (d *Dir) entryOf(n *node, want []string) *directory.Entry {
	e := &directory.Entry{DN: n.dn, Attributes: make(map[string][]string, len(n.attrs)+1)}
	keep := func(name string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if w == "*" || strings.EqualFold(w, name) {
				return true
			}
		}
		return false
	}
	for _, a := range n.attrs {
		if keep(a.name) {
			e.Attributes[a.name] = slices.Clone(a.values)
		}
	}
	if mo := d.memberOfValues(n); len(mo) > 0 && keep("memberOf") {
		e.Attributes["memberOf"] = mo
	}
	return e
}

func (d *Dir) memberOfValues(n *node) []string {
	gs := d.memberOf[n.norm]
	if len(gs) == 0 {
		return nil
	}
	out := make([]string, 0, len(gs))
	for g := range gs {
		if gn := d.entries[g]; gn != nil {
			out = append(out, gn.dn)
		}
	}
	slices.Sort(out)
	return out
}

// attrValues returns the values of an attribute for filter evaluation (memberOf computed).
func (d *Dir) attrValues(n *node, name string) []string {
	if strings.EqualFold(name, "memberOf") {
		return d.memberOfValues(n)
	}
	if strings.EqualFold(name, "distinguishedName") || strings.EqualFold(name, "dn") {
		return []string{n.dn}
	}
	return n.values(name)
}

func str(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	if p.Data != nil {
		return p.Data.String()
	}
	return ""
}

// lowerFilterAttrs lower-cases the attribute names of a compiled filter once, so that matching
// each entry looks them up without converting them again.
func lowerFilterAttrs(p *ber.Packet) {
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr, ldap.FilterNot:
		for _, c := range p.Children {
			lowerFilterAttrs(c)
		}
	case ldap.FilterPresent:
		p.Value = strings.ToLower(str(p))
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual, ldap.FilterSubstrings:
		if len(p.Children) > 0 {
			p.Children[0].Value = strings.ToLower(str(p.Children[0]))
		}
	}
}

// checkFilter rejects filter kinds the directory does not evaluate (extensible match).
func checkFilter(p *ber.Packet) error {
	switch p.Tag {
	case ldap.FilterExtensibleMatch:
		return errclass.Mark(directory.ErrInvalid, "extensible-match filters are not supported")
	case ldap.FilterAnd, ldap.FilterOr, ldap.FilterNot:
		for _, c := range p.Children {
			if err := checkFilter(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// match evaluates a compiled RFC 4515 filter against n. Matching is case-insensitive (AD's default
// caseIgnoreString semantics); ordering compares integers numerically and strings lexically.
// objectCategory=person also matches a stored "CN=Person,CN=Schema,…" value, as AD does.
func (d *Dir) match(p *ber.Packet, n *node) bool {
	switch p.Tag {
	case ldap.FilterAnd:
		for _, c := range p.Children {
			if !d.match(c, n) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range p.Children {
			if d.match(c, n) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return len(p.Children) == 1 && !d.match(p.Children[0], n)
	case ldap.FilterPresent:
		return len(d.attrValues(n, str(p))) > 0
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return false
		}
		name, want := str(p.Children[0]), str(p.Children[1])
		for _, v := range d.attrValues(n, name) {
			switch p.Tag {
			case ldap.FilterGreaterOrEqual:
				if compare(v, want) >= 0 {
					return true
				}
			case ldap.FilterLessOrEqual:
				if compare(v, want) <= 0 {
					return true
				}
			default:
				if equalValue(name, v, want) {
					return true
				}
			}
		}
		return false
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return false
		}
		name := str(p.Children[0])
		for _, v := range d.attrValues(n, name) {
			if substringMatch(strings.ToLower(v), p.Children[1].Children) {
				return true
			}
		}
		return false
	}
	return false
}

func equalValue(name, v, want string) bool {
	if strings.EqualFold(v, want) {
		return true
	}
	if strings.EqualFold(name, "objectCategory") {
		if dn, err := ldap.ParseDN(v); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
			return strings.EqualFold(dn.RDNs[0].Attributes[0].Value, want)
		}
	}
	if dnLike(name) {
		a, err1 := NormalizeDN(v)
		b, err2 := NormalizeDN(want)
		return err1 == nil && err2 == nil && a == b
	}
	return false
}

func dnLike(name string) bool {
	switch strings.ToLower(name) {
	case "member", "memberof", "uniquemember", "distinguishedname", "manager":
		return true
	}
	return false
}

func compare(a, b string) int {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func substringMatch(v string, parts []*ber.Packet) bool {
	pos := 0
	for i, part := range parts {
		s := strings.ToLower(str(part))
		switch part.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			pos = len(s)
		case ldap.FilterSubstringsAny:
			j := strings.Index(v[pos:], s)
			if j < 0 {
				return false
			}
			pos += j + len(s)
		case ldap.FilterSubstringsFinal:
			if i != len(parts)-1 || len(v)-pos < len(s) || !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}

// SetPassword implements directory.Directory: it stores the password and sets pwdLastSet. A
// password the policy refuses gives an error marked with directory.ErrConstraint and
// directory.ErrInvalid (the password itself is never in the message). directory.ErrNotFound for
// an unknown DN.
func (d *Dir) SetPassword(ctx context.Context, dn, password string) error {
	if err := d.fault(ctx, false); err != nil {
		return err
	}
	norm, err := NormalizeDN(dn)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.entries[norm]
	if !ok {
		return errclass.Mark(directory.ErrNotFound, "account %q does not exist", dn)
	}
	if err := d.policy.check(password); err != nil {
		return err
	}
	n.password = password
	n.set("pwdLastSet", []string{fileTime(d.now())})
	return nil
}

func (p PasswordPolicy) check(pw string) error {
	fail := func(why string) error {
		return errclass.Tag(errclass.Mark(directory.ErrConstraint, "constraint violation: the password %s", why), directory.ErrInvalid)
	}
	if pw == "" {
		return fail("is empty")
	}
	if p.MinLength > 0 && len([]rune(pw)) < p.MinLength {
		return fail(fmt.Sprintf("is shorter than %d characters", p.MinLength))
	}
	if p.Complex {
		var up, lo, dig, other int
		for _, r := range pw {
			switch {
			case 'A' <= r && r <= 'Z':
				up = 1
			case 'a' <= r && r <= 'z':
				lo = 1
			case '0' <= r && r <= '9':
				dig = 1
			default:
				other = 1
			}
		}
		if up+lo+dig+other < 3 {
			return fail("does not meet the complexity requirements")
		}
	}
	return nil
}

// ModifyMembers implements directory.Directory. Members are DNs; adding a present member or
// removing an absent one is not an error. Errors: directory.ErrNotFound for an unknown group or
// member, directory.ErrInvalid for an empty attribute or a malformed DN, and the fault errors.
func (d *Dir) ModifyMembers(ctx context.Context, groupDN, attribute string, add bool, members []string) error {
	if err := d.fault(ctx, false); err != nil {
		return err
	}
	if attribute == "" {
		return errclass.Mark(directory.ErrInvalid, "the membership attribute is empty")
	}
	gnorm, err := NormalizeDN(groupDN)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.entries[gnorm]
	if !ok {
		return errclass.Mark(directory.ErrNotFound, "group %q does not exist", groupDN)
	}
	norms := make([]string, len(members))
	members = slices.Clone(members)
	for i, m := range members {
		mn, err := NormalizeDN(m)
		if err != nil {
			return err
		}
		mnode, ok := d.entries[mn]
		if !ok {
			return errclass.Mark(directory.ErrNotFound, "member %q does not exist", m)
		}
		norms[i] = mn
		members[i] = mnode.dn
	}
	cur := slices.Clone(g.values(attribute))
	has := func(mn string) int {
		return slices.IndexFunc(cur, func(v string) bool {
			vn, err := NormalizeDN(v)
			return err == nil && vn == mn
		})
	}
	isMember := strings.EqualFold(attribute, "member")
	for i, mn := range norms {
		j := has(mn)
		switch {
		case add && j < 0:
			cur = append(cur, members[i])
			if isMember {
				d.link(mn, gnorm)
			}
		case !add && j >= 0:
			cur = slices.Delete(cur, j, j+1)
			if isMember {
				delete(d.memberOf[mn], gnorm)
			}
		}
	}
	if len(cur) == 0 {
		delete(g.attrs, strings.ToLower(attribute))
	} else {
		g.set(attribute, cur)
	}
	return nil
}

var _ directory.Directory = (*Dir)(nil)
