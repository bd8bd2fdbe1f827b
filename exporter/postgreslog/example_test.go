package postgreslog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The whole setup of a service: migrate, export through a BatchProcessor,
// record.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		fmt.Println(err)
		return
	}

	exp, err := postgreslog.New(pool)
	if err != nil {
		fmt.Println(err)
		return
	}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
		sdklog.WithExportMaxBatchSize(8192),
		sdklog.WithMaxQueueSize(65536),
	)))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = provider.Shutdown(ctx) // flushes, then shuts exp down
	}()

	auditor := bridge.New(bridge.WithLoggerProvider(provider))
	auditor.Login(ctx, otelaudit.Actor{UserID: "usr_1", WorkspaceID: "ws_acme"})
}

// A deletion and its audit row, in one transaction: both are stored, or
// neither.
func ExampleTxWriter() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	// Created once, at start, and shared.
	audit, err := postgreslog.NewTxWriter(pool, postgreslog.WithServiceName("documents"))
	if err != nil {
		fmt.Println(err)
		return
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, "doc_42"); err != nil {
			return err
		}
		res, err := audit.Record(ctx, tx, otelaudit.Event{
			Action:   otelaudit.ActionDataDeleteCompleted,
			Actor:    otelaudit.Actor{UserID: "usr_1", WorkspaceID: "ws_acme"},
			Resource: otelaudit.Resource{Type: "document", ID: "doc_42"},
		})
		if err != nil {
			return err // rolls the deletion back
		}
		fmt.Println("audit event", res.EventID, "written:", res.Written)
		return nil
	})
	if errors.Is(err, postgreslog.ErrRejected) {
		fmt.Println("the event was refused; nothing was deleted:", err)
	}
}

// What the error handler receives for a rejected record.
func ExampleRejectError() {
	err := error(&postgreslog.RejectError{
		Exporter: "postgreslog",
		Reason:   auditrow.ReasonTimeOutOfRange,
		EventID:  uuid.MustParse("01900000-0000-7000-8000-000000000001"),
		Err:      errors.New("time 10000-01-01 00:00:00 +0000 UTC outside years 1 to 9999"),
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, postgreslog.ErrRejected))
	// Output:
	// postgreslog: record rejected (time_out_of_range), event id 01900000-0000-7000-8000-000000000001: time 10000-01-01 00:00:00 +0000 UTC outside years 1 to 9999
	// true
}

// A caller that must account for every record of a batch, such as a
// durable processor: the records the exporter refuses for their content go
// to a dead-letter file, and the batch is exported again later when Export
// fails (what got stored meanwhile then counts as AlreadyStored). (Not
// run: it needs a server.)
func ExampleExporter_Export_rejectHook() {
	var exp *postgreslog.Exporter // from postgreslog.New
	var batch []sdklog.Record     // from the processor's queue

	var deadLetter []*auditrow.RejectError
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(re *auditrow.RejectError) {
		deadLetter = append(deadLetter, re) // re.Reason, and re.EventID when the row was mapped
	})
	err := exp.Export(ctx, batch)
	fmt.Printf("%d records for the dead-letter file; export again later: %t\n", len(deadLetter), err != nil)
}
