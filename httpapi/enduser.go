package httpapi

import (
	"io"
	"net/http"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// End-user AD views, reveal and rotate, checkout and check-in (docs/wire.md#accounts, #reveal,
// #rotation, #checkout).
// What an end user cannot see is 404, never 403.

func listDomains(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ds, err := e.ADDomains(r.Context(), p, opa.DomainFilter{Domain: q.Get("domain"), Contains: q.Get("contains")}, pr)
	if err != nil {
		return err
	}
	writePage(w, r, ds)
	return nil
}

func getDomain(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	d, err := e.ADDomain(r.Context(), p, connID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, d)
	return nil
}

func listEndUserAccounts(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	as, err := e.ADAccountsEndUser(r.Context(), p, connID(r), r.URL.Query().Get("account_name"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, as)
	return nil
}

func getEndUserAccount(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	a, err := e.ADAccountEndUser(r.Context(), p, connID(r), accountID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, a)
	return nil
}

func listAccountUAMs(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	ms, err := e.ADAccountUAMs(r.Context(), p, connID(r), accountID(r), r.URL.Query().Get("privilege_type"))
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []opa.UserAccessMethod{}
	}
	encode(w, http.StatusOK, list[opa.UserAccessMethod]{List: ms})
	return nil
}

// readBody reads a body of at most limit bytes; ErrInvalid when larger.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return nil, errclass.Mark(errclass.Invalid, "the request body is larger than %d bytes or could not be read", limit)
	}
	return b, nil
}

func revealAccountPassword(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	body, err := readBody(r, opa.MaxRevealRequestBytes)
	if err != nil {
		return err
	}
	req, err := decodeRevealRequest(body)
	if err != nil {
		return err
	}
	res, err := e.RevealADAccountPassword(r.Context(), p, connID(r), accountID(r), req)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, res)
	return nil
}

func rotateAccountPassword(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req rotateRequestBody
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.RotateADAccountPassword(r.Context(), p, connID(r), accountID(r), opa.RotateRequest(req)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func checkinSelf(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req opa.CheckinRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.CheckInResource(r.Context(), p, req); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func checkinAdmin(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req opa.CheckinRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.AdminCheckInResource(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), req); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func rotateResource(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var req opa.CheckinRequest
	if err := requireBody(r, &req); err != nil {
		return err
	}
	if err := e.AdminRotateResource(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), req); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func checkedOutFilter(r *http.Request) (opa.CheckedOutFilter, error) {
	incl, err := queryBool(r, "include_pending_checkin")
	if err != nil {
		return opa.CheckedOutFilter{}, err
	}
	q := r.URL.Query()
	return opa.CheckedOutFilter{ResourceType: q.Get("resource_type"), Contains: q.Get("contains"), IncludeCheckedIn: incl}, nil
}

func checkedOutSelf(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	f, err := checkedOutFilter(r)
	if err != nil {
		return err
	}
	page, err := e.CheckedOutResources(r.Context(), p, f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func checkedOutProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	f, err := checkedOutFilter(r)
	if err != nil {
		return err
	}
	page, err := e.ProjectCheckedOutResources(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}
