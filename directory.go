package opa

import (
	"context"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// DirectoryResolver returns the directory behind a connection of a team; see package directory.
// The engine always names the team the connection belongs to, and a resolver serves a team only
// its own directories.
type DirectoryResolver = directory.Resolver

// directoryFor opens the connection's directory through the engine's resolver, for the team the
// connection belongs to. The service account password is opened only here and handed to the
// resolver, never logged.
func (e *Engine) directoryFor(ctx context.Context, conn *storage.Connection) (directory.Directory, error) {
	if e.resolver == nil {
		return nil, unavailablef("there are no connected agents for the AD connection %s", conn.ID)
	}
	var team *storage.Team
	if err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		team, err = storage.Teams.Get(tx, conn.TeamID)
		return err
	}); err != nil {
		return nil, wrapNotFound(err, "the team of AD connection %s does not exist", conn.ID)
	}
	dc := directory.Connection{
		ID:                     conn.ID,
		Domain:                 conn.Domain,
		AppInstanceID:          conn.AppInstanceID,
		DomainControllers:      append([]string(nil), conn.DomainControllers...),
		ServiceAccountUsername: conn.ServiceAccountUsername,
	}
	if len(conn.ServiceAccountPassword) > 0 {
		pw, err := e.seal.open(conn.ServiceAccountPassword, purposeServiceAccountPassword, conn.ID)
		if err != nil {
			return nil, err
		}
		dc.ServiceAccountPassword = pw
	}
	return e.resolver.Directory(ctx, directory.Team{ID: team.ID, Name: team.Name}, dc)
}

// verifyServiceAccount checks the service account of conn (as it is about to be stored) against
// its directory, before a connection is created or its directory settings change. It returns nil
// when the directory accepts the credentials, and also when no directory answers (ErrUnavailable
// or ErrTimeout: no agent of the team serves the domain yet, or the domain controllers are down),
// so that a connection can be configured before its agent is up (docs/wire.md#connections); every
// later directory operation binds again and fails as the directory does. A refusal is ErrInvalid
// naming the username, never the password. The store is not touched.
func (e *Engine) verifyServiceAccount(ctx context.Context, conn *storage.Connection) error {
	if e.resolver == nil {
		return nil
	}
	dir, err := e.directoryFor(ctx, conn)
	if err == nil {
		err = dir.Authenticate(ctx)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrCredentials):
		return errors.WithHint(invalidf("the directory of domain %s refused the service account %q: check service_account_username and service_account_password",
			conn.Domain, conn.ServiceAccountUsername), "the password is the one the directory holds for that account")
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		e.log.Info("AD connection saved without checking its service account: no directory answered",
			"connection_id", conn.ID, "domain", conn.Domain, "error_class", ErrorClass(err))
		return nil
	}
	return err
}
