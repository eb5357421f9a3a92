package opa

import (
	"context"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// DirectoryResolver returns the directory behind a connection; see package directory.
type DirectoryResolver = directory.Resolver

// directoryFor opens the connection's directory through the engine's resolver. The service account
// password is opened only here and handed to the resolver, never logged.
func (e *Engine) directoryFor(ctx context.Context, conn *storage.Connection) (directory.Directory, error) {
	if e.resolver == nil {
		return nil, unavailablef("there are no connected agents for the AD connection %s", conn.ID)
	}
	dc := directory.Connection{
		ID:                     conn.ID,
		TeamID:                 conn.TeamID,
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
	return e.resolver.Directory(ctx, dc)
}
