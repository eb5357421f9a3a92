package opa

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Sudo command types and the argument types of an executable (docs/wire.md#sudo-command-bundles).
const (
	SudoCommandRaw        = "raw"
	SudoCommandExecutable = "executable"
	SudoCommandDirectory  = "directory"
	SudoArgsAny           = "any"
	SudoArgsNone          = "none"
	SudoArgsCustom        = "custom"
)

// SudoCommand is one command of a sudo command bundle: a raw sudoers command, an executable
// (an absolute path, with any, no or custom arguments) or a directory (an absolute path ending in
// "/", every command in it). RenderedCommand, on output only, is the command as a sudoers line
// spells it.
type SudoCommand struct {
	Command         string `json:"command"`
	CommandType     string `json:"command_type"`
	ArgsType        string `json:"args_type,omitempty"`
	Args            string `json:"args,omitempty"`
	RenderedCommand string `json:"rendered_command,omitempty"`
}

// SudoCommandBundle is a team's named set of sudo commands and sudo options, which a security
// policy's principal_account_ssh privilege grants (the SDK's SudoCommandBundle). The options are
// nil when unset; CreatedBy and UpdatedBy are usernames.
type SudoCommandBundle struct {
	ID                 string        `json:"id"`
	Name               string        `json:"name"`
	Description        string        `json:"description,omitempty"`
	RunAs              *string       `json:"run_as,omitempty"`
	NoPasswd           *bool         `json:"no_passwd,omitempty"`
	NoExec             *bool         `json:"no_exec,omitempty"`
	SetEnv             *bool         `json:"set_env,omitempty"`
	AddEnv             []string      `json:"add_env,omitempty"`
	SubEnv             []string      `json:"sub_env,omitempty"`
	StructuredCommands []SudoCommand `json:"structured_commands"`
	CreatedAt          time.Time     `json:"created_at"`
	CreatedBy          string        `json:"created_by,omitempty"`
	UpdatedAt          time.Time     `json:"updated_at"`
	UpdatedBy          string        `json:"updated_by,omitempty"`
}

// SudoCommandBundleInput is the whole content of a bundle to create or to replace.
type SudoCommandBundleInput struct {
	Name               string
	Description        string
	RunAs              *string
	NoPasswd           *bool
	NoExec             *bool
	SetEnv             *bool
	AddEnv             []string
	SubEnv             []string
	StructuredCommands []SudoCommand
}

// Limits of a bundle, from the ASA entitlement API that bundles replaced (docs/wire.md).
const (
	maxSudoCommands = 64
	maxSudoText     = 1024
)

var (
	sudoBundleNameRE = regexp.MustCompile(`^[\w\-.]{1,255}$`)
	// sudoRunAsRE: a user name, a #uid, or a %group / %#gid, 1–64 characters.
	sudoRunAsRE = regexp.MustCompile(`^%?(#\d+|[\w\-.]+)$`)
	sudoEnvRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// check validates the input: a name of 1–255 letters, digits, '_', '-' or '.'; a description of
// at most 255 characters; run_as a user, #uid, %group or %#gid of at most 64 characters;
// environment variable names; 1–64 commands of known types, executables and directories absolute
// paths (directories ending in "/"), arguments only on executables with args_type custom.
func (in SudoCommandBundleInput) check() error {
	if !sudoBundleNameRE.MatchString(in.Name) {
		return invalidf("name must be 1-255 letters, digits, '_', '-' or '.'")
	}
	if len(in.Description) > 255 {
		return invalidf("description is longer than 255 characters")
	}
	if in.RunAs != nil && (len(*in.RunAs) > 64 || !sudoRunAsRE.MatchString(*in.RunAs)) {
		return invalidf("run_as must be a user name, #uid, %%group or %%#gid of at most 64 characters")
	}
	for _, env := range [][]string{in.AddEnv, in.SubEnv} {
		for _, v := range env {
			if len(v) > 255 || !sudoEnvRE.MatchString(v) {
				return invalidf("add_env and sub_env hold environment variable names (letters, digits, '_')")
			}
		}
	}
	if len(in.StructuredCommands) == 0 || len(in.StructuredCommands) > maxSudoCommands {
		return invalidf("structured_commands must hold 1-%d commands", maxSudoCommands)
	}
	for i, c := range in.StructuredCommands {
		if err := c.check(); err != nil {
			return invalidf("structured_commands[%d]: %v", i, err)
		}
	}
	return nil
}

func (c SudoCommand) check() error {
	if strings.TrimSpace(c.Command) == "" || len(c.Command) > maxSudoText || len(c.Args) > maxSudoText {
		return invalidf("command is required, and command and args are at most %d characters", maxSudoText)
	}
	if strings.ContainsAny(c.Command+c.Args, "\n\r\x00") {
		return invalidf("command and args are one line")
	}
	switch c.CommandType {
	case SudoCommandRaw:
	case SudoCommandDirectory:
		if !strings.HasPrefix(c.Command, "/") || !strings.HasSuffix(c.Command, "/") {
			return invalidf("a directory command begins and ends with '/'")
		}
	case SudoCommandExecutable:
		if !strings.HasPrefix(c.Command, "/") || strings.HasSuffix(c.Command, "/") {
			return invalidf("an executable command is an absolute path to a file")
		}
		switch c.ArgsType {
		case "", SudoArgsAny, SudoArgsNone:
			if c.Args != "" {
				return invalidf("args go with args_type custom")
			}
		case SudoArgsCustom:
			if c.Args == "" {
				return invalidf("args_type custom needs args")
			}
		default:
			return invalidf("unknown args_type %q (want any, none or custom)", c.ArgsType)
		}
		return nil
	default:
		return invalidf("unknown command_type %q (want raw, executable or directory)", c.CommandType)
	}
	if (c.ArgsType != "" && c.ArgsType != SudoArgsNone) || c.Args != "" {
		return invalidf("only executable commands take arguments")
	}
	return nil
}

// rendered is the command as a sudoers line spells it: an executable with no arguments allowed
// ends in "" (sudoers(5)), one with custom arguments is followed by them.
func (c SudoCommand) rendered() string {
	if c.CommandType != SudoCommandExecutable {
		return c.Command
	}
	switch c.ArgsType {
	case SudoArgsNone:
		return c.Command + ` ""`
	case SudoArgsCustom:
		return c.Command + " " + c.Args
	}
	return c.Command
}

func (in SudoCommandBundleInput) apply(b *storage.SudoBundle) {
	b.Name, b.Description = in.Name, in.Description
	b.RunAs, b.NoPasswd, b.NoExec, b.SetEnv = clonePtr(in.RunAs), clonePtr(in.NoPasswd), clonePtr(in.NoExec), clonePtr(in.SetEnv)
	b.AddEnv, b.SubEnv = slices.Clone(in.AddEnv), slices.Clone(in.SubEnv)
	b.Commands = make([]storage.SudoCommand, len(in.StructuredCommands))
	for i, c := range in.StructuredCommands {
		b.Commands[i] = storage.SudoCommand{Command: c.Command, CommandType: c.CommandType, ArgsType: c.ArgsType, Args: c.Args}
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func sudoBundleOf(b *storage.SudoBundle) SudoCommandBundle {
	out := SudoCommandBundle{ID: b.ID, Name: b.Name, Description: b.Description,
		RunAs: clonePtr(b.RunAs), NoPasswd: clonePtr(b.NoPasswd), NoExec: clonePtr(b.NoExec), SetEnv: clonePtr(b.SetEnv),
		AddEnv: slices.Clone(b.AddEnv), SubEnv: slices.Clone(b.SubEnv), StructuredCommands: make([]SudoCommand, len(b.Commands)),
		CreatedAt: b.CreatedAt, CreatedBy: b.CreatedBy, UpdatedAt: b.UpdatedAt, UpdatedBy: b.UpdatedBy}
	for i, c := range b.Commands {
		sc := SudoCommand{Command: c.Command, CommandType: c.CommandType, ArgsType: c.ArgsType, Args: c.Args}
		sc.RenderedCommand = sc.rendered()
		out.StructuredCommands[i] = sc
	}
	return out
}

// requireSudoBundleRead allows reading sudo command bundles: resource admins, who manage them,
// and security admins (team-wide or delegated), who put them in policies.
func (p Principal) requireSudoBundleRead() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasRole(RoleSecurityAdmin) || p.HasAnyDelegated(RoleSecurityAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin or security_admin role is required")
}

// CreateSudoCommandBundle creates a sudo command bundle in p's team. Needs resource_admin.
// Errors: ErrInvalid for bad input (see SudoCommandBundleInput), ErrConflict when the team has a
// bundle of that name (case-insensitive). Safe for concurrent use.
func (e *Engine) CreateSudoCommandBundle(ctx context.Context, p Principal, in SudoCommandBundleInput) (SudoCommandBundle, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return SudoCommandBundle{}, err
	}
	if err := in.check(); err != nil {
		return SudoCommandBundle{}, err
	}
	now := e.now()
	b := storage.SudoBundle{ID: e.newID(), TeamID: p.TeamID, CreatedAt: now, CreatedBy: p.Username, UpdatedAt: now, UpdatedBy: p.Username}
	in.apply(&b)
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		return wrapConflict(storage.SudoBundles.Insert(tx, &b), "a sudo command bundle named %q already exists", in.Name)
	})
	if err != nil {
		return SudoCommandBundle{}, err
	}
	return sudoBundleOf(&b), nil
}

// SudoCommandBundle returns a bundle of p's team by id. Needs resource_admin or security_admin
// (team-wide or delegated). ErrNotFound for an unknown id. Safe for concurrent use.
func (e *Engine) SudoCommandBundle(ctx context.Context, p Principal, id string) (SudoCommandBundle, error) {
	if err := p.requireSudoBundleRead(); err != nil {
		return SudoCommandBundle{}, err
	}
	var out SudoCommandBundle
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		b, err := teamSudoBundle(tx, p, id)
		if err == nil {
			out = sudoBundleOf(b)
		}
		return err
	})
	return out, err
}

// UpdateSudoCommandBundle replaces the content of a bundle (a full replace: options left out
// become unset) and returns it. Needs resource_admin. Errors: ErrNotFound, ErrInvalid,
// ErrConflict (another bundle has the new name). Safe for concurrent use.
func (e *Engine) UpdateSudoCommandBundle(ctx context.Context, p Principal, id string, in SudoCommandBundleInput) (SudoCommandBundle, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return SudoCommandBundle{}, err
	}
	var out SudoCommandBundle
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		b, err := teamSudoBundle(tx, p, id)
		if err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		in.apply(b)
		b.UpdatedAt, b.UpdatedBy = e.now(), p.Username
		if err := wrapConflict(storage.SudoBundles.Update(tx, b), "a sudo command bundle named %q already exists", in.Name); err != nil {
			return err
		}
		out = sudoBundleOf(b)
		return nil
	})
	return out, err
}

// DeleteSudoCommandBundle deletes a bundle (a hard delete). Needs resource_admin. Errors:
// ErrNotFound; ErrConflict while a security policy grants it (remove it from the policy first;
// decided here: docs/wire.md#sudo-command-bundles). Safe for concurrent use.
func (e *Engine) DeleteSudoCommandBundle(ctx context.Context, p Principal, id string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		b, err := teamSudoBundle(tx, p, id)
		if err != nil {
			return err
		}
		pols, err := storage.Policies.BorrowList(tx, storage.PoliciesByTeam, p.TeamID)
		if err != nil {
			return err
		}
		for _, pol := range pols {
			if policyGrantsSudoBundle(pol, b.ID) {
				return conflictf("sudo command bundle %q is granted by security policy %q", b.Name, pol.Name)
			}
		}
		return storage.SudoBundles.Delete(tx, b.ID)
	})
}

func policyGrantsSudoBundle(pol *storage.Policy, id string) bool {
	for _, r := range pol.Rules {
		for _, o := range r.PrivilegeOptions {
			if slices.Contains(o.SudoBundleIDs, id) {
				return true
			}
		}
	}
	return false
}

// ListSudoCommandBundles returns one page of p's team's bundles in id order, those whose name
// contains contains (case-insensitive) when it is not empty. Cost: O(log N + the bundles the
// page's range read passes). Needs resource_admin or security_admin (team-wide or delegated).
// ErrInvalid for a bad page request. Safe for concurrent use.
func (e *Engine) ListSudoCommandBundles(ctx context.Context, p Principal, contains string, page PageRequest) (Page[SudoCommandBundle], error) {
	if err := p.requireSudoBundleRead(); err != nil {
		return Page[SudoCommandBundle]{}, err
	}
	needle := strings.ToLower(contains)
	src := pageSource[storage.SudoBundle]{table: storage.SudoBundles, index: storage.SudoBundlesByTeam, args: []string{p.TeamID}, borrow: true,
		in:   func(b *storage.SudoBundle) bool { return b.TeamID == p.TeamID },
		keep: func(b *storage.SudoBundle) bool { return strings.Contains(strings.ToLower(b.Name), needle) }}
	var out Page[SudoCommandBundle]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, src, page, func(b *storage.SudoBundle) string { return b.ID }, sudoBundleOf)
		return err
	})
	return out, err
}

// teamSudoBundle returns the bundle of p's team with the id (ErrNotFound otherwise, for another
// team's too).
func teamSudoBundle(tx storage.ReadTx, p Principal, id string) (*storage.SudoBundle, error) {
	b, err := storage.SudoBundles.Get(tx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if err != nil || b.TeamID != p.TeamID {
		return nil, notFoundf("sudo command bundle %q does not exist", id)
	}
	return b, nil
}
