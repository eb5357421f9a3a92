package httpapi

import (
	"net/http"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
)

// Admin AD account views, matching, rules and rule settings (docs/wire.md#accounts, #matching,
// #rules).

func accountID(r *http.Request) string { return r.PathValue("ad_account_id") }

// discoveredAccounts is GET …/resource_assignment/active_directory/{id}/accounts, paged, with
// contains_account_name_or_assigned_opa_user. With include_user_access_methods=true each account
// carries user_access_methods (ActiveDirectoryAccountWithUAMs): the caller's own access methods
// for it, [] when it has none (docs/wire.md#accounts).
func discoveredAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	withUAMs, err := queryBool(r, "include_user_access_methods")
	if err != nil {
		return err
	}
	page, err := e.DiscoveredADAccounts(r.Context(), p, connID(r), opa.DiscoveredQuery{
		ContainsAccountNameOrAssignedOPAUser: r.URL.Query().Get("contains_account_name_or_assigned_opa_user"),
		Page:                                 pr,
	})
	if err != nil {
		return err
	}
	if !withUAMs {
		writePage(w, r, page)
		return nil
	}
	out := opa.Page[accountWithUAMs]{Next: page.Next, Prev: page.Prev, Items: make([]accountWithUAMs, 0, len(page.Items))}
	for _, a := range page.Items {
		uams, err := e.ADAccountUAMs(r.Context(), p, connID(r), a.ID, "")
		if errors.Is(err, opa.ErrNotFound) {
			uams, err = []opa.UserAccessMethod{}, nil
		}
		if err != nil {
			return err
		}
		out.Items = append(out.Items, accountWithUAMs{ADAccount: a, UserAccessMethods: uams})
	}
	writePage(w, r, out)
	return nil
}

// accountWithUAMs is an admin account view with the caller's access methods
// (ActiveDirectoryAccountWithUAMs).
type accountWithUAMs struct {
	opa.ADAccount
	UserAccessMethods []opa.UserAccessMethod `json:"user_access_methods"`
}

func getAccount(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	a, err := e.GetADAccount(r.Context(), p, connID(r), accountID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, a)
	return nil
}

// accountMatch is the match body with every field present (null when unset), as the SDK model has
// them all.
type accountMatch struct {
	ADAccountID         string  `json:"ad_account_id"`
	RuleMatchUserID     *string `json:"rule_match_user_id"`
	MatchOverrideUserID *string `json:"match_override_user_id"`
	ForceNoMatch        bool    `json:"force_no_match"`
}

func matchBody(m opa.AccountMatch) accountMatch {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return accountMatch{ADAccountID: m.ADAccountID, RuleMatchUserID: opt(m.RuleMatchUserID),
		MatchOverrideUserID: opt(m.MatchOverrideUserID), ForceNoMatch: m.ForceNoMatch}
}

func getAccountMatch(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	m, err := e.ADAccountMatch(r.Context(), p, connID(r), accountID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, matchBody(m))
	return nil
}

func updateAccountMatch(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.AccountMatchInput
	if err := requireBody(r, &in); err != nil {
		return err
	}
	m, err := e.UpdateADAccountMatch(r.Context(), p, connID(r), accountID(r), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, matchBody(m))
	return nil
}

func getRuleSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	s, err := e.AccountRuleSettings(r.Context(), p, connID(r))
	if err != nil {
		return err
	}
	if s.PartialMatchingCriteria == nil {
		s.PartialMatchingCriteria = []opa.PartialMatchCriterion{}
	}
	encode(w, http.StatusOK, s)
	return nil
}

func configureRuleSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.RuleSettings
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if err := e.ConfigureAccountRuleSettings(r.Context(), p, connID(r), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listRules is GET …/rules: every rule of the connection in priority order (not paged: the SDK
// operation takes no paging parameters).
func listRules(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	rs, err := e.AccountRules(r.Context(), p, connID(r))
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []opa.ADAccountRule{}
	}
	encode(w, http.StatusOK, list[opa.ADAccountRule]{List: rs})
	return nil
}

// createRule answers 201 with the rule: the SDK decodes a rule from the body although the seed
// page says "No Content".
func createRule(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.AccountRuleInput
	if err := requireBody(r, &in); err != nil {
		return err
	}
	rule, err := e.CreateAccountRule(r.Context(), p, connID(r), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, rule)
	return nil
}

func getRule(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	rule, err := e.AccountRule(r.Context(), p, connID(r), r.PathValue("ad_account_rule_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, rule)
	return nil
}

func updateRule(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.AccountRuleInput
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateAccountRule(r.Context(), p, connID(r), r.PathValue("ad_account_rule_id"), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteRule(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteAccountRule(r.Context(), p, connID(r), r.PathValue("ad_account_rule_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// reorderRules takes a JSON array [{rule_id, priority}] and answers the reordered list.
func reorderRules(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var order []opa.RulePriority
	if err := requireBody(r, &order); err != nil {
		return err
	}
	rs, err := e.ReorderAccountRules(r.Context(), p, connID(r), order)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []opa.ADAccountRule{}
	}
	encode(w, http.StatusOK, list[opa.ADAccountRule]{List: rs})
	return nil
}

// accountsQuery reads contains, ad_account_type and the repeated ad_connection_id.
func accountsQuery(r *http.Request) opa.AccountsQuery {
	q := r.URL.Query()
	ids := dedupe(q["ad_connection_id"])
	return opa.AccountsQuery{Contains: q.Get("contains"), AccountType: q.Get("ad_account_type"), ADConnectionIDs: ids}
}

func dedupe(vs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func allAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.AllADAccounts(r.Context(), p, accountsQuery(r), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func resourceGroupAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.ResourceGroupADAccounts(r.Context(), p, r.PathValue("resource_group_id"), accountsQuery(r), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func projectAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.ProjectADAccounts(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func projectAccount(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	a, err := e.ProjectADAccount(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), accountID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, a)
	return nil
}
