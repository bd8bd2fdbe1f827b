package postgres_test

import (
	"fmt"

	"github.com/otelaudit/otelaudit/schema/postgres"
)

// The migrations Migrate applies, for the default table public.audit_logs.
func ExampleMigrations() {
	ms, err := postgres.Migrations(postgres.Options{})
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
}

// Names from configuration are validated before they reach any SQL.
func ExampleOptions_Validate() {
	for _, o := range []postgres.Options{
		{Schema: "audit", Table: "events", WriterRole: "audit_writer"},
		{Table: `events"; DROP TABLE users; --`},
	} {
		fmt.Println(o.Validate())
	}
	// Output:
	// <nil>
	// postgres: invalid options: table name "events\"; DROP TABLE users; --" must be lower-case letters, digits and underscores, not starting with a digit
}
