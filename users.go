package opa

import (
	"context"
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// UserFilter selects the users of a list (Engine.ListUsers, GroupMembers; the service users list is
// ListUsers with Services). The zero value selects every user, human or service, in any status.
type UserFilter struct {
	// Contains keeps users whose username contains it; StartsWith, whose username starts with it
	// (both case-insensitive).
	Contains, StartsWith string
	// Statuses, when not empty, keeps users in one of these statuses.
	Statuses []string
	// IDs, when not empty, keeps only the users with these ids.
	IDs []string
	// Humans and Services, when either is set, keep only that kind of user.
	Humans, Services bool
}

func (f UserFilter) keep(u *storage.User) bool {
	name := strings.ToLower(u.Username)
	switch {
	case f.Contains != "" && !strings.Contains(name, strings.ToLower(f.Contains)):
		return false
	case f.StartsWith != "" && !strings.HasPrefix(name, strings.ToLower(f.StartsWith)):
		return false
	case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, u.Status):
		return false
	case len(f.IDs) > 0 && !slices.Contains(f.IDs, u.ID):
		return false
	case f.Humans != f.Services && u.ServiceUser != f.Services:
		return false
	}
	return true
}

// UserByName returns the user of p's team with the username (case-insensitive), in any status.
// Needs an admin role (pam_admin, resource_admin, security_admin or a delegated one), or to be that
// user. ErrNotFound if there is none.
func (e *Engine) UserByName(ctx context.Context, p Principal, username string) (User, error) {
	if err := p.check(); err != nil {
		return User{}, err
	}
	if !strings.EqualFold(p.Username, username) {
		if err := p.requireDirectoryRead(); err != nil {
			return User{}, err
		}
	}
	var u *storage.User
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		u, err = e.teamUserByName(tx, p, username)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return userOf(u), nil
}

// ListUsers returns one page of the users of p's team that f selects, in id order. Cost: a seek
// in the team's users by id plus one page (rangePage): O(log N + k), k the page plus the users f
// refuses between the cursor and the page's end (every filter here is tested during the scan;
// none has an index). Needs an admin role (see UserByName). ErrInvalid for a bad page request.
// Safe for concurrent use.
func (e *Engine) ListUsers(ctx context.Context, p Principal, f UserFilter, page PageRequest) (Page[User], error) {
	if err := p.requireDirectoryRead(); err != nil {
		return Page[User]{}, err
	}
	var out Page[User]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, teamUsers(p.TeamID, f), page, userID, userOf)
		return err
	})
	return out, err
}

// teamUsers is the list of the users of a team that f selects, read from UsersByTeam.
func teamUsers(teamID string, f UserFilter) pageSource[storage.User] {
	return pageSource[storage.User]{table: storage.Users, index: storage.UsersByTeam, args: []string{teamID},
		in: func(u *storage.User) bool { return u.TeamID == teamID }, keep: f.keeper(), borrow: true}
}

// groupUsers is the list of the members of a group that f selects, read from UsersByGroup.
func groupUsers(groupID string, f UserFilter) pageSource[storage.User] {
	return pageSource[storage.User]{table: storage.Users, index: storage.UsersByGroup, args: []string{groupID},
		in: func(u *storage.User) bool { return slices.Contains(u.GroupIDs, groupID) }, keep: f.keeper(), borrow: true}
}

// keeper is f.keep, or nil when f selects every user (so a page reads no record it will not show).
func (f UserFilter) keeper() func(*storage.User) bool {
	if f.Contains == "" && f.StartsWith == "" && len(f.Statuses) == 0 && len(f.IDs) == 0 && f.Humans == f.Services {
		return nil
	}
	return f.keep
}

// userID is a user record's id, its lists' cursor.
func userID(u *storage.User) string { return u.ID }

// userIDOf returns the id of u in a slice, none for nil.
func userIDOf(u *storage.User) []string {
	if u == nil {
		return []string{}
	}
	return []string{u.ID}
}

// SetUserStatusByName sets the status of a user (by username): UserActive, UserDisabled or
// UserDeleted. Deleting is final: the user stays readable with DeletedAt set, its tokens stop
// working, and setting a deleted user DELETED again changes nothing. service says which kind of
// user the caller means (the service_users and users paths); the other kind is not found. Needs
// pam_admin. Errors: ErrInvalid for another status or for reviving a deleted user, ErrNotFound.
// The checkouts of a user disabled or deleted are checked in by the system
// (system_user_lost_access, lostaccess.go).
func (e *Engine) SetUserStatusByName(ctx context.Context, p Principal, username string, service bool, status string) (User, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return User{}, err
	}
	if status != UserActive && status != UserDisabled && status != UserDeleted {
		return User{}, invalidf("status must be %s, %s or %s", UserActive, UserDisabled, UserDeleted)
	}
	var u *storage.User
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		var err error
		if u, err = e.teamUserByName(tx, p, username); err != nil {
			return err
		}
		if u.ServiceUser != service {
			return notFoundf("user %q does not exist", username)
		}
		if u.Status == UserDeleted {
			if status != UserDeleted {
				return invalidf("user %q is deleted", username)
			}
			return nil
		}
		if u.Status == status {
			return nil
		}
		u.Status = status
		if status == UserDeleted {
			u.DeletedAt = e.now()
		}
		return storage.Users.Update(tx, u)
	})
	if err := e.afterUsersChanged(ctx, p.TeamID, userIDOf(u), err); err != nil {
		return User{}, err
	}
	return userOf(u), nil
}

func (e *Engine) teamUserByName(tx storage.ReadTx, p Principal, username string) (*storage.User, error) {
	u, err := storage.Users.First(tx, storage.UsersByUsername, p.TeamID, username)
	if err != nil {
		return nil, wrapNotFound(err, "user %q does not exist", username)
	}
	return u, nil
}
