package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
)

// Server checkout and server password settings of a project (docs/wire.md#server-settings). The
// checkout PUT answers 204 (the SDK method returns no model); the password PUT answers 200 with
// the stored settings (the provider's client accepts only 200; the SDK decodes a PasswordPolicy).

func getServerCheckoutSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	s, err := e.ServerCheckoutSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s)
	return nil
}

func putServerCheckoutSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.ServerCheckoutSettings
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateServerCheckoutSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func getServerPasswordSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	s, err := e.ServerPasswordSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s)
	return nil
}

func putServerPasswordSettings(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in opa.ServerPasswordSettings
	if err := requireBody(r, &in); err != nil {
		return err
	}
	s, err := e.UpdateServerPasswordSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s)
	return nil
}
