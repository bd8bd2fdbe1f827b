// Command twostores runs the in-process pipeline on real servers: a service
// records audit events through the bridge, one SDK LoggerProvider journals
// them and delivers them to Postgres (the system of record) and ClickHouse
// (analytics), and the program reads them back from both.
//
//	scripts/with-services.sh go run ./examples/twostores
//
// starts throwaway Postgres and ClickHouse servers, runs this program against
// them and stops them. To run it against your own servers:
//
//	OTELAUDIT_POSTGRES_DSN=postgres://... OTELAUDIT_CLICKHOUSE_DSN=clickhouse://... go run ./examples/twostores
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// env returns the first variable of names that is set.
func env(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	log.Fatalf("set %s (scripts/with-services.sh does it for you)", names[0])
	return ""
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// Connect and migrate both stores.
	pool, err := pgxpool.New(ctx, env("OTELAUDIT_POSTGRES_DSN", "OTELAUDIT_TEST_POSTGRES_DSN"))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		return fmt.Errorf("postgres migrate: %w", err)
	}
	chOpts, err := clickhouse.ParseDSN(env("OTELAUDIT_CLICKHOUSE_DSN", "OTELAUDIT_TEST_CLICKHOUSE_DSN"))
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(chOpts)
	if err != nil {
		return err
	}
	defer conn.Close()
	schema := chschema.Options{Database: "otelaudit_demo"}
	layout, err := chschema.Migrate(ctx, conn, schema)
	if err != nil {
		return fmt.Errorf("clickhouse migrate: %w", err)
	}

	// One LoggerProvider, two exporters.
	pgExp, err := postgreslog.New(pool)
	if err != nil {
		return err
	}
	chExp, err := clickhouselog.New(conn, clickhouselog.WithSchema(schema), clickhouselog.WithLayout(layout))
	if err != nil {
		return err
	}
	// The journal makes each event durable on local disk, then delivers
	// it to both stores, each at its own pace.
	dir, err := os.MkdirTemp("", "otelaudit-demo-journal")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	proc, err := journal.New(dir, []journal.Target{{Name: "postgres", Exporter: pgExp}, {Name: "clickhouse", Exporter: chExp}})
	if err != nil {
		return err
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "demo-billing"))),
		sdklog.WithProcessor(proc),
		sdklog.WithAllowKeyDuplication(),
	)

	// The service side: one call per audit event.
	audit := bridge.New(bridge.WithLoggerProvider(lp))
	ada := otelaudit.Actor{UserID: "u_ada", WorkspaceID: "ws_acme", Name: "Ada"}
	bob := otelaudit.Actor{UserID: "u_bob", WorkspaceID: "ws_acme"}
	fromOffice := bridge.ContextWithClient(ctx, otelaudit.Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0"})
	fromBot := bridge.ContextWithClient(ctx, otelaudit.Client{IP: "198.51.100.66", UserAgent: "python-requests/2.31"})

	audit.LoginFailed(fromBot, bob, "invalid_password")
	audit.LoginFailed(fromBot, bob, "invalid_password")
	audit.Login(fromOffice, ada)
	audit.SettingsChanged(fromOffice, ada, otelaudit.Resource{Type: "setting", ID: "mfa.required"}, false, true)
	audit.OAuthConnected(fromOffice, ada, "github", map[string]any{"scopes": []string{"repo", "read:org"}})
	audit.SubscriptionCreated(fromOffice, ada, "sub_42", map[string]any{"plan": "team", "seats": 5})
	audit.DataExportRequested(fromOffice, ada, "exp_1", map[string]any{"format": "json"})
	audit.AdminAction(fromOffice, ada, otelaudit.Resource{Type: "user", ID: "u_bob"},
		map[string]any{"op": "reset_mfa", "ticket": "SUP-1234"})
	audit.Logout(fromOffice, ada)

	// Shutdown delivers the journal to both stores: every event is now stored.
	if err := lp.Shutdown(ctx); err != nil {
		return err
	}

	// The compliance side: the system of record in Postgres.
	fmt.Println("Postgres audit_logs (latest first):")
	rows, err := pool.Query(ctx, `SELECT created_at, action, outcome, user_id, coalesce(host(ip_address), ''),
		coalesce(resource || '/' || resource_id, ''), coalesce(details::text, ''),
		coalesce(previous_value::text || ' -> ' || new_value::text, '')
		FROM audit_logs WHERE workspace_id = 'ws_acme' ORDER BY created_at DESC, event_id DESC`)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  time\taction\toutcome\tuser\tip\tresource\tdetails\tchange")
	for rows.Next() {
		var at time.Time
		var action, outcome, user, ip, res, details, change string
		if err := rows.Scan(&at, &action, &outcome, &user, &ip, &res, &details, &change); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", at.UTC().Format("15:04:05.000"), action, outcome, user, ip, res, details, change)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	tw.Flush()

	// The analyst side: a query from the pack, on ClickHouse.
	q, err := chschema.QueryByName(layout, schema, "failed_logins_by_ip")
	if err != nil {
		return err
	}
	fmt.Printf("\nClickHouse, %s (%s layout):\n  %s\n", q.Name, layout, q.Question)
	chRows, err := conn.Query(ctx, q.SQL,
		chschema.TimeArg(layout, "now", time.Now().Add(time.Minute)), // nanoseconds on the modern layout
		clickhouse.Named("min_failures", uint64(1)))
	if err != nil {
		return err
	}
	defer chRows.Close()
	tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  client_ip	failures	users	workspaces")
	for chRows.Next() {
		var ip string
		var failures, users, workspaces uint64
		var first, last time.Time
		if err := chRows.Scan(&ip, &failures, &users, &workspaces, &first, &last); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", ip, failures, users, workspaces)
	}
	tw.Flush()
	return chRows.Err()
}
