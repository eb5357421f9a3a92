package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// ExampleOpen opens the store of every replica of a service on one database and writes a team.
// The function given to Update may run more than once, so it only reads and writes through tx;
// what to do with the outcome is decided after Update returns.
func ExampleOpen() {
	ctx := context.Background()
	dsn := os.Getenv("OPA_POSTGRES_DSN") // e.g. postgres://opa@db.internal:5432/opa?pool_max_conns=32
	s, err := pgstore.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	if err := createTeam(ctx, s); err != nil {
		log.Print(err)
	}
	if err := s.Close(); err != nil {
		log.Print(err)
	}
}

func createTeam(ctx context.Context, s storage.Storage) error {
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if _, err := storage.Teams.First(tx, storage.TeamsByName, "acme"); err == nil {
			return nil // another replica made it
		}
		return storage.Teams.Insert(tx, &storage.Team{ID: "team-1", Name: "acme"})
	})
	if err != nil {
		return err
	}
	return s.View(ctx, func(tx storage.ReadTx) error {
		t, err := storage.Teams.First(tx, storage.TeamsByName, "ACME")
		if err == nil {
			fmt.Println(t.ID)
		}
		return err
	})
}
