package filestore

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opakit/opa/storage"
)

// formatDir is a data directory written by the file store as it was when this test was added: a
// snapshot holding sampleRecords(1) and a log after it holding sampleRecords(2), an update and a
// delete. TestCommittedDataDirDecodes proves that today's code still reads it into the same Go
// values, so a change to a record's encoding (a renamed or retyped JSON tag on a storage record, a
// wire-format change in the root package leaking into storage) fails here instead of silently
// dropping fields from every existing data directory.
//
// The directory is a compatibility fixture, not a golden file: never regenerate it to make this
// test pass. When the format changes on purpose (with a migration), or when a table is added,
// write a new directory next to it with -write-format-dir and keep this one.
const formatDir = "testdata/datadir-v1"

var writeFormatDir = flag.String("write-format-dir", "",
	"write a data directory holding the records of TestCommittedDataDirDecodes to this new path, then skip the test")

// TestCommittedDataDirDecodes opens a copy of formatDir and compares every record of every table
// with the Go values it was written from.
func TestCommittedDataDirDecodes(t *testing.T) {
	if *writeFormatDir != "" {
		writeSampleDir(t, *writeFormatDir)
		t.Skipf("wrote %s; commit it as a new directory, never over an existing one", *writeFormatDir)
	}
	dir := t.TempDir()
	copyDir(t, formatDir, dir)
	s := mustOpen(t, dir)
	defer s.Close()

	want := expectedSample()
	err := s.View(ctx, func(tx storage.ReadTx) error {
		for _, ts := range storage.Schema {
			got, err := tx.List(ts.Name, "id")
			if err != nil {
				return err
			}
			// A table added after the directory was written is empty in it.
			if diff := cmp.Diff(want[ts.Name], got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("table %s (-want +got):\n%s", ts.Name, diff)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if _, err := storage.Lookup(name); err != nil {
			t.Errorf("the committed directory holds table %q, which the schema no longer has", name)
		}
	}
	// The directory must be writable in place: the next commit follows the old log.
	if err := putTeam(s, "after-format-check"); err != nil {
		t.Fatal(err)
	}
}

// writeSampleDir writes the data directory that TestCommittedDataDirDecodes reads to dir, which
// must not exist yet.
func writeSampleDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists; a compatibility directory is written once, to a new path", dir)
	}
	covered := map[string]bool{}
	for _, r := range sampleRecords(1) {
		covered[r.table] = true
	}
	for _, ts := range storage.Schema {
		if !covered[ts.Name] {
			t.Fatalf("sampleRecords has no record of table %s; add one before writing a directory", ts.Name)
		}
	}
	s := mustOpen(t, dir, WithSnapshotBytes(0))
	insert := func(recs []tableRecord) {
		for _, r := range recs {
			err := s.Update(ctx, func(tx storage.WriteTx) error { return tx.Insert(r.table, r.rec) })
			if err != nil {
				t.Fatalf("insert into %s: %v", r.table, err)
			}
		}
	}
	insert(sampleRecords(1))
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	insert(sampleRecords(2))
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Accounts.Update(tx, updatedAccount()); err != nil {
			return err
		}
		return storage.Tokens.Delete(tx, "token-1")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
}

// expectedSample returns what formatDir holds, per table in id order (audit events in insertion
// order).
func expectedSample() map[string][]any {
	want := map[string][]any{}
	for _, n := range []int{1, 2} {
		for _, r := range sampleRecords(n) {
			want[r.table] = append(want[r.table], r.rec)
		}
	}
	want[storage.Accounts.Name()][0] = updatedAccount() // account-1 sorts first
	tokens := want[storage.Tokens.Name()]
	want[storage.Tokens.Name()] = tokens[1:] // token-1 was deleted
	return want
}

type tableRecord struct {
	table string
	rec   any
}

// sampleRecords returns one record of every table, with ids ending in n. The values exercise every
// kind of field the records have: sealed bytes, times (UTC with nanoseconds, another zone, zero),
// nested structs, slices of structs and of slices, a map and a pointer (set for n == 1, nil for 2).
func sampleRecords(n int) []tableRecord {
	id := func(prefix string) string { return prefix + "-" + string(rune('0'+n)) }
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC).Add(time.Duration(n) * time.Hour)
	east := time.Date(2025, 6, 1, 8, 30, 0, 0, time.FixedZone("", 2*60*60)).Add(time.Duration(n) * time.Minute)
	sealed := func(b byte) storage.Sealed { return storage.Sealed{0x00, b, 0x7f, 0x80, 0xfe, 0xff, byte(n)} }
	var startHour *int
	if n == 1 {
		h := 23
		startHour = &h
	}
	ref := storage.AccountRef{Domain: "corp.example.com", AccountSID: "S-1-5-21-1-2-3-" + id("11"), AccountName: "svc-" + id("ref"), AccountID: id("account")}
	policy := storage.PasswordPolicy{
		EnablePeriodicRotation:          true,
		PeriodicRotationDurationSeconds: 86400 * n,
		AccountSelectorMode:             "INCLUDE",
		IncludeList:                     []storage.AccountRef{ref},
		ExcludeList:                     []storage.AccountRef{{AccountName: "krbtgt"}},
		UpperCase:                       true,
		LowerCase:                       true,
		Digits:                          n == 1,
		Punctuation:                     n == 2,
		ExcludeCertainSymbols:           []string{"\"", "\\", "<"},
		MinLength:                       12,
		MaxLength:                       64,
		ModifiedAt:                      east,
	}
	credential := storage.CredentialState{
		Password:                 sealed(0x01),
		LastRotationAt:           at,
		NextRotationAt:           at.Add(24 * time.Hour),
		NextRotationReason:       "PERIODIC",
		SuccessCount:             3 * n,
		ErrorCount:               1,
		ErrorsSinceLastSuccess:   0,
		LastSuccessReportAt:      at,
		LastSuccessSystemAt:      at.Add(time.Second),
		LastErrorReportAt:        east,
		LastErrorSystemAt:        east.Add(time.Millisecond),
		LastErrorType:            "PASSWORD_POLICY",
		LastErrorMetadata:        `{"code":"0000052D"}`,
		RotationPending:          n == 1,
		RotationPendingReason:    "CHECKIN",
		RotationPendingSinceTime: at.Add(time.Minute),
	}
	lease := storage.LeaseState{Status: "checked_out", CheckoutID: id("checkout"), UserID: id("user"), ExpiresAt: at.Add(time.Hour), LastCheckoutUserID: id("user")}
	return []tableRecord{
		{storage.Teams.Name(), &storage.Team{ID: id("team"), Name: id("acme"), CreatedAt: at}},
		{storage.Users.Name(), &storage.User{
			ID: id("user"), TeamID: id("team"), Username: id("ada"), FirstName: "Ada", LastName: "Lovelace",
			DisplayName: "Ada L. ✓", Email: id("ada") + "@example.com", Status: "ACTIVE", ServiceUser: n == 2,
			GroupIDs:  []string{id("group"), "everyone"},
			Roles:     []storage.RoleGrant{{Role: "end_user"}, {Role: "delegated_security_admin", ResourceGroupID: id("rg")}},
			CreatedAt: at,
		}},
		{storage.Groups.Name(), &storage.Group{ID: id("group"), TeamID: id("team"), Name: id("admins"), Roles: []storage.RoleGrant{{Role: "resource_admin"}}, CreatedAt: at}},
		{storage.ServiceKeys.Name(), &storage.ServiceKey{ID: id("key"), TeamID: id("team"), UserID: id("user"), SecretHash: sealed(0x02), CreatedAt: at, ExpiresAt: east}},
		{storage.Tokens.Name(), &storage.Token{ID: id("token"), TeamID: id("team"), UserID: id("user"), KeyID: id("key"), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}},
		{storage.ResourceGroups.Name(), &storage.ResourceGroup{ID: id("rg"), TeamID: id("team"), Name: id("infra"), Description: "line one\nline two", CreatedAt: at}},
		{storage.Projects.Name(), &storage.Project{
			ID: id("project"), TeamID: id("team"), ResourceGroupID: id("rg"), Name: id("servers"),
			ADCheckout: storage.CheckoutSettings{Required: true, DurationSeconds: 3600, IncludeList: []storage.AccountRef{ref}, ExcludeList: []storage.AccountRef{{AccountSID: "S-1-5-21-9"}}},
			ADPassword: policy,
			UDCheckout: storage.CheckoutSettings{DurationSeconds: 900},
			UDPassword: storage.PasswordPolicy{MinLength: 8, MaxLength: 255},
			CreatedAt:  at,
		}},
		{storage.Connections.Name(), &storage.Connection{
			ID: id("conn"), TeamID: id("team"), Name: id("corp"), Domain: id("corp") + ".example.com", AppInstanceID: id("0oa"),
			Status: "connected", GatewayID: id("gw"), GatewayName: "gateway one", DomainControllers: []string{"dc1.corp.example.com", "10.0.0.2"},
			ServiceAccountUsername: "CORP\\svc-opa", ServiceAccountPassword: sealed(0x03), ActiveTaskSettingsID: id("ssj"),
			SyncStatus: "SYNC_COMPLETED", SyncStartedAt: at, LastSyncAt: at.Add(time.Minute),
			RuleSettings: storage.RuleSettings{
				IsConfigured: true, Username: true, FirstAndLastName: n == 1, DisplayName: n == 2, Email: true, AllowPartialMatches: true,
				Partial: []storage.PartialCriterion{{Operator: "STARTS WITH", MatchValue: "adm-"}, {Operator: "ENDS WITH", MatchValue: "-a"}},
			},
			CreatedAt: at, UpdatedAt: east,
		}},
		{storage.ServerSyncJobs.Name(), &storage.ServerSyncJob{
			ID: id("ssj"), TeamID: id("team"), ConnectionID: id("conn"), Name: id("servers"), Frequency: 6, StartHourUTC: startHour,
			IsActive: true, HostnameAttribute: "dNSHostName", AccessAddressAttribute: "dNSHostName", OSAttribute: "operatingSystem",
			BastionAttribute: "info", AltNamesAttributes: []string{"name", "cn"},
			AdditionalAttributeMapping: []storage.AttributeMapping{{Label: "guid", Value: "objectGUID", IsGUID: true}, {Label: "site", Value: "location"}},
			RuleAssignments:            []storage.RuleAssignment{{ID: id("ra"), BaseDN: "OU=Servers,DC=corp,DC=example,DC=com", LDAPQueryFilter: "(objectClass=computer)", ProjectID: id("project"), Priority: 1}},
			LastRunAt:                  at, NextRunAt: at.Add(6 * time.Hour), CreatedAt: at, UpdatedAt: at,
		}},
		{storage.UserSyncJobs.Name(), &storage.UserSyncJob{
			ID: id("usj"), TeamID: id("team"), ConnectionID: id("conn"), Name: id("users"), Frequency: 12, StartHourUTC: startHour,
			IsActive: n == 1, BaseDN: "CN=Users,DC=corp,DC=example,DC=com", LDAPQueryFilter: "(&(objectClass=user)(!(cn=krbtgt)))",
			SIDField: "objectSid", UPNField: "userPrincipalName", LastRunAt: at, NextRunAt: east, CreatedAt: at, UpdatedAt: at,
		}},
		{storage.SyncResults.Name(), &storage.SyncResult{
			ID: id("result"), TeamID: id("team"), ConnectionID: id("conn"), JobID: id("usj"), JobKind: "user", JobName: id("users"),
			TestRequestID: id("test"), TaskState: "COMPLETED", RulesSummaryStatus: "SUCCESS", Summary: "2 added",
			DetailedSummary: "added: a, b", Added: 2, Updated: 1, Removed: 0, Matched: 1, Unmatched: 1, CreatedAt: at, UpdatedAt: at,
		}},
		{storage.Servers.Name(), &storage.Server{
			ID: id("server"), TeamID: id("team"), ConnectionID: id("conn"), JobID: id("ssj"), ProjectID: id("project"),
			DistinguishedName: "CN=" + id("web") + ",OU=Servers,DC=corp,DC=example,DC=com", ObjectGUID: "6f1e1c2a-0000-4000-8000-00000000000" + string(rune('0'+n)),
			Hostname: id("web") + ".corp.example.com", AccessAddress: "10.0.1." + string(rune('0'+n)), OS: "Windows Server 2022", Bastion: "bastion.example.com",
			AltNames: []string{id("web")}, Labels: map[string]string{"guid": "6f1e", "site": "eu-west", "empty": ""}, CreatedAt: at, UpdatedAt: at,
		}},
		{storage.Accounts.Name(), &storage.Account{
			ID: id("account"), TeamID: id("team"), ConnectionID: id("conn"), Domain: "corp.example.com", SID: "S-1-5-21-1-2-3-" + id("11"),
			UPN: id("ada") + "@corp.example.com", SAMAccountName: id("ada"), DistinguishedName: "CN=Ada\\, L.,CN=Users,DC=corp,DC=example,DC=com",
			FirstName: "Ada", LastName: "Lovelace", DisplayName: "Ada Lovelace", Email: id("ada") + "@example.com",
			OktaGroupNames: []string{"Engineering", "Everyone"}, Missing: n == 2, RuleID: id("rule"), AccountType: "INDIVIDUAL",
			ProjectID: id("project"), ResourceGroupID: id("rg"), BroughtUnderManagementAt: at, RuleMatchUserID: id("user"),
			MatchOverrideUserID: "", ForceNoMatch: n == 2, MatchStatus: "MATCHED", MatchedUserID: id("user"),
			StatusDetail: "ROTATION_PENDING", StatusDetailMessage: "waiting for check-in",
			Credential: credential, Lease: lease, CreatedAt: at, UpdatedAt: east,
		}},
		{storage.Rules.Name(), &storage.Rule{
			ID: id("rule"), TeamID: id("team"), ConnectionID: id("conn"), Name: id("admins"), RuleType: "INDIVIDUAL",
			OrganizationalUnits: []string{"OU=Admins,DC=corp,DC=example,DC=com", "CN=Users,DC=corp,DC=example,DC=com"},
			EnhancedFilters: [][]storage.RuleFilter{
				{{Field: "account_name", Operator: "STARTS_WITH", Value: "adm-"}, {Field: "okta_group_name", Operator: "EQUALS", Value: "Engineering"}},
				{{Field: "account_name", Operator: "CONTAINS", Value: "ops"}},
			},
			ProjectID: id("project"), ResourceGroupID: id("rg"), Priority: n, EnableInitialPasswordRotation: true, EnableImportOktaUsers: n == 1,
			CreatedAt: at, UpdatedAt: at,
		}},
		{storage.Policies.Name(), &storage.Policy{
			ID: id("policy"), TeamID: id("team"), Name: id("checkout"), Description: "admins check out", Active: true,
			PrincipalUserIDs: []string{id("user")}, PrincipalGroupIDs: []string{id("group")},
			Rules: []storage.PolicyRule{{
				ID: id("prule"), Name: "ad",
				Resources: storage.PolicyResources{
					ADConnectionIDs: []string{id("conn")}, ADAccountTypes: []string{"SHARED", "INDIVIDUAL"}, ADAccountIDs: []string{id("account")},
					ADOwnIndividual: true, UDProjectIDs: []string{id("project")}, UDAccountIDs: []string{id("ud")},
					ADProjectIDs: []string{id("project")}, ADResourceGroupIDs: []string{id("rg")},
				},
				Privileges: []string{"password_checkout_ad", "reveal_password"},
				Conditions: storage.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 7200, MFARequired: n == 1, AccessRequestRequired: n == 2},
			}},
			CreatedAt: at, UpdatedAt: at,
		}},
		{storage.UDAccounts.Name(), &storage.UDAccount{
			ID: id("ud"), TeamID: id("team"), ResourceGroupID: id("rg"), ProjectID: id("project"), Name: id("svc"), Username: id("svc") + "@example.com",
			Description: "service account", OktaUserID: id("00u"), Status: "NO_ISSUES", StatusDetail: "ok", SyncStatus: "SYNCED",
			LCMSyncPossible: true, Credential: credential, Lease: storage.LeaseState{LastCheckoutUserID: id("user")}, CreatedAt: at, UpdatedAt: at,
		}},
		{storage.Checkouts.Name(), &storage.Checkout{
			ID: id("checkout"), TeamID: id("team"), ResourceID: id("account"), ResourceType: "ad_account", ResourceName: id("ada"),
			ProjectID: id("project"), ResourceGroupID: id("rg"), UserID: id("user"), ActiveResourceID: id("account"),
			CheckoutAt: at, ExpiresAt: at.Add(time.Hour), CheckinAt: time.Time{}, CheckinBy: "", CheckinType: "", Status: "checked_out",
		}},
		{storage.AuditEvents.Name(), &storage.AuditEvent{
			// Ids that sort against the insertion order: an append-only table lists in commit order.
			ID: []string{"", "event-z", "event-a"}[n], TeamID: id("team"), At: at, ActorID: id("user"), Action: "checkout", ResourceType: "ad_account",
			ResourceID: id("account"), Outcome: "success", Detail: "reason: \"maintenance\"",
		}},
	}
}

// updatedAccount is account-1 as the log's update leaves it: checked in, rotated, unmatched.
func updatedAccount() *storage.Account {
	var a *storage.Account
	for _, r := range sampleRecords(1) {
		if acc, ok := r.rec.(*storage.Account); ok {
			a = acc
		}
	}
	a.Lease = storage.LeaseState{LastCheckoutUserID: "user-1"}
	a.Credential.Password = storage.Sealed{0xca, 0xfe}
	a.Credential.RotationPending = false
	a.MatchedUserID, a.MatchStatus, a.OktaGroupNames = "", "UNMATCHED", nil
	a.UpdatedAt = time.Date(2025, 3, 15, 0, 0, 0, 1, time.UTC)
	return a
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
