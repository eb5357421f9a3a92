package opa

import (
	"context"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// MatchingCriteria are the exact matching criteria of the rule settings; the enabled ones must all
// match, case-insensitively. Username compares the user's username with the account's
// sAMAccountName, its UPN and its UPN's local part (any of them); FirstAndLastName needs both
// names on both sides.
type MatchingCriteria struct {
	Username         bool `json:"username"`
	FirstAndLastName bool `json:"first_and_last_name"`
	DisplayName      bool `json:"display_name"`
	Email            bool `json:"email"`
}

// PartialMatchCriterion is one partial matching entry: Operator PartialStartsWith or
// PartialEndsWith ("STARTS WITH" / "ENDS WITH", with a space; the underscore forms are accepted on
// input), MatchValue the prefix or suffix.
type PartialMatchCriterion struct {
	Operator   string `json:"operator"`
	MatchValue string `json:"match_value"`
}

// RuleSettings is how a connection matches INDIVIDUAL accounts to users
// (ActiveDirectoryAccountRuleSettings, wire format). An account matches a user when all enabled
// MatchingCriteria hold (no criterion enabled: no exact match), or, with AllowPartialMatches, when
// for any PartialMatchingCriteria entry the account name with the prefix or suffix (and one
// separator '.', '-' or '_' next to it) stripped equals the username. The partial entries are
// alternatives to each other and to the exact criteria. IsConfigured is output only.
type RuleSettings struct {
	IsConfigured            bool                    `json:"is_configured"`
	MatchingCriteria        MatchingCriteria        `json:"matching_criteria"`
	AllowPartialMatches     bool                    `json:"allow_partial_matches"`
	PartialMatchingCriteria []PartialMatchCriterion `json:"partial_matching_criteria"`
}

// AccountRuleSettings returns the connection's rule settings. Roles as AccountRules. Errors:
// ErrNotFound, ErrForbidden. Safe for concurrent use.
func (e *Engine) AccountRuleSettings(ctx context.Context, p Principal, connID string) (RuleSettings, error) {
	if err := p.requireResourceRead(); err != nil {
		return RuleSettings{}, err
	}
	var out RuleSettings
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		s := c.RuleSettings
		out = RuleSettings{
			IsConfigured: s.IsConfigured, AllowPartialMatches: s.AllowPartialMatches,
			MatchingCriteria:        MatchingCriteria{Username: s.Username, FirstAndLastName: s.FirstAndLastName, DisplayName: s.DisplayName, Email: s.Email},
			PartialMatchingCriteria: []PartialMatchCriterion{},
		}
		for _, pc := range s.Partial {
			out.PartialMatchingCriteria = append(out.PartialMatchingCriteria, PartialMatchCriterion(pc))
		}
		return nil
	})
	return out, err
}

// ConfigureAccountRuleSettings sets the connection's rule settings (is_configured becomes true) and
// re-evaluates its accounts (see ruleChange); match overrides are kept. Needs
// resource_admin. Errors: ErrInvalid for an operator other than "STARTS WITH" / "ENDS WITH" (the
// underscore forms are accepted and stored with a space), an empty or over-long match_value, more
// than 50 entries (entries are kept but unused while allow_partial_matches is false); ErrNotFound;
// ErrForbidden. Safe for concurrent use.
func (e *Engine) ConfigureAccountRuleSettings(ctx context.Context, p Principal, connID string, in RuleSettings) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if len(in.PartialMatchingCriteria) > maxPartialEntries {
		return invalidf("at most %d partial_matching_criteria entries", maxPartialEntries)
	}
	s := storage.RuleSettings{
		IsConfigured: true, Username: in.MatchingCriteria.Username, FirstAndLastName: in.MatchingCriteria.FirstAndLastName,
		DisplayName: in.MatchingCriteria.DisplayName, Email: in.MatchingCriteria.Email, AllowPartialMatches: in.AllowPartialMatches,
	}
	for _, pc := range in.PartialMatchingCriteria {
		op := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(pc.Operator)), "_", " ")
		if op != PartialStartsWith && op != PartialEndsWith {
			return invalidf("partial matching operator must be %q or %q, got %q", PartialStartsWith, PartialEndsWith, pc.Operator)
		}
		if pc.MatchValue == "" || len(pc.MatchValue) > 255 {
			return invalidf("match_value must be 1-255 characters")
		}
		s.Partial = append(s.Partial, storage.PartialCriterion{Operator: op, MatchValue: pc.MatchValue})
	}
	return e.ruleChange(ctx, p, connID, func(tx storage.WriteTx, now time.Time) error {
		c, err := e.teamConnection(tx, p, connID)
		if err != nil {
			return err
		}
		c.RuleSettings, c.UpdatedAt = s, now
		return storage.Connections.Update(tx, c)
	})
}
