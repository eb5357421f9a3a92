package opa

import (
	"context"
	"slices"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// Condition is a condition of a security policy rule that the engine cannot decide itself: it
// runs no MFA challenge and no access request workflow. The values are the SDK's
// UserAccessConditional types.
type Condition string

// The conditions a policy rule can carry (PolicyConditions.MFARequired, AccessRequestRequired).
const (
	ConditionMFA           Condition = "mfa"
	ConditionAccessRequest Condition = "access_request"
)

// describe returns what the condition asks for, for messages and access methods.
func (c Condition) describe() string {
	switch c {
	case ConditionMFA:
		return "multi-factor authentication"
	case ConditionAccessRequest:
		return "an approved access request"
	}
	return string(c)
}

// ConditionResource is the account a condition is asked about.
type ConditionResource struct {
	// Type is ResourceTypeADAccount or ResourceTypeUDAccount.
	Type string
	ID   string
	// Name is the account's user name (the AD UPN or sAMAccountName, the UD username).
	Name            string
	ConnectionID    string // AD accounts only
	ProjectID       string
	ResourceGroupID string
}

// ConditionRequest asks whether Condition is met for Principal using Privilege on Resource at
// Time, the engine's clock, under the rule RuleID of the security policy PolicyID.
type ConditionRequest struct {
	Condition Condition
	Principal Principal
	Resource  ConditionResource
	PolicyID  string
	RuleID    string
	Privilege string
	Time      time.Time
}

// ConditionDecider decides the policy conditions the engine cannot (MFA, access requests), for an
// embedder that has them: its MFA step-up, its approval workflow. DecideCondition reports whether
// the condition is met now; an error means it could not be decided, and the operation fails with
// it (an error without one of the engine's classes is returned as ErrUnavailable). The engine calls
// it outside any storage transaction, once per condition of each policy rule that could
// authorize the operation (reveal, rotation) or that an access method listing shows; a decider may
// be slow, but every call happens while a client waits. It must be safe for concurrent use.
type ConditionDecider interface {
	DecideCondition(ctx context.Context, req ConditionRequest) (bool, error)
}

// ConditionDeciderFunc adapts a function to ConditionDecider.
type ConditionDeciderFunc func(ctx context.Context, req ConditionRequest) (bool, error)

// DecideCondition calls f.
func (f ConditionDeciderFunc) DecideCondition(ctx context.Context, req ConditionRequest) (bool, error) {
	return f(ctx, req)
}

// WithConditionDecider sets who decides the MFA and access request conditions of security policy
// rules. Default: none, and such a condition is never met: an access method whose rule carries
// one shows condition_is_met false, and a reveal or rotation through it fails with ErrForbidden
// naming the condition (docs/wire.md#accounts).
func WithConditionDecider(d ConditionDecider) Option {
	return func(cfg *config) error {
		if d == nil {
			return invalidf("WithConditionDecider: nil decider")
		}
		cfg.conditions = d
		return nil
	}
}

// conditionsOf returns the conditions of a rule that a decider decides, in a fixed order.
func conditionsOf(c storage.PolicyConditions) []Condition {
	var out []Condition
	if c.MFARequired {
		out = append(out, ConditionMFA)
	}
	if c.AccessRequestRequired {
		out = append(out, ConditionAccessRequest)
	}
	return out
}

// conditionKey names one decision: a policy rule and one of its conditions.
type conditionKey struct {
	ruleID string
	cond   Condition
}

// decisions are a decider's answers for one operation. A condition with no answer is not met, so
// a rule whose conditions changed after they were decided authorizes nothing.
type decisions map[conditionKey]bool

// unmet returns the first condition of g that is not met, and whether there is one.
func (d decisions) unmet(g grant) (Condition, bool) {
	for _, c := range conditionsOf(g.rule.Conditions) {
		if !d[conditionKey{g.rule.ID, c}] {
			return c, true
		}
	}
	return "", false
}

// conditionAsk is a grant whose conditions are to be decided, with the privilege it would be used
// for.
type conditionAsk struct {
	policyID, ruleID string
	conds            []Condition
	privilege        string
}

// askOf returns what to ask about g used for privilege (nil when g has no such condition). Its
// strings are copies: the grant is borrowed from a transaction that ends before the asking.
func askOf(g grant, privilege string) *conditionAsk {
	conds := conditionsOf(g.rule.Conditions)
	if len(conds) == 0 {
		return nil
	}
	return &conditionAsk{policyID: g.policyID, ruleID: g.rule.ID, conds: conds, privilege: privilege}
}

// conditionResource describes r for a decider.
func conditionResource(r resource) ConditionResource {
	out := ConditionResource{Type: r.kind(), ID: r.id(), Name: r.name(), ProjectID: r.projectID(), ResourceGroupID: r.resourceGroupID()}
	if r.ad != nil {
		out.ConnectionID = r.ad.ConnectionID
	}
	return out
}

// decide asks the engine's decider every condition of asks for p on res, at the clock's time. With
// no decider it asks nothing and every condition is unmet. Errors: the decider's, as
// ConditionDecider says.
func (e *Engine) decide(ctx context.Context, p Principal, res ConditionResource, asks []*conditionAsk) (decisions, error) {
	out := decisions{}
	if e.conditions == nil {
		return out, nil
	}
	now := e.now()
	for _, a := range asks {
		for _, c := range a.conds {
			key := conditionKey{a.ruleID, c}
			if _, done := out[key]; done {
				continue
			}
			met, err := e.conditions.DecideCondition(ctx, ConditionRequest{Condition: c, Principal: p, Resource: res,
				PolicyID: a.policyID, RuleID: a.ruleID, Privilege: a.privilege, Time: now})
			if err != nil {
				if ErrorClass(err) == nil {
					err = errclass.Wrap(err, ErrUnavailable, "deciding the %s condition of policy rule %s", c, a.ruleID)
				}
				return nil, err
			}
			out[key] = met
		}
	}
	return out, nil
}

// decideFor decides, before the operation's own transaction, the conditions of the rules that
// could authorize m for a wanted privilege on the account view finds (accessView.candidates).
// Without a decider it reads nothing. Errors: view's, and the decider's.
func (e *Engine) decideFor(ctx context.Context, p Principal, view func(storage.ReadTx, *policySet) (accessView, error), m UserAccessMethod, wanted func(string) bool) (decisions, error) {
	if e.conditions == nil {
		return decisions{}, nil
	}
	var (
		asks []*conditionAsk
		res  ConditionResource
	)
	err := e.withPolicies(ctx, p, func(tx storage.ReadTx, set *policySet) error {
		v, err := view(tx, set)
		if err != nil {
			return err
		}
		res = conditionResource(v.r)
		for _, c := range v.candidates(m, wanted) {
			if a := askOf(c.g, c.privilege); a != nil {
				asks = append(asks, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.decide(ctx, p, res, asks)
}

// candidate is a grant that could authorize an access method, and the privilege it would use.
type candidate struct {
	g         grant
	privilege string
}

// candidates returns the grants the access method names (rule_ids) that grant a wanted privilege
// it asks for (any wanted one when it names none), conditions aside: the one definition both the
// decision before an operation and the authorization inside it use.
func (v accessView) candidates(m UserAccessMethod, wanted func(string) bool) []candidate {
	var asked []string
	for _, pr := range m.Details.Privileges {
		asked = append(asked, pr.PrivilegeType)
	}
	var out []candidate
	for _, g := range v.grants {
		if !slices.Contains(m.RuleIDs, g.rule.ID) {
			continue
		}
		for _, pr := range g.rule.Privileges {
			if wanted(pr) && (len(asked) == 0 || slices.Contains(asked, pr)) {
				out = append(out, candidate{g, pr})
				break
			}
		}
	}
	return out
}

// unmetError is the ErrForbidden of an access method whose rule's condition is not met.
func unmetError(g grant, c Condition) error {
	return errors.WithHint(forbiddenf("the user access method's policy rule %q requires %s (%s), which is not met for this user",
		g.rule.Name, c, c.describe()), "meet the condition and try again")
}

// conditionals returns the conditionals of an access method of g, none of them met yet
// (decisions.mark sets them).
func conditionals(g grant, decider bool) []UAMConditional {
	out := []UAMConditional{}
	for _, c := range conditionsOf(g.rule.Conditions) {
		desc := "Requires " + c.describe() + "."
		if !decider {
			desc += " This server has no way to meet it (no condition decider is configured)."
		}
		out = append(out, UAMConditional{Type: string(c), Description: desc})
	}
	return out
}

// mark sets condition_is_met on the conditionals of ms (each method names its one rule) as d says.
func (d decisions) mark(ms []UserAccessMethod) {
	for i := range ms {
		for j := range ms[i].Conditionals {
			if len(ms[i].RuleIDs) > 0 {
				ms[i].Conditionals[j].ConditionIsMet = d[conditionKey{ms[i].RuleIDs[0], Condition(ms[i].Conditionals[j].Type)}]
			}
		}
	}
}

// listedAsks returns what to ask for the access methods of v that uams lists for privilegeType:
// each rule with conditions once, for its first listed privilege.
func (v accessView) listedAsks(privilegeType string) []*conditionAsk {
	var out []*conditionAsk
	for _, g := range v.grants {
		for _, pr := range g.rule.Privileges {
			if privilegeType == "" || pr == privilegeType {
				if a := askOf(g, pr); a != nil {
					out = append(out, a)
				}
				break
			}
		}
	}
	return out
}

// accessMethods is uams with the conditions decided: the methods are built in one read
// transaction, and the decider is asked after it. Errors: withAccess's and the decider's.
func (e *Engine) accessMethods(ctx context.Context, p Principal, find accessFinder, privilegeType string) ([]UserAccessMethod, error) {
	var (
		out  []UserAccessMethod
		asks []*conditionAsk
		res  ConditionResource
	)
	err := e.withAccess(ctx, p, find, func(_ storage.ReadTx, v accessView) error {
		out = v.uams(p.UserID, privilegeType, e.conditions != nil)
		asks, res = v.listedAsks(privilegeType), conditionResource(v.r)
		return nil
	})
	if err != nil || len(asks) == 0 {
		return out, err
	}
	d, err := e.decide(ctx, p, res, asks)
	if err != nil {
		return nil, err
	}
	d.mark(out)
	return out, nil
}
