package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
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
