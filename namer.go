package opa

import (
	"github.com/opakit/opa/storage"
)

// NamedObject types (NamedObjectType) used by the AD account views.
const (
	NamedUser          = "user"
	NamedProject       = "project"
	NamedResourceGroup = "resource_group"
	NamedConnection    = "active_directory_connection"
)

// NamedObject is a reference to another object in the wire format ({id, name, type, missing}).
// Missing is true when the object no longer exists; Name is then empty.
type NamedObject struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	Missing bool   `json:"missing"`
}

// namer resolves ids to NamedObjects within one transaction, caching lookups. It borrows the
// records it names (Table.Borrow: no copy) and keeps only their names.
type namer struct {
	tx    storage.ReadTx
	cache map[namedKey]NamedObject
	// slab holds the NamedObjects get hands out, allocated a chunk at a time (a page of 100
	// accounts names 400 objects: one allocation each cost a quarter of the page's allocations).
	// Each result is its own copy, as before: callers may change one without touching another.
	slab []NamedObject
}

// namedKey is a namer's cache key: an object's type and id.
type namedKey struct{ typ, id string }

func newNamer(tx storage.ReadTx) *namer { return &namer{tx: tx, cache: map[namedKey]NamedObject{}} }

func (n *namer) get(typ, id string) *NamedObject {
	if id == "" {
		return nil
	}
	key := namedKey{typ, id}
	if o, ok := n.cache[key]; ok {
		return n.hand(o)
	}
	o := NamedObject{ID: id, Type: typ, Missing: true}
	switch typ {
	case NamedResourceGroup:
		if r, err := storage.ResourceGroups.Borrow(n.tx, id); err == nil {
			o.Name, o.Missing = r.Name, false
		}
	case NamedProject:
		if r, err := storage.Projects.Borrow(n.tx, id); err == nil {
			o.Name, o.Missing = r.Name, false
		}
	case NamedUser:
		if r, err := storage.Users.Borrow(n.tx, id); err == nil {
			o.Name, o.Missing = r.Username, false
		}
	case NamedConnection:
		if r, err := storage.Connections.Borrow(n.tx, id); err == nil {
			o.Name, o.Missing = r.Domain, false
		}
	case namedGroup:
		if r, err := storage.Groups.Borrow(n.tx, id); err == nil {
			o.Name, o.Missing = r.Name, false
		}
	case namedSudoBundle:
		if r, err := storage.SudoBundles.Get(n.tx, id); err == nil {
			o.Name, o.Missing = r.Name, false
		}
	}
	n.cache[key] = o
	return n.hand(o)
}

// hand returns a pointer to a copy of o in n's slab.
func (n *namer) hand(o NamedObject) *NamedObject {
	if len(n.slab) == cap(n.slab) {
		n.slab = make([]NamedObject, 0, 64)
	}
	n.slab = append(n.slab, o)
	return &n.slab[len(n.slab)-1]
}
