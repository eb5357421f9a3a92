package opa

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Account import (user sync job runs, their test requests and force syncs), decided here:
//
//   - A force sync reads the connection's accounts through every active user sync job (its base
//     DN, filter, SID and UPN fields). With no active user sync job it reads the whole domain
//     (the DC= naming context of the connection's domain) with ForceSyncFilter: user objects that
//     are not computers (in AD a computer is objectClass user too). It does not rely on
//     objectCategory, which fixture directories often leave out. Accounts not found are marked
//     Missing; then the account rules and matching run (evaluateConnection).
//   - The directory is read a page of writeChunk entries at a time (directory.SearchPages), so a
//     sync holds one page of entries, the accounts made from them (kept for the diff) and the
//     store's own records, which it borrows rather than copies (BenchmarkForceSyncHeap: the peak
//     heap of a 100k-account sync is 1.3–1.5× the steady heap).
//   - The import writes in transactions of at most writeChunk accounts, and the last one also
//     runs evaluateConnection, records the result and sets the sync status, so a small sync is one
//     transaction and a large one ends consistent. When the evaluation changes more than
//     writeChunk accounts (the first sync of a large domain) it continues in chunks
//     (evaluateChunked), and the result and status are recorded with its last transaction. While it runs the connection's sync status is
//     SYNC_IN_PROGRESS; only the directory fields of an account (names, UPN, DN, groups, Missing)
//     are written, each chunk re-reading the record, so concurrent checkouts and rotations are not
//     overwritten.
//   - The sync status is persisted on the connection. Runs hold the connection's in-process mutex;
//     the store has one engine (the file store is locked), so a SYNC_IN_PROGRESS found while the
//     mutex is free was left by a process that died, and reads and new syncs treat it as
//     SYNC_FAILED.

// ForceSyncFilter selects user objects when a force sync reads the whole domain.
const ForceSyncFilter = "(&(objectClass=user)(!(objectClass=computer)))"

// accountSource is one directory search that yields accounts.
type accountSource struct {
	baseDN, filter, sidField, upnField string
}

// planAccounts searches the sources and returns the accounts found, by lower-cased SID, and the
// number of entries skipped for having no SID.
func (e *Engine) planAccounts(ctx context.Context, dir directory.Directory, conn *storage.Connection, sources []accountSource) (map[string]*storage.Account, int, error) {
	found := map[string]*storage.Account{}
	skipped := 0
	for _, src := range sources {
		sidF, upnF := src.sidField, src.upnField
		if sidF == "" {
			sidF = DefaultSIDField
		}
		if upnF == "" {
			upnF = DefaultUPNField
		}
		// The directory's entries come a page at a time (directory.SearchPages), so only one page
		// of them is in memory beside the accounts made from them.
		err := directory.SearchPages(ctx, dir, directory.SearchRequest{
			BaseDN: src.baseDN, Scope: directory.ScopeSubtree, Filter: src.filter,
			Attributes: []string{sidF, upnF, "sAMAccountName", "givenName", "sn", "displayName", "mail", "memberOf"},
		}, writeChunk, func(entries []*directory.Entry) error {
			for _, en := range entries {
				sid := en.Get(sidF)
				if sid == "" {
					skipped++
					continue
				}
				a := &storage.Account{
					TeamID: conn.TeamID, ConnectionID: conn.ID, Domain: conn.Domain, SID: sid,
					UPN: en.Get(upnF), SAMAccountName: en.Get("sAMAccountName"), DistinguishedName: en.DN,
					FirstName: en.Get("givenName"), LastName: en.Get("sn"), DisplayName: en.Get("displayName"),
					Email: en.Get("mail"), OktaGroupNames: groupNames(en.GetAll("memberOf")),
				}
				found[strings.ToLower(sid)] = a
			}
			return nil
		})
		if err != nil {
			return nil, 0, errors.Wrapf(err, "searching %q", src.baseDN)
		}
	}
	return found, skipped, nil
}

// groupNames returns the CNs of group DNs, sorted.
func groupNames(dns []string) []string {
	var out []string
	for _, dn := range dns {
		p, err := ldap.ParseDN(dn)
		if err != nil || len(p.RDNs) == 0 || len(p.RDNs[0].Attributes) == 0 {
			continue
		}
		out = append(out, p.RDNs[0].Attributes[0].Value)
	}
	slices.Sort(out)
	return out
}

// copyDirectoryFields copies what the directory owns from src to dst and reports whether dst
// changed.
func copyDirectoryFields(dst, src *storage.Account) bool {
	changed := dst.UPN != src.UPN || dst.SAMAccountName != src.SAMAccountName ||
		dst.DistinguishedName != src.DistinguishedName || dst.FirstName != src.FirstName ||
		dst.LastName != src.LastName || dst.DisplayName != src.DisplayName || dst.Email != src.Email ||
		dst.Domain != src.Domain || !slices.Equal(dst.OktaGroupNames, src.OktaGroupNames) || dst.Missing
	dst.UPN, dst.SAMAccountName, dst.DistinguishedName = src.UPN, src.SAMAccountName, src.DistinguishedName
	dst.FirstName, dst.LastName, dst.DisplayName, dst.Email = src.FirstName, src.LastName, src.DisplayName, src.Email
	dst.Domain, dst.OktaGroupNames, dst.Missing = src.Domain, slices.Clone(src.OktaGroupNames), false
	return changed
}

// accountSync describes one account import: a user sync job run, its test request or a force sync.
type accountSync struct {
	conn    *storage.Connection
	sources []accountSource
	// scope: existing accounts with a DN under one of these normalized DNs are marked missing when
	// not found; nil means every account of the connection.
	scope []string
	test  bool
	res   *storage.SyncResult
	// final runs in the last transaction of a real run (the job's schedule).
	final func(storage.WriteTx) error
}

// syncAccounts runs an account import and records its result. The caller holds the connection's
// mutex for a real run. A failure is recorded (result and SYNC_FAILED) and returned.
func (e *Engine) syncAccounts(ctx context.Context, s accountSync) (*storage.SyncResult, error) {
	conn, res, now := s.conn, s.res, e.now()
	fail := func(cause error) (*storage.SyncResult, error) {
		var advance func(storage.WriteTx) error
		if !s.test {
			advance = func(tx storage.WriteTx) error {
				if s.final != nil {
					if err := s.final(tx); err != nil {
						return err
					}
				}
				return e.setSyncStatus(tx, conn.ID, SyncFailed, time.Time{})
			}
		}
		return e.finishFailed(ctx, res, advance, cause)
	}
	if !s.test {
		if err := e.store.Update(ctx, func(tx storage.WriteTx) error {
			return e.setSyncStatus(tx, conn.ID, SyncInProgress, now)
		}); err != nil {
			return nil, err
		}
	}
	dir, err := e.directoryFor(ctx, conn)
	if err != nil {
		return fail(err)
	}
	found, skipped, err := e.planAccounts(ctx, dir, conn, s.sources)
	if err != nil {
		return fail(err)
	}
	// The connection's accounts are borrowed (read, never changed: a change is a copy, and each
	// write re-reads its record), so the diff holds no second copy of every account.
	var existing []*storage.Account
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		existing, err = storage.Accounts.BorrowList(tx, storage.AccountsByConnection, conn.ID)
		return err
	}); err != nil {
		return fail(err)
	}

	var ops []func(storage.WriteTx) error
	added, updated, removed := 0, 0, 0
	seen := map[string]bool{}
	for _, old := range existing {
		key := strings.ToLower(old.SID)
		seen[key] = true
		want, ok := found[key]
		switch {
		case ok:
			cp := *old
			if !copyDirectoryFields(&cp, want) {
				continue
			}
			updated++
			ops = append(ops, func(tx storage.WriteTx) error {
				cur, err := storage.Accounts.Get(tx, old.ID)
				if err != nil {
					return nil // deleted meanwhile
				}
				copyDirectoryFields(cur, want)
				cur.UpdatedAt = now
				return storage.Accounts.Update(tx, cur)
			})
		case !old.Missing && s.inScope(old.DistinguishedName):
			removed++
			ops = append(ops, func(tx storage.WriteTx) error {
				cur, err := storage.Accounts.Get(tx, old.ID)
				if err != nil {
					return nil
				}
				cur.Missing, cur.UpdatedAt = true, now
				return storage.Accounts.Update(tx, cur)
			})
		}
	}
	keys := make([]string, 0, len(found))
	for k := range found {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		a := found[k]
		a.ID, a.CreatedAt, a.UpdatedAt = e.newID(), now, now
		added++
		ops = append(ops, func(tx storage.WriteTx) error { return storage.Accounts.Insert(tx, a) })
	}
	res.Added, res.Updated, res.Removed, res.Matched = added, updated, removed, 0
	res.TaskState, res.RulesSummaryStatus = TaskDone, TaskDone
	prefix := ""
	if s.test {
		prefix = "test request: "
	}
	res.Summary = prefix + summaryLine("accounts", len(found), added, updated, removed)
	var detail []string
	for _, src := range s.sources {
		detail = append(detail, fmt.Sprintf("searched %q with %s", src.baseDN, src.filter))
	}
	if skipped > 0 {
		detail = append(detail, fmt.Sprintf("%d entries without a SID were skipped", skipped))
	}
	if s.test {
		res.DetailedSummary = strings.Join(detail, "\n")
		res.UpdatedAt = e.now()
		err := e.store.Update(ctx, func(tx storage.WriteTx) error { return storage.SyncResults.Insert(tx, res) })
		return res, err
	}
	// finish records the result and the sync status; it runs in the transaction that completes the
	// evaluation of the accounts.
	finish := func(tx storage.WriteTx, ev EvalSummary) error {
		res.Matched, res.Unmatched = ev.Matched, ev.Unmatched
		res.DetailedSummary = strings.Join(append(slices.Clip(detail), fmt.Sprintf("account rules: %d managed, %d unmanaged, %d matched, %d unmatched, %d changed",
			ev.Managed, ev.Unmanaged, ev.Matched, ev.Unmatched, ev.Changed)), "\n")
		res.UpdatedAt = e.now()
		if s.final != nil {
			if err := s.final(tx); err != nil {
				return err
			}
		}
		if err := e.setSyncStatus(tx, conn.ID, SyncCompleted, time.Time{}); err != nil {
			return err
		}
		return storage.SyncResults.Insert(tx, res)
	}
	evaluated := false
	err = e.applyChunked(ctx, ops, func(tx storage.WriteTx) error {
		c, err := storage.Connections.Get(tx, conn.ID)
		if err != nil {
			return wrapNotFound(err, "AD connection %q was deleted during the sync", conn.ID)
		}
		// The last import chunk shares this transaction, so the evaluation gets what it left.
		ev, done, err := e.evaluateConnection(tx, c, now, writeChunk-lastChunk(len(ops)))
		if err != nil || !done {
			return err // too many accounts change for this transaction: evaluateChunked follows
		}
		evaluated = true
		return finish(tx, ev)
	})
	if err == nil && !evaluated {
		_, err = e.evaluateChunked(ctx, conn.ID, now, func(tx storage.WriteTx, _ *storage.Connection, ev EvalSummary) error {
			return finish(tx, ev)
		})
	}
	if err != nil {
		return fail(err)
	}
	e.rotateInitial(ctx, conn.ID)
	// A directory change the sync read (an account moved to another OU) can take an account that
	// stays managed out of what a holder's policy selects: a loss of access (lostaccess.go).
	e.afterAccessChange(ctx, conn.TeamID, nil)
	return res, nil
}

func (s accountSync) inScope(dn string) bool {
	if s.scope == nil {
		return true
	}
	n := normDN(dn)
	for _, b := range s.scope {
		if underDN(n, b) {
			return true
		}
	}
	return false
}

// setSyncStatus sets the connection's account sync status; started is recorded for
// SYNC_IN_PROGRESS, and completion times LastSyncAt.
func (e *Engine) setSyncStatus(tx storage.WriteTx, connID, status string, started time.Time) error {
	c, err := storage.Connections.Get(tx, connID)
	if err != nil {
		return nil // deleted meanwhile
	}
	c.SyncStatus = status
	switch status {
	case SyncInProgress:
		c.SyncStartedAt = started
	case SyncCompleted:
		c.LastSyncAt = e.now()
	}
	return storage.Connections.Update(tx, c)
}

// ForceSync re-reads the connection's AD accounts from its directory, marks vanished ones
// missing and re-applies the account rules and matching, in one run recorded as a result of kind
// "force" and in the audit trail. It returns when the run is over. Needs resource_admin. Errors:
// ErrNotFound (connection), ErrConflict while a sync of the connection runs, ErrUnavailable (no
// agent), ErrTimeout (the agent did not answer), ErrNotFound for a job's base DN that no longer
// exists; failures leave the sync status SYNC_FAILED. Safe for concurrent use.
func (e *Engine) ForceSync(ctx context.Context, p Principal, connID string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	var conn *storage.Connection
	var jobs []*storage.UserSyncJob
	load := func() error {
		return e.store.View(ctx, func(tx storage.ReadTx) error {
			var err error
			if conn, err = e.teamConnection(tx, p, connID); err != nil {
				return err
			}
			jobs, err = storage.UserSyncJobs.List(tx, storage.UserSyncJobsByConnection, conn.ID)
			return err
		})
	}
	if err := load(); err != nil {
		return err
	}
	l, err := e.trySyncLease(ctx, conn.ID)
	if err != nil {
		return err
	}
	defer l.release()
	ctx = l.ctx
	if err := load(); err != nil { // the connection may have changed while we waited
		return err
	}
	var sources []accountSource
	for _, j := range jobs {
		if j.IsActive {
			sources = append(sources, accountSource{j.BaseDN, j.LDAPQueryFilter, j.SIDField, j.UPNField})
		}
	}
	if len(sources) == 0 {
		sources = []accountSource{{baseDN: domainDN(conn.Domain), filter: ForceSyncFilter}}
	}
	res := &storage.SyncResult{ID: e.newID(), TeamID: conn.TeamID, ConnectionID: conn.ID, JobKind: jobKindForce, JobName: "force sync", CreatedAt: e.now()}
	_, err = e.syncAccounts(ctx, accountSync{conn: conn, sources: sources, res: res})
	outcome, detail := "success", res.Summary
	if err != nil {
		outcome, detail = "failure", "the force sync failed: "+errorCodeOf(err)
	}
	if aerr := e.store.Update(context.WithoutCancel(ctx), func(tx storage.WriteTx) error {
		return e.audit(tx, p, AuditForceSync, "active_directory_connection", conn.ID, outcome, detail)
	}); aerr != nil {
		err = errors.CombineErrors(err, aerr)
	}
	return err
}

// domainDN returns the naming context of a DNS domain: corp.example.com → DC=corp,DC=example,DC=com.
func domainDN(domain string) string {
	parts := strings.Split(strings.Trim(domain, "."), ".")
	for i, p := range parts {
		parts[i] = "DC=" + ldap.EscapeDN(p)
	}
	return strings.Join(parts, ",")
}

// SyncStatus returns the connection's AD account sync status: NOT_SYNCED, SYNC_IN_PROGRESS,
// SYNC_FAILED or SYNC_COMPLETED. A SYNC_IN_PROGRESS left by a process that died (no engine on the
// store holds the connection's live sync lease) reads as SYNC_FAILED. Needs resource_admin or security_admin. ErrNotFound for an unknown connection.
func (e *Engine) SyncStatus(ctx context.Context, p Principal, connID string) (string, error) {
	if err := p.requireConnRead(); err != nil {
		return "", err
	}
	var (
		c    *storage.Connection
		busy bool
	)
	now := e.now()
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if c, err = e.teamConnection(tx, p, connID); err != nil {
			return err
		}
		busy, err = leaseLive(tx, syncLeaseKey(c.ID), now)
		return err
	})
	if err != nil {
		return "", err
	}
	if c.SyncStatus == "" {
		return SyncNotSynced, nil
	}
	if c.SyncStatus == SyncInProgress && !busy {
		return SyncFailed, nil
	}
	return c.SyncStatus, nil
}
