package opa_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"pgregory.net/rapid"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// refOutcome is what the reference says about one account.
type refOutcome struct {
	Project, Type, User, Status string
}

// refEvaluate is the reference: every account against every rule in priority order (ancestry by
// go-ldap's DN.AncestorOfFold) and, for INDIVIDUAL accounts, against every user, written plainly.
func refEvaluate(rules []opa.ADAccountRule, s opa.RuleSettings, users []opa.User, a storage.Account) refOutcome {
	var rule *opa.ADAccountRule
	acctDN, err := ldap.ParseDN(a.DistinguishedName)
	for i := range rules {
		if err != nil || rule != nil {
			break
		}
		for j, ou := range rules[i].OrganizationalUnits {
			ouDN, err := ldap.ParseDN(ou)
			if err != nil || !ouDN.AncestorOfFold(acctDN) {
				continue
			}
			var filters []opa.RuleFilter
			if j < len(rules[i].EnhancedFilters) {
				filters = rules[i].EnhancedFilters[j]
			}
			if refFiltersPass(filters, a) {
				rule = &rules[i]
				break
			}
		}
	}
	if rule == nil {
		return refOutcome{Status: "NOT_APPLICABLE"}
	}
	out := refOutcome{Project: rule.Project.ID, Type: rule.RuleType}
	if rule.RuleType != "INDIVIDUAL" {
		out.Status = "NOT_APPLICABLE"
		return out
	}
	if a.ForceNoMatch {
		out.Status = "FORCED_NO_MATCH"
		return out
	}
	if a.MatchOverrideUserID != "" {
		out.Status, out.User = "OVERRIDDEN", a.MatchOverrideUserID
		return out
	}
	var matched []string
	if s.IsConfigured {
		for _, u := range users {
			if !u.ServiceUser && refUserMatches(s, a, u) {
				matched = append(matched, u.ID)
			}
		}
	}
	switch len(matched) {
	case 0:
		out.Status = "NO_MATCH"
	case 1:
		out.Status, out.User = "MATCH", matched[0]
	default:
		out.Status = "MULTIPLE_MATCHES"
	}
	return out
}

func refFiltersPass(filters []opa.RuleFilter, a storage.Account) bool {
	for _, f := range filters {
		var values []string
		if f.Field == "account_name" {
			name := a.SAMAccountName
			if name == "" {
				name = a.UPN
			}
			values = []string{name}
		} else {
			values = a.OktaGroupNames
		}
		pass := false
		for _, v := range values {
			v, w := strings.ToLower(v), strings.ToLower(f.Value)
			switch f.Operator {
			case "STARTS_WITH":
				pass = pass || strings.HasPrefix(v, w)
			case "ENDS_WITH":
				pass = pass || strings.HasSuffix(v, w)
			case "CONTAINS":
				pass = pass || strings.Contains(v, w)
			case "EQUALS":
				pass = pass || v == w
			}
		}
		if !pass {
			return false
		}
	}
	return true
}

func refUserMatches(s opa.RuleSettings, a storage.Account, u opa.User) bool {
	names := []string{a.SAMAccountName, a.UPN}
	if at := strings.LastIndex(a.UPN, "@"); at > 0 {
		names = append(names, a.UPN[:at])
	}
	nameIs := func(want string) bool {
		for _, n := range names {
			if n != "" && strings.EqualFold(n, want) {
				return true
			}
		}
		return false
	}
	c := s.MatchingCriteria
	exact := c.Username || c.Email || c.FirstAndLastName || c.DisplayName
	if c.Username && !nameIs(u.Username) {
		exact = false
	}
	if c.Email && (a.Email == "" || !strings.EqualFold(a.Email, u.Email)) {
		exact = false
	}
	if c.FirstAndLastName && (a.FirstName == "" || a.LastName == "" || !strings.EqualFold(a.FirstName, u.FirstName) || !strings.EqualFold(a.LastName, u.LastName)) {
		exact = false
	}
	if c.DisplayName && (a.DisplayName == "" || !strings.EqualFold(a.DisplayName, u.DisplayName)) {
		exact = false
	}
	if exact {
		return true
	}
	if !s.AllowPartialMatches {
		return false
	}
	for _, pc := range s.PartialMatchingCriteria {
		v := strings.ToLower(pc.MatchValue)
		for _, n := range names {
			n = strings.ToLower(n)
			rest := ""
			if pc.Operator == "STARTS WITH" && strings.HasPrefix(n, v) {
				rest = strings.TrimPrefix(n, v)
				if rest != "" && strings.ContainsAny(rest[:1], ".-_") {
					rest = rest[1:]
				}
			}
			if pc.Operator == "ENDS WITH" && strings.HasSuffix(n, v) {
				rest = strings.TrimSuffix(n, v)
				if rest != "" && strings.ContainsAny(rest[len(rest)-1:], ".-_") {
					rest = rest[:len(rest)-1]
				}
			}
			if rest != "" && strings.EqualFold(rest, u.Username) {
				return true
			}
		}
	}
	return false
}

func TestMatchingAgainstReference(t *testing.T) {
	ouNames := []string{"Admins", "SubAdmins", "admins", "Users", "IT"}
	baseNames := []string{"jane", "john", "ann", "x.y", "jane.doe"}
	firsts := []string{"Jane", "john", "ANN", ""}
	lasts := []string{"Doe", "doe", "Smith", ""}
	displays := []string{"Jane Doe", "jane doe", "J", ""}
	emails := []string{"jane@example.com", "JANE@example.com", "john@example.com", ""}
	values := []string{"adm", "t0", "a", "-a", "_adm", "jane", "ops", "n"}
	ouPath := func(t *rapid.T, label string, maxDepth int) string {
		n := rapid.IntRange(0, maxDepth).Draw(t, label+" depth")
		p := ""
		for i := 0; i < n; i++ {
			p += "OU=" + rapid.SampledFrom(ouNames).Draw(t, label+" ou") + ","
		}
		return p + base
	}
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		e, err := opa.New(memstore.New(), opa.WithClock(opa.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))), opa.WithSeed(7))
		if err != nil {
			t.Fatal(err)
		}
		team, _ := e.CreateTeam(ctx, "acme")
		sys := opa.SystemPrincipal(team)
		rg, _ := e.CreateResourceGroup(ctx, sys, "rg", "")
		p1, _ := e.CreateProject(ctx, sys, rg.ID, "p1")
		p2, _ := e.CreateProject(ctx, sys, rg.ID, "p2")
		projects := []opa.Project{p1, p2}
		conn, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "corp", Domain: "corp.example.com"})
		if err != nil {
			t.Fatal(err)
		}

		// Users: distinct usernames drawn from names that accounts are built from.
		userNames := rapid.SliceOfNDistinct(rapid.SampledFrom(append(slices.Clone(baseNames), "adm.jane", "john-a")), 2, -1, func(s string) string { return s }).Draw(t, "usernames")
		for _, name := range userNames {
			_, err := e.CreateUser(ctx, sys, opa.UserInput{Username: name, FirstName: rapid.SampledFrom(firsts).Draw(t, "first"),
				LastName: rapid.SampledFrom(lasts).Draw(t, "last"), DisplayName: rapid.SampledFrom(displays).Draw(t, "display"),
				Email: rapid.SampledFrom(emails).Draw(t, "email"), ServiceUser: rapid.IntRange(0, 9).Draw(t, "service") == 9})
			if err != nil {
				t.Fatal(err)
			}
		}

		// Accounts, inserted as an import would, named mostly after the users.
		acctNames := append(slices.Clone(userNames), baseNames...)
		nAccts := rapid.IntRange(1, 40).Draw(t, "accounts")
		err = e.Store().Update(ctx, func(tx storage.WriteTx) error {
			for i := 0; i < nAccts; i++ {
				sam := rapid.SampledFrom([]string{"adm.", "t0-", "", "adm", "A"}).Draw(t, "prefix") +
					rapid.SampledFrom(acctNames).Draw(t, "name") + rapid.SampledFrom([]string{"", "-a", "_adm", "n"}).Draw(t, "suffix")
				upn := ""
				switch rapid.IntRange(0, 2).Draw(t, "upn") {
				case 1:
					upn = sam + "@corp.example.com"
				case 2:
					upn = rapid.SampledFrom(baseNames).Draw(t, "upn name") + "@corp.example.com"
				}
				if rapid.Bool().Draw(t, "no sam") {
					sam = ""
				}
				dn := "CN=acct" + fmt.Sprint(i) + "," + ouPath(t, "acct", 3)
				if rapid.Bool().Draw(t, "upper dn") {
					dn = strings.ToUpper(dn)
				}
				a := storage.Account{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), TeamID: team.ID, ConnectionID: conn.ID,
					SID: fmt.Sprintf("S-1-%d", i), DistinguishedName: dn, SAMAccountName: sam, UPN: upn,
					FirstName: rapid.SampledFrom(firsts).Draw(t, "a first"), LastName: rapid.SampledFrom(lasts).Draw(t, "a last"),
					DisplayName: rapid.SampledFrom(displays).Draw(t, "a display"), Email: rapid.SampledFrom(emails).Draw(t, "a email"),
					OktaGroupNames: rapid.SliceOfN(rapid.SampledFrom([]string{"Ops", "DBAs"}), 0, 2).Draw(t, "groups"),
					Missing:        rapid.IntRange(0, 9).Draw(t, "missing") == 9}
				if err := storage.Accounts.Insert(tx, &a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Settings and rules through the public API (each re-evaluates).
		settings := opa.RuleSettings{
			MatchingCriteria: opa.MatchingCriteria{Username: !rapid.Bool().Draw(t, "c no username"), FirstAndLastName: rapid.IntRange(0, 3).Draw(t, "c name") == 3,
				DisplayName: rapid.IntRange(0, 3).Draw(t, "c display") == 3, Email: rapid.IntRange(0, 3).Draw(t, "c email") == 3},
			AllowPartialMatches: !rapid.Bool().Draw(t, "no partial"),
		}
		for i, n := 0, rapid.IntRange(1, 3).Draw(t, "partials"); i < n; i++ {
			settings.PartialMatchingCriteria = append(settings.PartialMatchingCriteria, opa.PartialMatchCriterion{
				Operator: rapid.SampledFrom([]string{"STARTS WITH", "ENDS WITH"}).Draw(t, "op"), MatchValue: rapid.SampledFrom(values).Draw(t, "value")})
		}
		configured := rapid.IntRange(0, 5).Draw(t, "configured") < 5
		if configured {
			if err := e.ConfigureAccountRuleSettings(ctx, sys, conn.ID, settings); err != nil {
				t.Fatal(err)
			}
		}
		nRules := rapid.IntRange(1, 4).Draw(t, "rules")
		for i := 0; i < nRules; i++ {
			in := opa.AccountRuleInput{Name: fmt.Sprint("rule", i), RuleType: rapid.SampledFrom([]string{"INDIVIDUAL", "SHARED"}).Draw(t, "type")}
			pr := rapid.SampledFrom(projects).Draw(t, "project")
			in.Project, in.ResourceGroup = opa.NamedObject{ID: pr.ID}, opa.NamedObject{ID: rg.ID}
			seen := map[string]bool{}
			for j, m := 0, rapid.IntRange(1, 2).Draw(t, "ous"); j < m; j++ {
				ou := ouPath(t, "rule", 2)
				if seen[strings.ToLower(ou)] {
					continue
				}
				seen[strings.ToLower(ou)] = true
				in.OrganizationalUnits = append(in.OrganizationalUnits, ou)
			}
			if rapid.Bool().Draw(t, "filtered") {
				for range in.OrganizationalUnits {
					var fs []opa.RuleFilter
					for k, q := 0, rapid.IntRange(0, 2).Draw(t, "filters"); k < q; k++ {
						fs = append(fs, opa.RuleFilter{Field: rapid.SampledFrom([]string{"account_name", "okta_group_name"}).Draw(t, "field"),
							Operator: rapid.SampledFrom([]string{"STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUALS"}).Draw(t, "fop"),
							Value:    rapid.SampledFrom(append(slices.Clone(values), "ops", "dbas", "jane")).Draw(t, "fvalue")})
					}
					in.EnhancedFilters = append(in.EnhancedFilters, fs)
				}
			}
			if _, err := e.CreateAccountRule(ctx, sys, conn.ID, in); err != nil {
				t.Fatal(err)
			}
		}

		// Overrides on some INDIVIDUAL accounts.
		users, _ := e.Users(ctx, sys)
		accounts := func() []storage.Account {
			var out []storage.Account
			_ = e.Store().View(ctx, func(tx storage.ReadTx) error {
				as, err := storage.Accounts.List(tx, storage.AccountsByConnection, conn.ID)
				for _, a := range as {
					out = append(out, *a)
				}
				return err
			})
			return out
		}
		for _, a := range accounts() {
			if a.AccountType != "INDIVIDUAL" || a.Missing {
				continue
			}
			switch rapid.IntRange(0, 5).Draw(t, "override") {
			case 0, 3, 4, 5:
			case 1:
				_, err = e.UpdateADAccountMatch(ctx, sys, conn.ID, a.ID, opa.AccountMatchInput{ForceNoMatch: true})
			case 2:
				if len(users) == 0 {
					break
				}
				u := rapid.SampledFrom(users).Draw(t, "override user")
				_, err = e.UpdateADAccountMatch(ctx, sys, conn.ID, a.ID, opa.AccountMatchInput{MatchOverrideUserID: u.ID})
				if u.ServiceUser && err != nil {
					err = nil // service users cannot be matched, so they cannot be chosen either
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}

		// A final rule change: reverse the priorities (overrides must survive it).
		rules, err := e.AccountRules(ctx, sys, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) > 1 && rapid.Bool().Draw(t, "reverse") {
			var order []opa.RulePriority
			for i, r := range rules {
				order = append(order, opa.RulePriority{RuleID: r.ID, Priority: len(rules) - i})
			}
			if rules, err = e.ReorderAccountRules(ctx, sys, conn.ID, order); err != nil {
				t.Fatal(err)
			}
		}
		if !configured {
			settings = opa.RuleSettings{}
		}
		settings.IsConfigured = configured
		for _, a := range accounts() {
			if a.Missing {
				continue
			}
			want := refEvaluate(rules, settings, users, a)
			got := refOutcome{Project: a.ProjectID, Type: a.AccountType, User: a.MatchedUserID, Status: a.MatchStatus}
			if got != want {
				t.Fatalf("account %s (dn %q sam %q upn %q): got %+v, want %+v", a.ID, a.DistinguishedName, a.SAMAccountName, a.UPN, got, want)
			}
		}
	})
}
