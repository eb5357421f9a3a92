package httpapi

// routes registers every route. Paths and methods are the real API's (see
// /work/shared/reference/okta-api.md sections 1–6); the handlers live in one file per noun.
func (h *Handler) routes() {
	m := h.mux
	const team = "/v1/teams/{team_name}"

	// Authentication (section 6.1).
	m.Handle("POST "+team+"/service_token", h.public(serviceToken))
	m.Handle("GET "+team+"/current_user", h.v1(currentUser))

	// OPA Active Directory connections (section 1).
	m.Handle("GET "+team+"/connections/active_directory", h.v1(listOPAConnections))
	m.Handle("GET "+team+"/connections/active_directory/{ad_connection_id}", h.v1(getOPAConnection))
	m.Handle("PUT "+team+"/connections/active_directory/{ad_connection_id}/status", h.v1(updateConnectionStatus))

	// ASA AD connections (section 2.1).
	m.Handle("GET "+team+"/integrations/ad_connections", h.v1(listADConnections))
	m.Handle("POST "+team+"/integrations/ad_connections", h.v1(createADConnection))
	m.Handle("GET "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(getADConnection))
	m.Handle("PUT "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(updateADConnection))
	m.Handle("DELETE "+team+"/integrations/ad_connections/{ad_connection_id}", h.v1(deleteADConnection))

	// Test-fixture controls.
	if h.controls != nil {
		h.controlRoutes()
	}

	// Anything else under the API prefixes gets the API's own 404 body.
	m.Handle("/v1/", h.public(notFoundRoute))
	m.Handle("/api/v1/", h.okta(notFoundRoute2))
}
