package memdir

import (
	"slices"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/errclass"
)

// State is the whole content of a Dir, for a snapshot (Dir.State) and a copy made from it
// (FromState): every entry with the attributes it holds (objectSid, objectGUID, member, pwdLastSet
// and the rest, as stored; memberOf is computed from member and left out) and its password, parents
// before children, and the position of the generators of new objectSids and objectGUIDs. It does
// not hold the options (password policy, clock) or the fault switches. It holds the passwords in
// plain text: keep it as you would keep them.
type State struct {
	Entries   []EntrySpec `json:"entries"`
	DomainSID string      `json:"domain_sid"`
	NextRID   int         `json:"next_rid"`
	Generator []byte      `json:"generator"`
}

// State returns the directory's content. Its cost is O(entries and their values). It is safe for
// concurrent use; concurrent writes are either in the State or not, entry by entry.
func (d *Dir) State() (State, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	gen, err := d.pcg.MarshalBinary()
	if err != nil {
		return State{}, errors.Wrap(err, "memdir: saving the identifier generator")
	}
	s := State{DomainSID: d.domSID, NextRID: d.nextRID, Generator: gen, Entries: make([]EntrySpec, 0, len(d.entries))}
	for _, n := range d.entries {
		attrs := make(map[string][]string, len(n.attrs))
		for _, a := range n.attrs {
			attrs[a.name] = slices.Clone(a.values)
		}
		s.Entries = append(s.Entries, EntrySpec{DN: n.dn, Attributes: attrs, Password: n.password})
	}
	// Parents first (fewer RDNs), then by normalized DN, so that equal directories give equal
	// States.
	slices.SortFunc(s.Entries, func(a, b EntrySpec) int {
		if c := dnDepth(a.DN) - dnDepth(b.DN); c != 0 {
			return c
		}
		na, _ := NormalizeDN(a.DN) // stored DNs are valid
		nb, _ := NormalizeDN(b.DN)
		return strings.Compare(na, nb)
	})
	return s, nil
}

// FromState returns a directory holding exactly s's content (see State), with opts (the password
// policy and clock; a WithSeed is overridden by s's generator). Errors: directory.ErrInvalid for a
// malformed or duplicate DN or a bad generator state, directory.ErrNotFound for an entry whose
// parent is not before it.
func FromState(s State, opts ...Option) (*Dir, error) {
	d := New(opts...)
	if err := d.pcg.UnmarshalBinary(s.Generator); err != nil {
		return nil, errclass.Mark(directory.ErrInvalid, "memdir: the identifier generator's state is not valid")
	}
	d.domSID, d.nextRID = s.DomainSID, s.NextRID
	for _, e := range s.Entries {
		n, _, err := d.newNode(e) // memberOf is computed from the groups' member, which s holds
		if err != nil {
			return nil, err
		}
		d.insert(n)
	}
	return d, nil
}
