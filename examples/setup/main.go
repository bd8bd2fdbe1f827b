// Command setup is the README's one-call set-up: the durable audit
// pipeline (journal, Postgres, ClickHouse), configured by environment
// variables.
//
//	OTELAUDIT_JOURNAL_DIR=/var/lib/billing/audit \
//	OTELAUDIT_POSTGRES_DSN=postgres://billing@db/app \
//	OTELAUDIT_CLICKHOUSE_DSN=clickhouse://billing@analytics:9000/audit \
//	OTEL_SERVICE_NAME=billing go run ./examples/setup
//
// The tables are migrated beforehand, as in the quick start.
package main

import (
	"context"
	"errors"
	"log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/pipeline"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) (err error) {
	// Journal, stores and LoggerProvider, from the OTELAUDIT_* and OTEL_* variables.
	audit, shutdown, err := pipeline.Setup(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, shutdown(context.WithoutCancel(ctx))) }()

	audit.Login(ctx, otelaudit.Actor{UserID: "u_42", WorkspaceID: "ws_7"})
	return nil
}
