package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// userWire is the User of the SDK and TF (docs/wire.md#users): user_type "human" or "service";
// deleted_at only for a deleted user; no server_user_name (TF expects it absent); details only for
// a human user with a name or email.
type userWire struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	TeamName  string       `json:"team_name"`
	Status    string       `json:"status"`
	UserType  string       `json:"user_type"`
	DeletedAt *time.Time   `json:"deleted_at,omitempty"`
	Details   *userDetails `json:"details,omitempty"`
}

type userDetails struct {
	Email     string `json:"email,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	FullName  string `json:"full_name,omitempty"`
}

func userToWire(u opa.User, team string) userWire {
	out := userWire{ID: u.ID, Name: u.Username, TeamName: team, Status: u.Status, UserType: "human"}
	if u.ServiceUser {
		out.UserType = "service"
	}
	if !u.DeletedAt.IsZero() {
		t := u.DeletedAt
		out.DeletedAt = &t
	}
	if !u.ServiceUser && (u.Email != "" || u.FirstName != "" || u.LastName != "" || u.DisplayName != "") {
		out.Details = &userDetails{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, FullName: u.DisplayName}
	}
	return out
}

// userFilter reads contains, starts_with, status (repeated: ACTIVE, DISABLED, DELETED), user_type
// (human or service) and include_service_users from the query.
func userFilter(r *http.Request) (opa.UserFilter, error) {
	q := r.URL.Query()
	f := opa.UserFilter{Contains: q.Get("contains"), StartsWith: q.Get("starts_with"), IDs: q["id"]}
	for _, s := range q["status"] {
		if s != opa.UserActive && s != opa.UserDisabled && s != opa.UserDeleted {
			return f, errclass.Mark(errclass.Invalid, "status must be ACTIVE, DISABLED or DELETED")
		}
		f.Statuses = append(f.Statuses, s)
	}
	switch q.Get("user_type") {
	case "":
	case "human":
		f.Humans = true
	case "service":
		f.Services = true
	default:
		return f, errclass.Mark(errclass.Invalid, "user_type must be human or service")
	}
	if _, err := queryBool(r, "include_service_users"); err != nil {
		return f, err
	}
	return f, nil
}

// listUsers: GET …/users; service users only with include_service_users=true (SDK parameter).
func listUsers(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	return writeUsers(w, r, e, p, false)
}

// listServiceUsers: GET …/service_users lists service users only.
func listServiceUsers(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	return writeUsers(w, r, e, p, true)
}

func writeUsers(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal, service bool) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	f, err := userFilter(r)
	if err != nil {
		return err
	}
	withServices, _ := queryBool(r, "include_service_users")
	switch {
	case service:
		f.Humans, f.Services = false, true
	case !withServices && !f.Services:
		f.Humans = true
	}
	page, err := e.ListUsers(r.Context(), p, f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(u opa.User) userWire { return userToWire(u, p.TeamName) }))
	return nil
}

func getUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	u, err := e.UserByName(r.Context(), p, r.PathValue("user_name"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, userToWire(u, p.TeamName))
	return nil
}

// getUserByID: GET …/users_by_id/{user_id} (SDK GetUserByID).
func getUserByID(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	u, err := e.User(r.Context(), p, r.PathValue("user_id"))
	if err != nil {
		return err
	}
	if u.Username != p.Username {
		// The same rule as by name: admins, or the user itself.
		if _, err := e.UserByName(r.Context(), p, u.Username); err != nil {
			return err
		}
	}
	encode(w, http.StatusOK, userToWire(u, p.TeamName))
	return nil
}

func updateUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	return putUserStatus(w, r, e, p, false)
}

func updateServiceUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	return putUserStatus(w, r, e, p, true)
}

// putUserStatus: PUT …/users/{user_name} and …/service_users/{user_name} with {"name","status"}
// (TF also sends id, team_name and user_type, often null; they are ignored) answer 200 with the
// user. A name other than the path's is refused: users are not renamed here.
func putUserStatus(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal, service bool) error {
	var in struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	name := r.PathValue("user_name")
	if in.Name != "" && !strings.EqualFold(in.Name, name) {
		return errclass.Mark(errclass.Invalid, "name must be the user's name %q: users cannot be renamed", name)
	}
	if in.Status == "" {
		return errclass.Mark(errclass.Invalid, "status is required")
	}
	u, err := e.SetUserStatusByName(r.Context(), p, name, service, in.Status)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, userToWire(u, p.TeamName))
	return nil
}

// createServiceUser: POST …/service_users {"name"} answers 201 with the user.
func createServiceUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	u, err := e.CreateServiceUser(r.Context(), p, in.Name)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, userToWire(u, p.TeamName))
	return nil
}

func getServiceUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	u, err := e.ServiceUserByName(r.Context(), p, r.PathValue("user_name"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, userToWire(u, p.TeamName))
	return nil
}

// serviceKeyWire is ServiceUserKey (and, with the secret, ServiceUserKeyWithSecret) of the SDK:
// timestamps are RFC 3339 or null, never "".
type serviceKeyWire struct {
	ID        string     `json:"id"`
	Secret    string     `json:"secret,omitempty"`
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	LastUsed  *time.Time `json:"last_used"`
}

func serviceKeyToWire(k opa.ServiceKey) serviceKeyWire {
	out := serviceKeyWire{ID: k.ID, IssuedAt: k.IssuedAt}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		out.LastUsed = &t
	}
	return out
}

func listServiceKeys(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	ks, err := e.ServiceKeys(r.Context(), p, r.PathValue("user_name"))
	if err != nil {
		return err
	}
	page := paginate(ks, func(k opa.ServiceKey) string { return k.ID }, pr)
	writePage(w, r, mapPage(page, serviceKeyToWire))
	return nil
}

// createServiceKey: POST …/service_users/{user_name}/keys (no body) answers 201 with the key and
// its secret, shown this once.
func createServiceKey(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	creds, k, err := e.CreateServiceKeyByName(r.Context(), p, r.PathValue("user_name"))
	if err != nil {
		return err
	}
	out := serviceKeyToWire(k)
	out.Secret = creds.KeySecret
	encode(w, http.StatusCreated, out)
	return nil
}

func deleteServiceKey(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteServiceKey(r.Context(), p, r.PathValue("user_name"), r.PathValue("key_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
