package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// listGateways: GET …/gateways with contains (a case-insensitive substring of the name, applied
// before paging; the provider does not filter again) and the SDK's paging parameters. The body
// is {"list":[Gateway…]} with every field of the provider's Gateway struct present
// (docs/wire.md#gateways).
func listGateways(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ListGateways(r.Context(), p, opa.GatewayFilter{Contains: r.URL.Query().Get("contains")}, pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

// getGateway: GET …/gateways/{gateway_id} answers 200 with the gateway, the list's body (a
// superset of the SDK's GatewayAgent).
func getGateway(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	g, err := e.Gateway(r.Context(), p, r.PathValue("gateway_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, g)
	return nil
}

// updateGateway: PUT …/gateways/{gateway_id} with the SDK's GatewayAgent {"labels",
// "infrastructure_orchestrator"} replaces the labels when "labels" is given (absent or null:
// unchanged) and answers 204, the SDK operation having no model. A non-null
// infrastructure_orchestrator is 400: the fake has none.
func updateGateway(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Labels                     *map[string]string `json:"labels"`
		InfrastructureOrchestrator json.RawMessage    `json:"infrastructure_orchestrator"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if o := bytes.TrimSpace(in.InfrastructureOrchestrator); len(o) > 0 && string(o) != "null" {
		return errclass.Mark(errclass.Invalid, "infrastructure_orchestrator is not supported: gateways here are gateway agents only")
	}
	id := r.PathValue("gateway_id")
	if in.Labels == nil {
		// No change, but the same checks as one.
		g, err := e.Gateway(r.Context(), p, id)
		if err != nil {
			return err
		}
		in.Labels = &g.Labels
	}
	if err := e.SetGatewayLabels(r.Context(), p, id, *in.Labels); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// deleteGateway: DELETE …/gateways/{gateway_id} answers 204; 409 while an AD connection uses it.
func deleteGateway(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteGateway(r.Context(), p, r.PathValue("gateway_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// gatewayStatusWire is the SDK's GatewayStatusReport: the counts always present, status null
// when none was reported.
type gatewayStatusWire struct {
	ActiveConnections int     `json:"active_connections"`
	GatewayID         string  `json:"gateway_id"`
	Status            *string `json:"status"`
	TotalStorageBytes int64   `json:"total_storage_bytes"`
	UsedStorageBytes  int64   `json:"used_storage_bytes"`
}

// gatewayStatus: GET …/gateways/{gateway_id}/status answers 200 with the status report.
func gatewayStatus(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	s, err := e.GatewayStatus(r.Context(), p, r.PathValue("gateway_id"))
	if err != nil {
		return err
	}
	out := gatewayStatusWire{ActiveConnections: s.ActiveConnections, GatewayID: s.GatewayID,
		TotalStorageBytes: s.TotalStorageBytes, UsedStorageBytes: s.UsedStorageBytes}
	if s.Status != "" {
		out.Status = &s.Status
	}
	encode(w, http.StatusOK, out)
	return nil
}

// registerGateway: POST /_fake/gateways {"setup_token", "name", "access_address",
// "default_address", "description", "cloud_provider", "refuse_connections", "labels"} registers a
// gateway agent with a setup token's value, as the agent does when it starts (the enrollment
// protocol is not public, so this control stands in for it), and answers 201 with the gateway
// (the GET body). A bad value is 401; it is never repeated (docs/wire.md#controls).
func (h *Handler) registerGateway(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		SetupToken        string            `json:"setup_token"`
		Name              string            `json:"name"`
		AccessAddress     string            `json:"access_address"`
		DefaultAddress    string            `json:"default_address"`
		Description       string            `json:"description"`
		CloudProvider     string            `json:"cloud_provider"`
		RefuseConnections bool              `json:"refuse_connections"`
		Labels            map[string]string `json:"labels"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if in.SetupToken == "" {
		return errclass.Mark(errclass.Invalid, "setup_token is required")
	}
	g, err := h.Engine().RegisterGateway(r.Context(), in.SetupToken, opa.GatewayInput{Name: in.Name,
		AccessAddress: in.AccessAddress, DefaultAddress: in.DefaultAddress, Description: in.Description,
		CloudProvider: in.CloudProvider, RefuseConnections: in.RefuseConnections, Labels: in.Labels})
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, g)
	return nil
}
