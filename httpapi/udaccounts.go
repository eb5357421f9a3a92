package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
)

// Okta Universal Directory accounts, project checkout and password settings and the vault JWKS
// that UD rotations encrypt new passwords to (docs/wire.md#ud-accounts, #project-settings).

func udID(r *http.Request) string { return r.PathValue("okta_universal_directory_account_id") }

func allUDAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.AllUDAccounts(r.Context(), p, r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func resourceGroupUDAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.ResourceGroupUDAccounts(r.Context(), p, r.PathValue("resource_group_id"), r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func projectUDAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.ProjectUDAccounts(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func projectUDAccount(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	a, err := e.ProjectUDAccount(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), udID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, a)
	return nil
}

func endUserUDAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.UDAccountsEndUser(r.Context(), p, r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func endUserUDAccount(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	a, err := e.UDAccountEndUser(r.Context(), p, udID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, a)
	return nil
}

func udAccountUAMs(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	ms, err := e.UDAccountUAMs(r.Context(), p, udID(r))
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []opa.UserAccessMethod{}
	}
	encode(w, http.StatusOK, list[opa.UserAccessMethod]{List: ms})
	return nil
}

func revealUDAccountPassword(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	body, err := readBody(r, opa.MaxRevealRequestBytes)
	if err != nil {
		return err
	}
	req, err := decodeRevealRequest(body)
	if err != nil {
		return err
	}
	res, err := e.RevealUDAccountPassword(r.Context(), p, udID(r), req)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, res)
	return nil
}

func rotateUDAccountPassword(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req rotateRequestBody
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.RotateUDAccountPassword(r.Context(), p, udID(r), opa.RotateRequest(req)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// vaultJWKS is GET /v1/teams/{team_name}/vault/jwks.json: {"keys":[public JWK]}.
func vaultJWKS(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	b, err := e.VaultJWKS(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// getCheckoutSettings and the three below serve one kind (opa.SettingsAD or SettingsUD) of project
// settings.
func getCheckoutSettings(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
		s, err := e.ProjectCheckoutSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), kind)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s)
		return nil
	}
}

func putCheckoutSettings(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
		var in opa.ProjectCheckoutSettings
		if err := requireBody(r, &in); err != nil {
			return err
		}
		if _, err := e.UpdateProjectCheckoutSettings(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), kind, in); err != nil {
			return err
		}
		noContent(w)
		return nil
	}
}

func getPasswordSettings(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
		s, err := e.ProjectPasswordPolicy(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), kind)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s)
		return nil
	}
}

func putPasswordSettings(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
		var in opa.ProjectPasswordPolicy
		if err := requireBody(r, &in); err != nil {
			return err
		}
		s, err := e.UpdateProjectPasswordPolicy(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), kind, in)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s) // the SDK's Update…PasswordPolicy… methods return the policy
		return nil
	}
}
