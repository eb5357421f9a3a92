package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
)

// sudoBundleBody is the SDK's SudoCommandBundle as a request: the provider sends "id": "" on
// create and null for the options it leaves unset; id and the read-only fields are ignored
// (docs/wire.md#sudo-command-bundles).
type sudoBundleBody struct {
	Name               string            `json:"name"`
	Description        string            `json:"description"`
	RunAs              *string           `json:"run_as"`
	NoPasswd           *bool             `json:"no_passwd"`
	NoExec             *bool             `json:"no_exec"`
	SetEnv             *bool             `json:"set_env"`
	AddEnv             []string          `json:"add_env"`
	SubEnv             []string          `json:"sub_env"`
	StructuredCommands []opa.SudoCommand `json:"structured_commands"`
}

func (b sudoBundleBody) input() opa.SudoCommandBundleInput {
	in := opa.SudoCommandBundleInput{Name: b.Name, Description: b.Description, RunAs: b.RunAs, NoPasswd: b.NoPasswd,
		NoExec: b.NoExec, SetEnv: b.SetEnv, AddEnv: b.AddEnv, SubEnv: b.SubEnv}
	for _, c := range b.StructuredCommands {
		c.RenderedCommand = "" // output only
		in.StructuredCommands = append(in.StructuredCommands, c)
	}
	return in
}

// createSudoBundle: POST …/sudo_command_bundles answers 201 with the bundle (the provider takes
// its id).
func createSudoBundle(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in sudoBundleBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	b, err := e.CreateSudoCommandBundle(r.Context(), p, in.input())
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, b)
	return nil
}

func getSudoBundle(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	b, err := e.SudoCommandBundle(r.Context(), p, r.PathValue("sudo_command_bundle_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, b)
	return nil
}

// updateSudoBundle: PUT …/sudo_command_bundles/{id} replaces the bundle and answers 204 (the SDK
// operation returns no model).
func updateSudoBundle(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in sudoBundleBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateSudoCommandBundle(r.Context(), p, r.PathValue("sudo_command_bundle_id"), in.input()); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteSudoBundle(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteSudoCommandBundle(r.Context(), p, r.PathValue("sudo_command_bundle_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listSudoBundles: GET …/sudo_command_bundles with contains and the paging parameters.
func listSudoBundles(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ListSudoCommandBundles(r.Context(), p, r.URL.Query().Get("contains"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}
