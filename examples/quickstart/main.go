// Command quickstart is the README's quick start: a service that records
// audit events durably into Postgres.
//
//	AUDIT_OWNER_DSN=postgres://owner@db/app AUDIT_WRITER_DSN=postgres://billing@db/app \
//	AUDIT_JOURNAL=/var/lib/billing/audit go run ./examples/quickstart
//
// The owner runs the migrations; the service writes as a login that holds
// only the writer role:
//
//	CREATE ROLE billing LOGIN PASSWORD '...'; GRANT audit_writer TO billing;
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func main() {
	ctx := context.Background()
	err := run(ctx, os.Getenv("AUDIT_OWNER_DSN"), os.Getenv("AUDIT_WRITER_DSN"), os.Getenv("AUDIT_JOURNAL"))
	if err != nil {
		log.Fatal(err)
	}
}

// run is the quick start.
func run(ctx context.Context, ownerDSN, writerDSN, journalDir string) (err error) {
	// At deploy time, as the table's owner: the audit_logs table, its
	// partitions, and a role that may only insert.
	owner, err := pgxpool.New(ctx, ownerDSN)
	if err != nil {
		return err
	}
	schema := pgschema.Options{WriterRole: "audit_writer"}
	_, err = pgschema.Migrate(ctx, owner, schema)
	owner.Close()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	// In the service, as a login holding audit_writer: events go to a
	// journal on local disk first, then to Postgres.
	store, err := postgreslog.Open(ctx, writerDSN, postgreslog.WithSchema(schema))
	if err != nil {
		return err
	}
	proc, err := journal.New(journalDir, []journal.Target{{Name: "postgres", Exporter: store}})
	if err != nil {
		return err
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(proc),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "billing"))),
		sdklog.WithAllowKeyDuplication(), // audit records carry no duplicate keys
	)
	defer func() {
		// Delivers what the journal holds; says what is left for the next start.
		err = errors.Join(err, lp.Shutdown(context.WithoutCancel(ctx)))
	}()
	audit := bridge.New(bridge.WithLoggerProvider(lp))

	ada := otelaudit.Actor{UserID: "u_42", WorkspaceID: "ws_7"}
	audit.Login(ctx, ada) // never blocks on the database, never fails the request
	audit.SettingsChanged(ctx, ada, otelaudit.Resource{Type: "setting", ID: "mfa.required"}, false, true)

	// Where acting unrecorded is worse than failing: wait until the event is durable.
	deletion := otelaudit.Event{Action: otelaudit.ActionDataDeleteRequested, Actor: ada,
		Resource: otelaudit.Resource{Type: "data_deletion", ID: "del_9"}}
	if err := audit.RecordSync(ctx, deletion); err != nil {
		return fmt.Errorf("deletion not recorded, so not started: %w", err)
	}
	return nil
}
