package opa_test

import (
	"context"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
)

func TestMatching(t *testing.T) {
	ctx := context.Background()
	jane := opa.UserInput{Username: "jane.doe", FirstName: "Jane", LastName: "Doe", DisplayName: "Jane Doe", Email: "jane@example.com"}
	john := opa.UserInput{Username: "john", FirstName: "John", LastName: "Smith", DisplayName: "Johnny", Email: "john@example.com"}
	janeUPN := opa.UserInput{Username: "jane.doe@corp.example.com", Email: "jd@example.com"}
	jane2 := opa.UserInput{Username: "jdoe2", FirstName: "JANE", LastName: "doe", DisplayName: "Other Jane", Email: "jane2@example.com"}
	svc := opa.UserInput{Username: "svc_backup", ServiceUser: true}
	username := opa.MatchingCriteria{Username: true}
	partial := func(ops ...string) opa.RuleSettings {
		s := opa.RuleSettings{AllowPartialMatches: true}
		for i := 0; i < len(ops); i += 2 {
			s.PartialMatchingCriteria = append(s.PartialMatchingCriteria, opa.PartialMatchCriterion{Operator: ops[i], MatchValue: ops[i+1]})
		}
		return s
	}
	withUsername := func(s opa.RuleSettings) opa.RuleSettings { s.MatchingCriteria.Username = true; return s }
	type want struct{ status, user string }
	cases := []struct {
		name     string
		shared   bool
		settings *opa.RuleSettings // nil: not configured
		users    []opa.UserInput
		accts    []storage.Account
		want     []want
	}{
		{"not configured", false, nil, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane.doe"}}, []want{{"NO_MATCH", ""}}},
		{"username = sAMAccountName, any case", false, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{jane, john},
			[]storage.Account{{SAMAccountName: "Jane.DOE"}}, []want{{"MATCH", "jane.doe"}}},
		{"username = UPN local part", false, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jd01", UPN: "jane.doe@corp.example.com"}}, []want{{"MATCH", "jane.doe"}}},
		{"username = full UPN", false, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{janeUPN},
			[]storage.Account{{SAMAccountName: "jd01", UPN: "Jane.Doe@corp.example.com"}}, []want{{"MATCH", "jane.doe@corp.example.com"}}},
		{"username no match", false, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane"}}, []want{{"NO_MATCH", ""}}},
		{"email", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Email: true}}, []opa.UserInput{jane, john},
			[]storage.Account{{SAMAccountName: "x", Email: "JOHN@example.com"}}, []want{{"MATCH", "john"}}},
		{"first and last name", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{FirstAndLastName: true}}, []opa.UserInput{jane, john},
			[]storage.Account{{SAMAccountName: "x", FirstName: "john", LastName: "SMITH"}, {SAMAccountName: "y", FirstName: "John"}},
			[]want{{"MATCH", "john"}, {"NO_MATCH", ""}}},
		{"display name", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{DisplayName: true}}, []opa.UserInput{jane, john},
			[]storage.Account{{SAMAccountName: "x", DisplayName: "johnny"}}, []want{{"MATCH", "john"}}},
		{"all enabled criteria must match", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Username: true, Email: true}}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane.doe", Email: "jane@example.com"}, {SAMAccountName: "jane.doe", Email: "other@example.com"}, {SAMAccountName: "jane.doe"}},
			[]want{{"MATCH", "jane.doe"}, {"NO_MATCH", ""}, {"NO_MATCH", ""}}},
		{"no criterion enabled matches nothing", false, &opa.RuleSettings{}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane.doe"}}, []want{{"NO_MATCH", ""}}},
		{"several users: no match, says why", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{FirstAndLastName: true}}, []opa.UserInput{jane, jane2},
			[]storage.Account{{SAMAccountName: "x", FirstName: "Jane", LastName: "Doe"}}, []want{{"MULTIPLE_MATCHES", ""}}},
		{"several accounts, one user: all the user's", false, &opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Email: true}}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "a", Email: "jane@example.com"}, {SAMAccountName: "b", Email: "Jane@Example.com"}},
			[]want{{"MATCH", "jane.doe"}, {"MATCH", "jane.doe"}}},
		{"service users are never matched", false, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{svc},
			[]storage.Account{{SAMAccountName: "svc_backup"}}, []want{{"NO_MATCH", ""}}},
		{"STARTS WITH strips one separator", false, ptr(partial("STARTS WITH", "adm")), []opa.UserInput{jane, john},
			[]storage.Account{{SAMAccountName: "adm.jane.doe"}, {SAMAccountName: "adm-john"}, {SAMAccountName: "adm_john"}, {SAMAccountName: "admjohn"}, {SAMAccountName: "adm..john"}},
			[]want{{"MATCH", "jane.doe"}, {"MATCH", "john"}, {"MATCH", "john"}, {"MATCH", "john"}, {"NO_MATCH", ""}}},
		{"STARTS WITH is case-insensitive and needs a rest", false, ptr(partial("STARTS WITH", "A1")), []opa.UserInput{janeUPN},
			[]storage.Account{{SAMAccountName: "zz", UPN: "a1jane.doe@corp.example.com"}, {SAMAccountName: "a1"}},
			[]want{{"MATCH", "jane.doe@corp.example.com"}, {"NO_MATCH", ""}}},
		{"ENDS WITH value with its separator", false, ptr(partial("ENDS WITH", "-A")), []opa.UserInput{john},
			[]storage.Account{{SAMAccountName: "john-a"}, {SAMAccountName: "john-b"}}, []want{{"MATCH", "john"}, {"NO_MATCH", ""}}},
		{"ENDS WITH strips the separator before it", false, ptr(partial("ENDS WITH", "admin")), []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane.doe-admin"}, {SAMAccountName: "jane.doeadmin"}, {SAMAccountName: "jane.doe.-admin"}},
			[]want{{"MATCH", "jane.doe"}, {"MATCH", "jane.doe"}, {"NO_MATCH", ""}}},
		{"partial entries are alternatives", false, ptr(partial("STARTS WITH", "tier0", "STARTS WITH", "tier1", "ENDS WITH", "_adm")), []opa.UserInput{john},
			[]storage.Account{{SAMAccountName: "tier0.john"}, {SAMAccountName: "tier1.john"}, {SAMAccountName: "john_adm"}, {SAMAccountName: "tier2.john"}},
			[]want{{"MATCH", "john"}, {"MATCH", "john"}, {"MATCH", "john"}, {"NO_MATCH", ""}}},
		{"partial off ignores the entries", false, &opa.RuleSettings{PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: "STARTS WITH", MatchValue: "adm"}}},
			[]opa.UserInput{john}, []storage.Account{{SAMAccountName: "adm.john"}}, []want{{"NO_MATCH", ""}}},
		{"partial or exact", false, ptr(withUsername(partial("STARTS_WITH", "adm"))), []opa.UserInput{john, jane},
			[]storage.Account{{SAMAccountName: "john"}, {SAMAccountName: "adm.jane.doe"}}, []want{{"MATCH", "john"}, {"MATCH", "jane.doe"}}},
		{"exact and partial give two users", false, ptr(withUsername(partial("STARTS WITH", "adm"))),
			[]opa.UserInput{{Username: "adm.x"}, {Username: "x"}}, []storage.Account{{SAMAccountName: "adm.x"}}, []want{{"MULTIPLE_MATCHES", ""}}},
		{"shared accounts are not matched", true, &opa.RuleSettings{MatchingCriteria: username}, []opa.UserInput{jane},
			[]storage.Account{{SAMAccountName: "jane.doe"}}, []want{{"NOT_APPLICABLE", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRulesEnv(t)
			users := map[string]string{} // id -> username
			for _, in := range tc.users {
				u := r.user(t, in)
				users[u.ID] = u.Username
			}
			for i := range tc.accts {
				tc.accts[i].DistinguishedName = "CN=" + tc.accts[i].SAMAccountName + ",OU=People," + base
			}
			ids := r.addAccounts(t, tc.accts...)
			typ := "INDIVIDUAL"
			if tc.shared {
				typ = "SHARED"
			}
			if tc.settings != nil {
				must(t, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, *tc.settings))
			}
			_, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("people", typ, r.p1a, "OU=People,"+base))
			must(t, err)
			for i, id := range ids {
				a := r.account(t, id)
				got := want{a.MatchStatus, users[a.MatchedUserID]}
				if got != tc.want[i] {
					t.Errorf("account %s: got %+v, want %+v", tc.accts[i].SAMAccountName, got, tc.want[i])
				}
				if a.MatchedUserID != "" && users[a.MatchedUserID] == "" {
					t.Errorf("account %s matched a non-test user %q", tc.accts[i].SAMAccountName, a.MatchedUserID)
				}
			}
		})
	}
}

func TestMatchOverrides(t *testing.T) {
	ctx := context.Background()
	r := newRulesEnv(t)
	jane := r.user(t, opa.UserInput{Username: "jane", FirstName: "Jane", LastName: "Doe"})
	john := r.user(t, opa.UserInput{Username: "john", FirstName: "Jane", LastName: "Doe"})
	ids := r.addAccounts(t,
		storage.Account{DistinguishedName: "CN=jane,OU=People," + base, SAMAccountName: "jane", FirstName: "Jane", LastName: "Doe"},
		storage.Account{DistinguishedName: "CN=svc,OU=Service," + base, SAMAccountName: "svc"},
		storage.Account{DistinguishedName: "CN=x,OU=Elsewhere," + base, SAMAccountName: "x"},
	)
	acct, shared, unmanaged := ids[0], ids[1], ids[2]
	must(t, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Username: true}}))
	people, err := r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("people", "INDIVIDUAL", r.p1a, "OU=People,"+base))
	must(t, err)
	_, err = r.e.CreateAccountRule(ctx, r.ra, r.conn.ID, r.rule("service", "SHARED", r.p1a, "OU=Service,"+base))
	must(t, err)
	effective := func(status, user string) {
		t.Helper()
		a := r.account(t, acct)
		if a.MatchStatus != status || a.MatchedUserID != user {
			t.Fatalf("match status %q user %q; want %q %q", a.MatchStatus, a.MatchedUserID, status, user)
		}
	}
	m, err := r.e.ADAccountMatch(ctx, r.ra, r.conn.ID, acct)
	must(t, err)
	if m != (opa.AccountMatch{ADAccountID: acct, RuleMatchUserID: jane.ID}) {
		t.Fatalf("match %+v", m)
	}
	effective("MATCH", jane.ID)

	for name, tc := range map[string]struct {
		acct  string
		in    opa.AccountMatchInput
		p     opa.Principal
		class error
	}{
		"both set":         {acct, opa.AccountMatchInput{ForceNoMatch: true, MatchOverrideUserID: john.ID}, r.ra, opa.ErrInvalid},
		"unknown user":     {acct, opa.AccountMatchInput{MatchOverrideUserID: "nope"}, r.ra, opa.ErrNotFound},
		"service user":     {acct, opa.AccountMatchInput{MatchOverrideUserID: r.ra.UserID}, r.ra, opa.ErrNotFound},
		"shared account":   {shared, opa.AccountMatchInput{ForceNoMatch: true}, r.ra, opa.ErrInvalid},
		"unmanaged":        {unmanaged, opa.AccountMatchInput{ForceNoMatch: true}, r.ra, opa.ErrInvalid},
		"unknown account":  {"nope", opa.AccountMatchInput{ForceNoMatch: true}, r.ra, opa.ErrNotFound},
		"end user":         {acct, opa.AccountMatchInput{ForceNoMatch: true}, r.eu, opa.ErrForbidden},
		"security admin":   {acct, opa.AccountMatchInput{ForceNoMatch: true}, r.sa, opa.ErrForbidden},
		"other rg":         {acct, opa.AccountMatchInput{ForceNoMatch: true}, r.dra2, opa.ErrForbidden},
		"other team admin": {acct, opa.AccountMatchInput{ForceNoMatch: true}, r.other, opa.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.e.UpdateADAccountMatch(ctx, tc.p, r.conn.ID, tc.acct, tc.in)
			wantErr(t, name, err, tc.class)
			effective("MATCH", jane.ID)
		})
	}
	_, err = r.e.ADAccountMatch(ctx, r.ra, r.conn.ID, shared)
	wantErr(t, "match of a shared account", err, opa.ErrInvalid)

	m, err = r.e.UpdateADAccountMatch(ctx, r.dra1, r.conn.ID, acct, opa.AccountMatchInput{MatchOverrideUserID: john.ID})
	must(t, err)
	if m != (opa.AccountMatch{ADAccountID: acct, RuleMatchUserID: jane.ID, MatchOverrideUserID: john.ID}) {
		t.Fatalf("after override: %+v", m)
	}
	effective("OVERRIDDEN", john.ID)

	// Overrides survive rule and settings changes: now first+last matches two users.
	must(t, r.e.ConfigureAccountRuleSettings(ctx, r.ra, r.conn.ID, opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{FirstAndLastName: true}}))
	_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, people.ID, r.rule("people", "INDIVIDUAL", r.p1b, "OU=People,"+base))
	must(t, err)
	effective("OVERRIDDEN", john.ID)

	_, err = r.e.UpdateADAccountMatch(ctx, r.ra, r.conn.ID, acct, opa.AccountMatchInput{ForceNoMatch: true})
	must(t, err)
	effective("FORCED_NO_MATCH", "")

	// Clearing restores the rule match with its reason.
	m, err = r.e.UpdateADAccountMatch(ctx, r.ra, r.conn.ID, acct, opa.AccountMatchInput{})
	must(t, err)
	if m != (opa.AccountMatch{ADAccountID: acct}) {
		t.Fatalf("after clearing: %+v", m)
	}
	effective("MULTIPLE_MATCHES", "")

	// A shared rule keeps the override stored but not applied; back to individual applies it again.
	_, err = r.e.UpdateADAccountMatch(ctx, r.ra, r.conn.ID, acct, opa.AccountMatchInput{MatchOverrideUserID: jane.ID})
	must(t, err)
	_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, people.ID, r.rule("people", "SHARED", r.p1b, "OU=People,"+base))
	must(t, err)
	effective("NOT_APPLICABLE", "")
	_, err = r.e.UpdateAccountRule(ctx, r.ra, r.conn.ID, people.ID, r.rule("people", "INDIVIDUAL", r.p1b, "OU=People,"+base))
	must(t, err)
	effective("OVERRIDDEN", jane.ID)
}
