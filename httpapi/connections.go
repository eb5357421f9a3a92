package httpapi

import (
	"net/http"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// serviceTokenRequest is the body of POST /v1/teams/{team_name}/service_token.
type serviceTokenRequest struct {
	KeyID     string `json:"key_id"`
	KeySecret string `json:"key_secret"`
}

// serviceTokenResponse is its answer.
type serviceTokenResponse struct {
	BearerToken string    `json:"bearer_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	TeamName    string    `json:"team_name"`
}

func serviceToken(w http.ResponseWriter, r *http.Request, e *opa.Engine) error {
	var req serviceTokenRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if req.KeyID == "" || req.KeySecret == "" {
		return errclass.Mark(errclass.Invalid, "key_id and key_secret are required")
	}
	tok, err := e.IssueToken(r.Context(), r.PathValue("team_name"), req.KeyID, req.KeySecret)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, serviceTokenResponse{BearerToken: tok.BearerToken, ExpiresAt: tok.ExpiresAt.UTC(), TeamName: tok.TeamName})
	return nil
}

// currentUserResponse is the body of GET /v1/teams/{team_name}/current_user.
type currentUserResponse struct {
	TeamName string `json:"team_name"`
	Name     string `json:"name"`
	ID       string `json:"id"`
}

func currentUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	encode(w, http.StatusOK, currentUserResponse{TeamName: p.TeamName, Name: p.Username, ID: p.UserID})
	return nil
}

func notFoundRoute(w http.ResponseWriter, r *http.Request, e *opa.Engine) error {
	return errclass.Mark(errclass.NotFound, "no such route: %s %s", r.Method, r.URL.Path)
}

func notFoundRoute2(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	return notFoundRoute(w, r, e)
}

func listOPAConnections(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.OPAConnections(r.Context(), p, pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func getOPAConnection(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	c, err := e.OPAConnection(r.Context(), p, r.PathValue("ad_connection_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, c)
	return nil
}

// statusRequest is the body of PUT …/connections/active_directory/{id}/status.
type statusRequest struct {
	Status string `json:"status"`
}

func updateConnectionStatus(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req statusRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.UpdateConnectionStatus(r.Context(), p, r.PathValue("ad_connection_id"), req.Status); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func listADConnections(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	// gateway_id and certificate_id filter before paging; include_certificate_details /
	// include_cert_details are accepted and change nothing (docs/wire.md#connections).
	q := r.URL.Query()
	page, err := e.ADConnectionsWhere(r.Context(), p, opa.ADConnectionFilter{GatewayID: q.Get("gateway_id"), CertificateID: q.Get("certificate_id")}, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(c opa.ADConnection) adConnectionListed {
		return adConnectionListed{ID: c.ID, Name: c.Name, GatewayID: c.GatewayID, Domain: c.Domain, DomainControllers: c.DomainControllers,
			CertificateID: c.CertificateID}
	}))
	return nil
}

// adConnectionListed is a list item (ListADConnectionResponse): only the id, name, gateway, domain
// and domain controllers. Okta's Terraform provider copies every field of its connection struct
// that a list item carries into its oktapam_ad_connections data source, whose schema has no
// service account, so a list item that names the service account fails that data source
// (docs/wire.md#connections).
type adConnectionListed struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	GatewayID         string   `json:"gateway_id"`
	Domain            string   `json:"domain"`
	DomainControllers []string `json:"domain_controllers"`
	CertificateID     string   `json:"certificate_id,omitempty"`
}

// adConnectionCreated is the create response (ADConnection): no gateway_name, no password.
type adConnectionCreated struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	GatewayID              string   `json:"gateway_id"`
	Domain                 string   `json:"domain"`
	ServiceAccountUsername string   `json:"service_account_username"`
	DomainControllers      []string `json:"domain_controllers"`
	UsePasswordless        bool     `json:"use_passwordless"`
	CertificateID          string   `json:"certificate_id,omitempty"`
}

func createADConnection(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.ADConnectionInput
	if err := requireBody(r, &in); err != nil {
		return err
	}
	c, err := e.CreateADConnection(r.Context(), p, in)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, adConnectionCreated{ID: c.ID, Name: c.Name, GatewayID: c.GatewayID, Domain: c.Domain,
		ServiceAccountUsername: c.ServiceAccountUsername, DomainControllers: c.DomainControllers,
		UsePasswordless: c.UsePasswordless, CertificateID: c.CertificateID})
	return nil
}

func getADConnection(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	c, err := e.ADConnection(r.Context(), p, r.PathValue("ad_connection_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, c)
	return nil
}

func updateADConnection(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.ADConnectionInput
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if err := e.UpdateADConnection(r.Context(), p, r.PathValue("ad_connection_id"), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteADConnection(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteADConnection(r.Context(), p, r.PathValue("ad_connection_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
