package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
)

// Security policies, in the one form both of Okta's clients read (docs/wire.md#security-policies).
// Create answers 200 with the stored policy (the v1 client accepts only 200), update and delete
// 204; deletes are hard (404 afterwards).

// wirePolicy is a policy as the routes answer it: its rules carry no id. The SDK's
// SecurityPolicyRule has none, and the provider's v1 resource copies a rule id into a rule schema
// without one, so its every read failed ("Invalid address to set: rule.0.id"). The engine keeps
// the ids (user access methods name them in rule_ids).
func wirePolicy(sp opa.SecurityPolicy) opa.SecurityPolicy {
	rules := make([]opa.SecurityPolicyRule, len(sp.Rules))
	for i, r := range sp.Rules {
		r.ID = ""
		rules[i] = r
	}
	sp.Rules = rules
	return sp
}

func policyID(r *http.Request) string { return r.PathValue("security_policy_id") }

func listSecurityPolicies(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	ps, err := e.SecurityPolicies(r.Context(), p, r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(ps, wirePolicy))
	return nil
}

func createSecurityPolicy(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.SecurityPolicy
	if err := requireBody(r, &in); err != nil {
		return err
	}
	sp, err := e.CreateSecurityPolicy(r.Context(), p, in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, wirePolicy(sp))
	return nil
}

func getSecurityPolicy(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	sp, err := e.SecurityPolicy(r.Context(), p, policyID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, wirePolicy(sp))
	return nil
}

func updateSecurityPolicy(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.SecurityPolicy
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateSecurityPolicy(r.Context(), p, policyID(r), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteSecurityPolicy(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeletePolicy(r.Context(), p, policyID(r)); err != nil {
		return err
	}
	noContent(w)
	return nil
}
