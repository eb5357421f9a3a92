package opa

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// ServiceKey describes a key of a service user, without its secret (only a hash of it is kept).
// ExpiresAt and LastUsedAt are zero when the key does not expire or was never used.
type ServiceKey struct {
	ID         string    `json:"id"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used,omitzero"`
}

func serviceKeyOf(k *storage.ServiceKey) ServiceKey {
	return ServiceKey{ID: k.ID, IssuedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt}
}

// CreateServiceUser creates an active service user of p's team with the username. Needs
// pam_admin. Errors: ErrInvalid for a bad username, ErrConflict if a user (of either kind) has it.
func (e *Engine) CreateServiceUser(ctx context.Context, p Principal, username string) (User, error) {
	return e.CreateUser(ctx, p, UserInput{Username: username, ServiceUser: true})
}

// ServiceUserByName returns the service user of p's team with the username, in any status. Needs
// an admin role (see UserByName). ErrNotFound if there is none or it is a human user.
func (e *Engine) ServiceUserByName(ctx context.Context, p Principal, username string) (User, error) {
	u, err := e.UserByName(ctx, p, username)
	if err != nil {
		return User{}, err
	}
	if !u.ServiceUser {
		return User{}, notFoundf("service user %q does not exist", username)
	}
	return u, nil
}

// ServiceKeys returns the keys of a service user (by username), oldest first. Needs pam_admin.
// ErrNotFound for an unknown service user.
func (e *Engine) ServiceKeys(ctx context.Context, p Principal, username string) ([]ServiceKey, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return nil, err
	}
	out := []ServiceKey{}
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		u, err := e.teamServiceUser(tx, p, username)
		if err != nil {
			return err
		}
		ks, err := storage.ServiceKeys.List(tx, storage.ServiceKeysByUser, u.ID)
		for _, k := range ks {
			out = append(out, serviceKeyOf(k))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sortByIssue(out)
	return out, nil
}

// CreateServiceKeyByName creates a key for a service user (by username): CreateServiceKey. The
// user's other keys stay valid (decided here: docs/wire.md#users). Needs pam_admin.
// ErrNotFound for an unknown service user; ErrInvalid for a deleted one.
func (e *Engine) CreateServiceKeyByName(ctx context.Context, p Principal, username string) (ServiceKeyCredentials, ServiceKey, error) {
	if err := p.require(RolePAMAdmin); err != nil {
		return ServiceKeyCredentials{}, ServiceKey{}, err
	}
	var id string
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		u, err := e.teamServiceUser(tx, p, username)
		if err != nil {
			return err
		}
		if u.Status == UserDeleted {
			return invalidf("service user %q is deleted", username)
		}
		id = u.ID
		return nil
	})
	if err != nil {
		return ServiceKeyCredentials{}, ServiceKey{}, err
	}
	creds, err := e.CreateServiceKey(ctx, p, id)
	if err != nil {
		return ServiceKeyCredentials{}, ServiceKey{}, err
	}
	var k ServiceKey
	err = e.store.View(ctx, func(tx storage.ReadTx) error {
		sk, err := storage.ServiceKeys.Get(tx, creds.KeyID)
		if err == nil {
			k = serviceKeyOf(sk)
		}
		return err
	})
	return creds, k, err
}

// DeleteServiceKey deletes a key of a service user (by username), and the bearer tokens issued
// for it. Needs pam_admin. ErrNotFound for an unknown service user or a key that is not its own.
func (e *Engine) DeleteServiceKey(ctx context.Context, p Principal, username, keyID string) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		u, err := e.teamServiceUser(tx, p, username)
		if err != nil {
			return err
		}
		k, err := storage.ServiceKeys.Get(tx, keyID)
		if err != nil || k.UserID != u.ID {
			return notFoundf("service user %q has no key %q", username, keyID)
		}
		toks, err := storage.Tokens.List(tx, storage.TokensByUser, u.ID)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if t.KeyID == keyID {
				if err := storage.Tokens.Delete(tx, t.ID); err != nil {
					return err
				}
			}
		}
		return storage.ServiceKeys.Delete(tx, keyID)
	})
}

func (e *Engine) teamServiceUser(tx storage.ReadTx, p Principal, username string) (*storage.User, error) {
	u, err := e.teamUserByName(tx, p, username)
	if err != nil {
		return nil, err
	}
	if !u.ServiceUser {
		return nil, notFoundf("service user %q does not exist", username)
	}
	return u, nil
}

func sortByIssue(ks []ServiceKey) {
	slices.SortFunc(ks, func(a, b ServiceKey) int {
		if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
