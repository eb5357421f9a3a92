package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// setupTokenDetails is the SDK's GatewaySetupTokenDetails: a oneOf whose discriminator key is
// "Type" (not "_type"), with the one variant GatewayAgent (docs/wire.md#gateways).
type setupTokenDetails struct {
	Type   string            `json:"Type"`
	Labels map[string]string `json:"labels"`
}

// setupTokenWire is a gateway setup token as both clients read it: TF's GatewaySetupToken
// (pointers, details.labels) and the SDK's (description nullable, details by "Type"). Token is
// only in the answers of create and of the …/token route.
type setupTokenWire struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description"`
	RegistrationType string            `json:"registration_type"`
	Details          setupTokenDetails `json:"details"`
	CreatedAt        time.Time         `json:"created_at"`
	Token            string            `json:"token,omitempty"`
}

func setupTokenToWire(t opa.GatewaySetupToken) setupTokenWire {
	return setupTokenWire{ID: t.ID, Name: t.Name, Description: t.Description, RegistrationType: t.RegistrationType,
		Details: setupTokenDetails{Type: opa.RegistrationGatewayAgent, Labels: t.Labels}, CreatedAt: t.CreatedAt, Token: t.Token}
}

// createSetupToken: POST …/gateway_setup_tokens {"name"?, "description", "registration_type",
// "details":{"labels"}} answers 201 with the token and its value (TF requires 201 and reads the
// id; the SDK decodes a GatewaySetupToken). null description and details are empty; details.Type,
// when given, must be gateway-agent (or the SDK's model name GatewayAgent); an
// infrastructure_orchestrator is refused, as the fake has none.
func createSetupToken(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Name             *string `json:"name"`
		Description      *string `json:"description"`
		RegistrationType *string `json:"registration_type"`
		Details          *struct {
			Type                       *string           `json:"Type"`
			Labels                     map[string]string `json:"labels"`
			InfrastructureOrchestrator json.RawMessage   `json:"infrastructure_orchestrator"`
		} `json:"details"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	var ti opa.GatewaySetupTokenInput
	if in.Name != nil {
		ti.Name = *in.Name
	}
	if in.Description != nil {
		ti.Description = *in.Description
	}
	if in.RegistrationType != nil {
		ti.RegistrationType = *in.RegistrationType // "" (the SDK's unset required field) is gateway-agent
	}
	if d := in.Details; d != nil {
		if d.Type != nil && *d.Type != opa.RegistrationGatewayAgent && *d.Type != "GatewayAgent" {
			return errclass.Mark(errclass.Invalid, "details.Type must be %q", opa.RegistrationGatewayAgent)
		}
		if o := bytes.TrimSpace(d.InfrastructureOrchestrator); len(o) > 0 && string(o) != "null" {
			return errclass.Mark(errclass.Invalid, "details.infrastructure_orchestrator is not supported: setup tokens here enroll gateway agents only")
		}
		ti.Labels = d.Labels
	}
	t, err := e.CreateGatewaySetupToken(r.Context(), p, ti)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, setupTokenToWire(t))
	return nil
}

// getSetupToken: GET …/gateway_setup_tokens/{gateway_setup_token_id} answers 200 with the token
// without its value (404 when there is none, which TF reads as gone).
func getSetupToken(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	t, err := e.GatewaySetupToken(r.Context(), p, r.PathValue("gateway_setup_token_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, setupTokenToWire(t))
	return nil
}

// getSetupTokenValue: GET …/gateway_setup_tokens/{id}/token answers 200 with the token and its
// value: TF reads only "token", the SDK (FetchGatewaySetupTokenAsAgentToken) a whole
// GatewaySetupToken, so the body is both.
func getSetupTokenValue(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	t, err := e.GatewaySetupTokenValue(r.Context(), p, r.PathValue("gateway_setup_token_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, setupTokenToWire(t))
	return nil
}

// deleteSetupToken: DELETE …/gateway_setup_tokens/{id} answers 204 (TF requires it).
func deleteSetupToken(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteGatewaySetupToken(r.Context(), p, r.PathValue("gateway_setup_token_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listSetupTokens: GET …/gateway_setup_tokens with the SDK's paging parameters answers
// {"list":[…]} without the values (TF filters by description itself and fetches each value).
func listSetupTokens(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ListGatewaySetupTokens(r.Context(), p, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, setupTokenToWire))
	return nil
}
