package pgschema_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The migrations Migrate applies, for the default table public.audit_logs.
func ExampleMigrations() {
	ms, err := pgschema.Migrations(pgschema.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		fmt.Printf("%04d %s\n", m.Version, m.Name)
	}
	// Output:
	// 0001 audit_logs
	// 0002 append_only
	// 0003 partition_functions
	// 0004 partition_limits
	// 0005 read_paths
	// 0006 erasure
	// 0007 erasure_targets
}

// Names from configuration are validated before they reach any SQL.
func ExampleOptions_Validate() {
	for _, o := range []pgschema.Options{
		{Schema: "audit", Table: "events", WriterRole: "audit_writer"},
		{Table: `events"; DROP TABLE users; --`},
	} {
		fmt.Println(o.Validate())
	}
	// Output:
	// <nil>
	// pgschema: invalid options: table name "events\"; DROP TABLE users; --" must be lower-case letters, digits and underscores, not starting with a digit
}

// A service's start-up, and a nightly retention job run as the table's
// owner. (Not run: it needs a database.)
func ExampleMigrate() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	opts := pgschema.Options{WriterRole: "audit_writer"}
	applied, err := pgschema.Migrate(ctx, pool, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("applied migrations", applied)

	// Keep 13 months.
	dropped, err := pgschema.DropPartitionsBefore(ctx, pool, opts, time.Now().AddDate(0, -13, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range dropped {
		fmt.Println("dropped", p.Name, p.Lo.Format("2006-01"))
	}
}
