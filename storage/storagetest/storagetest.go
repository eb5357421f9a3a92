// Package storagetest checks a storage.Storage implementation against a model with a rapid state
// machine. Every implementation (memstore, filestore, a future SQL store) runs the same machine;
// durable stores add reopen, torn-tail and snapshot actions through Config.
//
// The machine drives four tables with unique indexes: teams (unique name, case-insensitive), users
// (unique (team, username), case-insensitive), connections (unique (team, domain) and unique app
// instance) and checkouts (unique active resource). It checks inserts, updates and deletes with
// their not-found and conflict errors, gets, lists by index, multi-write transactions that commit
// all or nothing, and failed transactions that must leave no trace.
package storagetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
)

// Config describes the store under test. Only Open is required.
type Config struct {
	// Open returns a new, empty store. The machine closes it at the end of each check.
	Open func(t *rapid.T) storage.Storage
	// Reopen closes s and opens its durable state again; the contents must not change.
	Reopen func(t *rapid.T, s storage.Storage) storage.Storage
	// TearTail closes s, damages the end of its log as a crash in the middle of a write would, and
	// reopens it. It may cut into the last frame only when mayLose is true (the model knows the
	// state before the last commit); it reports whether it did, in which case the last
	// acknowledged commit must be gone and nothing else. Otherwise nothing may be lost.
	TearTail func(t *rapid.T, s storage.Storage, mayLose bool) (reopened storage.Storage, lost bool)
	// Snapshot compacts s (for example writes a snapshot); the contents must not change.
	Snapshot func(t *rapid.T, s storage.Storage)
}

// RunStateMachine runs the state machine against the store cfg describes, as one rapid.Check
// (rapid's -rapid.checks and -rapid.steps flags apply).
func RunStateMachine(t *testing.T, cfg Config) {
	t.Helper()
	rapid.Check(t, StateMachine(cfg))
}

// StateMachine returns the state machine as a rapid property, for rapid.Check or rapid.MakeCheck.
func StateMachine(cfg Config) func(*rapid.T) {
	return func(t *rapid.T) {
		m := &machine{cfg: cfg, s: cfg.Open(t), model: newModel()}
		defer func() {
			if m.s != nil {
				_ = m.s.Close()
			}
		}()
		t.Repeat(m.actions())
	}
}

var ctx = context.Background()

// errAbort is what failed transactions return.
var errAbort = errors.New("storagetest: transaction aborted on purpose")

type machine struct {
	cfg   Config
	s     storage.Storage
	model model
	// prev is the model before the last commit that had writes, while a torn tail could still
	// take exactly that commit away; nil otherwise.
	prev model
}

func (m *machine) actions() map[string]func(*rapid.T) {
	a := map[string]func(*rapid.T){
		"insert": m.insert,
		"update": m.update,
		"delete": m.delete,
		"get":    m.get,
		"list":   m.list,
		"multi":  m.multi,
		"fail":   m.fail,
		"":       m.check,
	}
	if m.cfg.Reopen != nil {
		a["reopen"] = func(t *rapid.T) { m.s = m.cfg.Reopen(t, m.s) }
	}
	if m.cfg.Snapshot != nil {
		a["snapshot"] = func(t *rapid.T) { m.cfg.Snapshot(t, m.s) }
	}
	if m.cfg.TearTail != nil {
		a["tear"] = m.tear
	}
	return a
}

// write is one generated write.
type write struct {
	kind  string // insert, update, delete
	table *tableSpec
	id    string
	rec   any
}

func drawWrite(t *rapid.T, kind string) write {
	ts := drawTable(t)
	if kind == "" {
		kind = rapid.SampledFrom([]string{"insert", "update", "delete"}).Draw(t, "kind")
	}
	w := write{kind: kind, table: ts, id: rapid.SampledFrom(ids).Draw(t, "id")}
	if kind != "delete" {
		w.rec = ts.gen(t, w.id)
	}
	return w
}

// apply runs w in tx.
func (w write) apply(tx storage.WriteTx) error {
	switch w.kind {
	case "insert":
		return tx.Insert(w.table.name, w.table.clone(w.rec))
	case "update":
		return tx.Update(w.table.name, w.table.clone(w.rec))
	default:
		return tx.Delete(w.table.name, w.id)
	}
}

// commitOne runs writes in one Update; the transaction stops at the first error and returns it.
// It checks the outcome against the model and, on success, moves the model forward.
func (m *machine) commit(t *rapid.T, writes []write) {
	next := m.model.clone()
	var want error
	for _, w := range writes {
		if want = next.apply(w); want != nil {
			break
		}
	}
	err := m.s.Update(ctx, func(tx storage.WriteTx) error {
		inner := m.model.clone()
		for _, w := range writes {
			if err := w.apply(tx); err != nil {
				return err
			}
			_ = inner.apply(w)
			// Read-your-own-writes inside the transaction.
			got, err := tx.Get(w.table.name, w.id)
			m.expectGet(t, inner, w.table, w.id, got, err)
			if rapid.Bool().Draw(t, "scribble") && got != nil {
				scribble(got) // a returned copy is the caller's own
			}
		}
		return nil
	})
	if !sameClass(want, err) {
		t.Fatalf("Update %v: got error %v, want %v", describe(writes), err, want)
	}
	if err == nil {
		if len(writes) > 0 {
			// Every successful transaction with writes appends a log frame, even when its writes
			// cancel out (insert then delete), so a torn tail takes exactly that frame away.
			m.prev = m.model
		}
		m.model = next
		for _, w := range writes {
			if w.rec != nil {
				scribble(w.rec) // the store must have kept its own copy
			}
		}
	}
}

func (m *machine) insert(t *rapid.T) { m.commit(t, []write{drawWrite(t, "insert")}) }
func (m *machine) update(t *rapid.T) { m.commit(t, []write{drawWrite(t, "update")}) }
func (m *machine) delete(t *rapid.T) { m.commit(t, []write{drawWrite(t, "delete")}) }

func (m *machine) multi(t *rapid.T) {
	n := rapid.IntRange(2, 5).Draw(t, "n")
	writes := make([]write, n)
	for i := range writes {
		writes[i] = drawWrite(t, "")
	}
	m.commit(t, writes)
}

// fail runs writes, ignoring their errors, then fails the transaction: nothing may remain.
func (m *machine) fail(t *rapid.T) {
	n := rapid.IntRange(1, 4).Draw(t, "n")
	writes := make([]write, n)
	for i := range writes {
		writes[i] = drawWrite(t, "")
	}
	err := m.s.Update(ctx, func(tx storage.WriteTx) error {
		for _, w := range writes {
			_ = w.apply(tx)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("failed Update returned %v, want its own error", err)
	}
}

func (m *machine) get(t *rapid.T) {
	ts := drawTable(t)
	id := rapid.SampledFrom(ids).Draw(t, "id")
	err := m.s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.Get(ts.name, id)
		m.expectGet(t, m.model, ts, id, got, err)
		if got != nil {
			scribble(got)
			again, err := tx.Get(ts.name, id)
			m.expectGet(t, m.model, ts, id, again, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func (m *machine) expectGet(t *rapid.T, mod model, ts *tableSpec, id string, got any, err error) {
	want, ok := mod[ts.name][id]
	if !ok {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get %s %s = %v, %v; want not found", ts.name, id, got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Get %s %s: %v", ts.name, id, err)
	}
	if diff := diff(want, got); diff != "" {
		t.Fatalf("Get %s %s (-want +got):\n%s", ts.name, id, diff)
	}
}

func (m *machine) list(t *rapid.T) {
	ts := drawTable(t)
	ix := ts.indexes[rapid.IntRange(0, len(ts.indexes)-1).Draw(t, "index")]
	args := ix.args(t)
	want := m.model.list(ts, ix, args)
	err := m.s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.List(ts.name, ix.name, args...)
		if err != nil {
			t.Fatalf("List %s.%s %q: %v", ts.name, ix.name, args, err)
		}
		if diff := diff(want, got); diff != "" {
			t.Fatalf("List %s.%s %q (-want +got):\n%s", ts.name, ix.name, args, diff)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func (m *machine) tear(t *rapid.T) {
	s, lost := m.cfg.TearTail(t, m.s, m.prev != nil)
	m.s = s
	if lost {
		if m.prev == nil {
			t.Fatalf("TearTail lost a commit although it was told not to")
		}
		m.model = m.prev
	}
	m.prev = nil
}

// check compares every table with the model.
func (m *machine) check(t *rapid.T) {
	err := m.s.View(ctx, func(tx storage.ReadTx) error {
		for _, ts := range specs {
			got, err := tx.List(ts.name, "id")
			if err != nil {
				return err
			}
			if diff := diff(m.model.list(ts, ts.indexes[0], nil), got); diff != "" {
				t.Fatalf("table %s (-want +got):\n%s", ts.name, diff)
			}
			if l, ok := tx.(storage.Lender); ok {
				lent, err := l.LendList(ts.name, "id")
				if err != nil {
					return err
				}
				if diff := diff(m.model.list(ts, ts.indexes[0], nil), lent); diff != "" {
					t.Fatalf("table %s lent (-want +got):\n%s", ts.name, diff)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

var cmpOpts = cmpopts.EquateEmpty()

// diff returns cmp.Diff(want, got) when they differ. reflect.DeepEqual answers the common case
// fast; records are JSON-normalized on both sides, so it rarely disagrees with cmp.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) || cmp.Equal(want, got, cmpOpts) {
		return ""
	}
	return cmp.Diff(want, got, cmpOpts)
}

func drawTable(t *rapid.T) *tableSpec {
	name := rapid.SampledFrom(tableNames).Draw(t, "table")
	for _, ts := range specs {
		if ts.name == name {
			return ts
		}
	}
	panic("storagetest: no table " + name)
}

// sameClass reports whether got is nil when want is, and otherwise of want's class.
func sameClass(want, got error) bool {
	switch {
	case want == nil || got == nil:
		return want == nil && got == nil
	case errors.Is(want, storage.ErrNotFound):
		return errors.Is(got, storage.ErrNotFound) && !errors.Is(got, storage.ErrConflict)
	case errors.Is(want, storage.ErrConflict):
		return errors.Is(got, storage.ErrConflict) && !errors.Is(got, storage.ErrNotFound)
	}
	return false
}

func describe(writes []write) string {
	var b strings.Builder
	for i, w := range writes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s %s", w.kind, w.table.name, w.id)
	}
	return b.String()
}

// scribble changes every string and slice element it can reach in rec, to show that stores hand
// out and keep private copies.
func scribble(rec any) {
	v := reflect.ValueOf(rec).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "~")
		case reflect.Slice:
			for j := 0; j < f.Len(); j++ {
				e := f.Index(j)
				switch e.Kind() {
				case reflect.String:
					e.SetString(e.String() + "~")
				case reflect.Uint8:
					e.SetUint(e.Uint() + 1)
				}
			}
		}
	}
}

// model is the expected content: table name -> id -> record.
type model map[string]map[string]any

func newModel() model {
	m := model{}
	for _, ts := range specs {
		m[ts.name] = map[string]any{}
	}
	return m
}

func (m model) clone() model {
	c := model{}
	for name, recs := range m {
		c[name] = make(map[string]any, len(recs))
		for id, r := range recs {
			c[name][id] = r // records in a model are never changed, only replaced
		}
	}
	return c
}

// apply does w on the model, returning the error class the store must return.
func (m model) apply(w write) error {
	recs := m[w.table.name]
	_, exists := recs[w.id]
	switch w.kind {
	case "insert":
		if exists {
			return storage.ErrConflict
		}
	case "update", "delete":
		if !exists {
			return storage.ErrNotFound
		}
	}
	if w.kind == "delete" {
		delete(recs, w.id)
		return nil
	}
	for _, ix := range w.table.indexes {
		if !ix.unique {
			continue
		}
		for _, key := range ix.keys(w.rec) {
			for id, other := range recs {
				if id != w.id && containsKey(ix.keys(other), key) {
					return storage.ErrConflict
				}
			}
		}
	}
	recs[w.id] = w.table.clone(w.rec)
	return nil
}

// list returns the records whose index ix holds args (every record for "id" without args), by id.
func (m model) list(ts *tableSpec, ix *indexSpec, args []string) []any {
	key := ix.norm(args)
	var ids []string
	for id, rec := range m[ts.name] {
		if args == nil || containsKey(ix.keys(rec), key) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = m[ts.name][id]
	}
	return out
}

func containsKey(keys []string, key string) bool {
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

// tableSpec is the model's own description of a table: the model does not use storage.Schema's
// index code, so a bug there shows up as a difference.
type tableSpec struct {
	name    string
	gen     func(t *rapid.T, id string) any
	indexes []*indexSpec // indexes[0] is "id"
}

// clone copies a record through JSON, as a durable store would.
func (ts *tableSpec) clone(rec any) any {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	out := reflect.New(reflect.TypeOf(rec).Elem()).Interface()
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

type indexSpec struct {
	name   string
	unique bool
	lower  bool
	// fields returns the indexed values of rec: one tuple, or one value per element for a
	// multi-value index.
	fields func(rec any) [][]string
	args   func(t *rapid.T) []string
}

// keys returns the index keys rec is listed under. A tuple with an empty field is not indexed.
func (ix *indexSpec) keys(rec any) []string {
	var out []string
	for _, tuple := range ix.fields(rec) {
		if k := ix.norm(tuple); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func (ix *indexSpec) norm(tuple []string) string {
	for _, f := range tuple {
		if f == "" {
			return ""
		}
	}
	k := strings.Join(tuple, "\x00")
	if ix.lower {
		k = strings.ToLower(k)
	}
	return k
}

var ids = []string{"a", "b", "c", "d", "e"}

var tableNames = []string{storage.Teams.Name(), storage.Users.Name(), storage.Connections.Name(), storage.Checkouts.Name()}

func one(vals ...string) [][]string { return [][]string{vals} }

func pick(vals ...string) *rapid.Generator[string] { return rapid.SampledFrom(vals) }

func argsOf(gens ...*rapid.Generator[string]) func(t *rapid.T) []string {
	return func(t *rapid.T) []string {
		out := make([]string, len(gens))
		for i, g := range gens {
			out[i] = g.Draw(t, fmt.Sprint("arg", i))
		}
		return out
	}
}

func idIndex() *indexSpec {
	return &indexSpec{name: "id", unique: true, fields: func(rec any) [][]string { return one(storage.RecordID(rec)) },
		args: argsOf(pick(ids...))}
}

func stamp(t *rapid.T, label string) time.Time {
	return time.Unix(rapid.Int64Range(1_700_000_000, 1_700_000_100).Draw(t, label), 0).UTC()
}

var (
	teamIDs   = pick("t1", "t2", "T1")
	teamNames = pick("alpha", "Alpha", "beta", "BETA", "gamma")
	usernames = pick("alice", "ALICE", "bob", "Bob", "carol", "")
	emails    = pick("", "a@x.example", "A@X.example", "b@x.example")
	groupIDs  = pick("g1", "g2", "G1", "g3")
	domains   = pick("corp.example", "CORP.example", "lab.example")
	apps      = pick("", "app1", "APP1", "app2")
	resources = pick("r1", "r2", "r3")
	userIDs   = pick("u1", "u2")
)

var specs = []*tableSpec{
	{
		name: storage.Teams.Name(),
		gen: func(t *rapid.T, id string) any {
			return &storage.Team{ID: id, Name: teamNames.Draw(t, "name"), CreatedAt: stamp(t, "created")}
		},
		indexes: []*indexSpec{idIndex(), {name: "name", unique: true, lower: true,
			fields: func(r any) [][]string { return one(r.(*storage.Team).Name) }, args: argsOf(teamNames)}},
	},
	{
		name: storage.Users.Name(),
		gen: func(t *rapid.T, id string) any {
			u := &storage.User{ID: id, TeamID: teamIDs.Draw(t, "team"), Username: usernames.Draw(t, "username"),
				Email: emails.Draw(t, "email"), Status: "ACTIVE", CreatedAt: stamp(t, "created")}
			for _, g := range []string{"g1", "g2", "G1", "g3"} {
				if rapid.Bool().Draw(t, "in "+g) {
					u.GroupIDs = append(u.GroupIDs, g)
				}
			}
			if rapid.Bool().Draw(t, "role") {
				u.Roles = []storage.RoleGrant{{Role: "pam_admin"}}
			}
			return u
		},
		indexes: []*indexSpec{idIndex(),
			{name: "team", fields: func(r any) [][]string { return one(r.(*storage.User).TeamID) }, args: argsOf(teamIDs)},
			{name: "username", unique: true, lower: true, args: argsOf(teamIDs, usernames),
				fields: func(r any) [][]string { u := r.(*storage.User); return one(u.TeamID, u.Username) }},
			{name: "email", lower: true, args: argsOf(teamIDs, emails),
				fields: func(r any) [][]string { u := r.(*storage.User); return one(u.TeamID, u.Email) }},
			{name: "group", args: argsOf(groupIDs), fields: func(r any) [][]string {
				var out [][]string
				for _, g := range r.(*storage.User).GroupIDs {
					out = append(out, []string{g})
				}
				return out
			}},
		},
	},
	{
		name: storage.Connections.Name(),
		gen: func(t *rapid.T, id string) any {
			c := &storage.Connection{ID: id, TeamID: teamIDs.Draw(t, "team"), Name: "conn " + id,
				Domain: domains.Draw(t, "domain"), AppInstanceID: apps.Draw(t, "app"), Status: "connected",
				SyncStatus: "NOT_SYNCED", CreatedAt: stamp(t, "created")}
			if rapid.Bool().Draw(t, "sealed") {
				c.ServiceAccountPassword = rapid.SliceOfN(rapid.Byte(), 1, 40).Draw(t, "password")
			}
			c.DomainControllers = rapid.SliceOfN(pick("dc1", "dc2"), 0, 2).Draw(t, "dcs")
			return c
		},
		indexes: []*indexSpec{idIndex(),
			{name: "team", fields: func(r any) [][]string { return one(r.(*storage.Connection).TeamID) }, args: argsOf(teamIDs)},
			{name: "domain", unique: true, lower: true, args: argsOf(teamIDs, domains),
				fields: func(r any) [][]string { c := r.(*storage.Connection); return one(c.TeamID, c.Domain) }},
			{name: "app_instance", unique: true, args: argsOf(apps),
				fields: func(r any) [][]string { return one(r.(*storage.Connection).AppInstanceID) }},
		},
	},
	{
		name: storage.Checkouts.Name(),
		gen: func(t *rapid.T, id string) any {
			c := &storage.Checkout{ID: id, TeamID: teamIDs.Draw(t, "team"), ResourceID: resources.Draw(t, "resource"),
				ResourceType: "ad_account", UserID: userIDs.Draw(t, "user"), CheckoutAt: stamp(t, "at"),
				ExpiresAt: stamp(t, "expires"), Status: "checkin_complete"}
			if rapid.Bool().Draw(t, "active") {
				c.ActiveResourceID, c.Status = c.ResourceID, "checked_out"
			}
			return c
		},
		indexes: []*indexSpec{idIndex(),
			{name: "resource", fields: func(r any) [][]string { return one(r.(*storage.Checkout).ResourceID) }, args: argsOf(resources)},
			{name: "user", fields: func(r any) [][]string { return one(r.(*storage.Checkout).UserID) }, args: argsOf(userIDs)},
			{name: "active", unique: true, args: argsOf(resources),
				fields: func(r any) [][]string { return one(r.(*storage.Checkout).ActiveResourceID) }},
		},
	},
}
