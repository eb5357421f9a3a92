package opa

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// RegistrationGatewayAgent is the one registration type of a gateway setup token (the SDK's
// GatewaySetupTokenRegistrationType).
const RegistrationGatewayAgent = "gateway-agent"

// purposeGatewaySetupToken is the purpose of a sealed setup token value (part of the additional
// data).
const purposeGatewaySetupToken = "gateway_setup_token.token"

// AuditGatewaySetupToken is the audit action of creating or deleting a gateway setup token and of
// registering a gateway with one. The detail never holds the token.
const AuditGatewaySetupToken = "gateway_setup_token_change"

// GatewaySetupToken is a token a gateway agent presents to register with a team
// (RegisterGateway); the gateways that register with it get its labels. Token, the secret value,
// is set only by CreateGatewaySetupToken and GatewaySetupTokenValue: it is sealed at rest and no
// other read returns it.
type GatewaySetupToken struct {
	ID               string
	Name             string
	Description      string
	RegistrationType string
	Labels           map[string]string
	CreatedAt        time.Time
	Token            string
}

func setupTokenOf(t *storage.GatewaySetupToken) GatewaySetupToken {
	labels := maps.Clone(t.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return GatewaySetupToken{ID: t.ID, Name: t.Name, Description: t.Description, RegistrationType: t.RegistrationType,
		Labels: labels, CreatedAt: t.CreatedAt}
}

// GatewaySetupTokenInput describes a new setup token.
type GatewaySetupTokenInput struct {
	// Name is optional, at most 255 characters without control characters.
	Name string
	// Description is free text of at most 1024 characters.
	Description string
	// RegistrationType must be RegistrationGatewayAgent; empty means it.
	RegistrationType string
	// Labels are given to the gateways that register with the token (checkLabels' rules).
	Labels map[string]string
}

// setupTokenClaims is the JSON object a setup token value encodes (base64): the metadata a
// gateway needs to find its team, and the secret.
type setupTokenClaims struct {
	Team   string `json:"team_name"`
	ID     string `json:"setup_token_id"`
	Secret string `json:"secret"`
}

// CreateGatewaySetupToken creates a setup token of p's team and returns it with its value
// (Token). The value is the standard base64 of a JSON object with the team name, the token's id
// and a 256-bit random secret; it is sealed at rest. Needs resource_admin, team-wide or delegated.
// Errors: ErrInvalid for a bad field or a registration type other than RegistrationGatewayAgent.
// Safe for concurrent use.
func (e *Engine) CreateGatewaySetupToken(ctx context.Context, p Principal, in GatewaySetupTokenInput) (GatewaySetupToken, error) {
	if err := p.requireGatewayAdmin(); err != nil {
		return GatewaySetupToken{}, err
	}
	if in.RegistrationType == "" {
		in.RegistrationType = RegistrationGatewayAgent
	}
	switch {
	case in.RegistrationType != RegistrationGatewayAgent:
		return GatewaySetupToken{}, invalidf("registration_type must be %q", RegistrationGatewayAgent)
	case len(in.Name) > 255 || hasControl(in.Name):
		return GatewaySetupToken{}, invalidf("name must be at most 255 characters without control characters")
	case len(in.Description) > 1024:
		return GatewaySetupToken{}, invalidf("description must be at most 1024 characters")
	}
	if err := checkLabels("details.labels", in.Labels); err != nil {
		return GatewaySetupToken{}, err
	}
	secret, err := e.randomToken(32)
	if err != nil {
		return GatewaySetupToken{}, err
	}
	id := e.newID()
	claims, err := json.Marshal(setupTokenClaims{Team: p.TeamName, ID: id, Secret: secret})
	if err != nil {
		return GatewaySetupToken{}, err
	}
	value := base64.StdEncoding.EncodeToString(claims)
	rec := storage.GatewaySetupToken{ID: id, TeamID: p.TeamID, Name: in.Name, Description: in.Description,
		RegistrationType: in.RegistrationType, Token: e.seal.seal(value, purposeGatewaySetupToken, id), CreatedAt: e.now()}
	if len(in.Labels) > 0 {
		rec.Labels = maps.Clone(in.Labels)
	}
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.GatewaySetupTokens.Insert(tx, &rec); err != nil {
			return err
		}
		return e.audit(tx, p, AuditGatewaySetupToken, "gateway_setup_token", id, "success", "created")
	})
	if err != nil {
		return GatewaySetupToken{}, err
	}
	out := setupTokenOf(&rec)
	out.Token = value
	return out, nil
}

// GatewaySetupToken returns the setup token of p's team with the id, without its value. Needs
// resource_admin, team-wide or delegated. ErrNotFound for an unknown id or another team's token.
// Safe for concurrent use.
func (e *Engine) GatewaySetupToken(ctx context.Context, p Principal, id string) (GatewaySetupToken, error) {
	if err := p.requireGatewayAdmin(); err != nil {
		return GatewaySetupToken{}, err
	}
	var out GatewaySetupToken
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		t, err := e.teamSetupToken(tx, p, id)
		if err == nil {
			out = setupTokenOf(t)
		}
		return err
	})
	return out, err
}

// GatewaySetupTokenValue is GatewaySetupToken with the token's value (Token), which it unseals:
// what an administrator copies into a gateway's configuration. Needs and returns what
// GatewaySetupToken does; ErrCorrupt when the sealed value does not open with the engine's key.
// Safe for concurrent use.
func (e *Engine) GatewaySetupTokenValue(ctx context.Context, p Principal, id string) (GatewaySetupToken, error) {
	if err := p.requireGatewayAdmin(); err != nil {
		return GatewaySetupToken{}, err
	}
	var rec *storage.GatewaySetupToken
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		rec, err = e.teamSetupToken(tx, p, id)
		return err
	})
	if err != nil {
		return GatewaySetupToken{}, err
	}
	value, err := e.seal.open(rec.Token, purposeGatewaySetupToken, rec.ID)
	if err != nil {
		return GatewaySetupToken{}, err
	}
	out := setupTokenOf(rec)
	out.Token = value
	return out, nil
}

// teamSetupToken finds a setup token of p's team by id.
func (e *Engine) teamSetupToken(tx storage.ReadTx, p Principal, id string) (*storage.GatewaySetupToken, error) {
	t, err := storage.GatewaySetupTokens.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "gateway setup token %q does not exist", id)
	}
	if err := p.sameTeam(t.TeamID, "gateway setup token", id); err != nil {
		return nil, err
	}
	return t, nil
}

// ListGatewaySetupTokens returns one page of the setup tokens of p's team, in id order, without
// their values. Cost: one range read of the team's tokens from the cursor (rangePage). Needs
// resource_admin, team-wide or delegated. ErrInvalid for a bad page request. Safe for concurrent
// use.
func (e *Engine) ListGatewaySetupTokens(ctx context.Context, p Principal, page PageRequest) (Page[GatewaySetupToken], error) {
	if err := p.requireGatewayAdmin(); err != nil {
		return Page[GatewaySetupToken]{}, err
	}
	var out Page[GatewaySetupToken]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		src := pageSource[storage.GatewaySetupToken]{table: storage.GatewaySetupTokens, index: storage.GatewaySetupTokensByTeam,
			args: []string{p.TeamID}, in: func(t *storage.GatewaySetupToken) bool { return t.TeamID == p.TeamID }, borrow: true}
		var err error
		out, err = rangePage(tx, src, page, func(t *storage.GatewaySetupToken) string { return t.ID }, setupTokenOf)
		return err
	})
	return out, err
}

// DeleteGatewaySetupToken deletes a setup token of p's team: its value registers no more
// gateways; the gateways that registered with it stay. Needs resource_admin, team-wide or
// delegated. ErrNotFound for an unknown id or another team's token. Safe for concurrent use.
func (e *Engine) DeleteGatewaySetupToken(ctx context.Context, p Principal, id string) error {
	if err := p.requireGatewayAdmin(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		if _, err := e.teamSetupToken(tx, p, id); err != nil {
			return err
		}
		if err := storage.GatewaySetupTokens.Delete(tx, id); err != nil {
			return err
		}
		return e.audit(tx, p, AuditGatewaySetupToken, "gateway_setup_token", id, "success", "deleted")
	})
}

// RegisterGateway registers a gateway agent with a setup token value, as the agent does when it
// starts with the token in its configuration: the gateway joins the token's team with in's fields
// (in.ID is ignored; the id is new) and the token's labels over in.Labels. Every token failure (not
// a token, unknown or deleted token, wrong secret, another team) is the same ErrUnauthorized
// error, which never repeats the token. Errors otherwise: GatewayInput's ErrInvalid, ErrConflict
// for a name the team's gateways already have. Safe for concurrent use.
func (e *Engine) RegisterGateway(ctx context.Context, token string, in GatewayInput) (Gateway, error) {
	fail := unauthorizedf("the gateway setup token is not valid")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(token) > 4096 {
		return Gateway{}, fail
	}
	var claims setupTokenClaims
	if json.Unmarshal(raw, &claims) != nil || claims.ID == "" || claims.Team == "" {
		return Gateway{}, fail
	}
	var g *storage.Gateway
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		team, err := storage.Teams.First(tx, storage.TeamsByName, claims.Team)
		if err != nil {
			return fail
		}
		rec, err := storage.GatewaySetupTokens.Get(tx, claims.ID)
		if err != nil || rec.TeamID != team.ID {
			return fail
		}
		value, err := e.seal.open(rec.Token, purposeGatewaySetupToken, rec.ID)
		if err != nil || subtle.ConstantTimeCompare([]byte(value), []byte(strings.TrimSpace(token))) != 1 {
			return fail
		}
		labels := maps.Clone(in.Labels)
		if labels == nil && len(rec.Labels) > 0 {
			labels = map[string]string{}
		}
		maps.Copy(labels, rec.Labels)
		in.Labels = labels
		g, err = in.record(e.newID(), team.ID, e.now())
		if err != nil {
			return err
		}
		g.SetupTokenID = rec.ID
		if err := insertGateway(tx, g); err != nil {
			return err
		}
		sys := Principal{TeamID: team.ID, system: true}
		return e.audit(tx, sys, AuditGatewaySetupToken, "gateway", g.ID, "success", "registered with setup token "+rec.ID)
	})
	if err != nil {
		return Gateway{}, err
	}
	return gatewayOf(g), nil
}
