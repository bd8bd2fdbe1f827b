package pipeline_test

import (
	"context"
	"log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/pipeline"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The pipeline of the environment (OTELAUDIT_JOURNAL_DIR,
// OTELAUDIT_POSTGRES_DSN, OTELAUDIT_CLICKHOUSE_DSN, OTEL_SERVICE_NAME),
// with the Postgres table named in code. (Not run: it needs the
// databases.)
func ExampleSetup() {
	ctx := context.Background()
	audit, shutdown, err := pipeline.Setup(ctx,
		pipeline.WithPostgres("", postgreslog.WithSchema(pgschema.Options{Schema: "audit"})))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Print(err) // what is left stays in the journal for the next start
		}
	}()
	audit.Login(ctx, otelaudit.Actor{UserID: "u_42", WorkspaceID: "ws_7"})
}
