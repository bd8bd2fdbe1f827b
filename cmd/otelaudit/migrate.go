package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
	"github.com/otelaudit/otelaudit/schema/seal"
)

func runMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("migrate", e)
	var c conn
	c.register(fs, e)
	dry := fs.Bool("dry-run", false, "print the SQL of every migration instead of running it")
	writer := fs.String("writer-role", "", "Postgres role to create for the services (INSERT only)")
	reader := fs.String("reader-role", "", "Postgres role to create for readers (SELECT only)")
	daily := fs.Bool("daily", false, "daily Postgres partitions (default monthly; fixed by the first migrate)")
	layoutName := fs.String("layout", "", "ClickHouse layout, compat or modern (default: from the server's version; with --dry-run, compat)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	po := c.pgOptions()
	po.WriterRole, po.ReaderRole = *writer, *reader
	if *daily {
		po.Interval = pgschema.Daily
	}
	if err := po.Validate(); err != nil {
		return usageError{err.Error()}
	}
	layout := chschema.LayoutAuto
	switch *layoutName {
	case "compat":
		layout = chschema.LayoutCompat
	case "modern":
		layout = chschema.LayoutModern
	case "":
	default:
		return usagef("--layout %q: compat or modern", *layoutName)
	}
	if c.pgDSN == "" && c.chDSN == "" && !*dry {
		return usagef("no store to migrate: set --postgres (%s) and/or --clickhouse (%s)", envPostgres, envClickHouse)
	}
	defer c.close()

	if *dry {
		ms, err := pgschema.Migrations(po)
		if err != nil {
			return err
		}
		for _, m := range ms {
			fmt.Fprintf(e.stdout, "-- postgres %04d %s\n%s\n", m.Version, m.Name, strings.TrimSpace(m.SQL))
		}
		sms, err := seal.Migrations(seal.WithSchema(c.pgSchema), seal.WithAuditTable(c.pgTable))
		if err != nil {
			return err
		}
		for _, m := range sms {
			fmt.Fprintf(e.stdout, "-- postgres seal %04d %s\n%s\n", m.Version, m.Name, strings.TrimSpace(m.SQL))
		}
		if layout == chschema.LayoutAuto {
			layout = chschema.LayoutCompat
		}
		co := chschema.Options{Database: c.chDatabase, Table: c.chTable, Layout: layout}
		cms, err := chschema.Migrations(layout, co)
		if err != nil {
			return err
		}
		for _, m := range cms {
			fmt.Fprintf(e.stdout, "-- clickhouse %04d %s (%s)\n%s;\n", m.Version, m.Name, layout, strings.Join(m.Statements, ";\n"))
		}
		return nil
	}

	if c.pgDSN != "" {
		pool, err := c.postgres(ctx)
		if err != nil {
			return err
		}
		applied, err := pgschema.Migrate(ctx, pool, po)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "postgres %s.%s: applied %s\n", c.pgSchema, c.pgTable, versions(applied))
		sealed, err := seal.Migrate(ctx, pool, seal.WithSchema(c.pgSchema), seal.WithAuditTable(c.pgTable))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "postgres seal digests: applied %s\n", versions(sealed))
	}
	if c.chDSN != "" {
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		o.Layout = layout
		before, err := chVersions(ctx, ch, o)
		if err != nil {
			return err
		}
		l, err := chschema.Migrate(ctx, ch, o)
		if err != nil {
			return err
		}
		after, err := chVersions(ctx, ch, o)
		if err != nil {
			return err
		}
		var applied []int
		for _, v := range after {
			if !contains(before, v) {
				applied = append(applied, v)
			}
		}
		fmt.Fprintf(e.stdout, "clickhouse %s.%s (%s layout): applied %s\n", o.Database, o.Table, l, versions(applied))
	}
	return nil
}

func contains(vs []int, v int) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func versions(vs []int) string {
	if len(vs) == 0 {
		return "nothing (up to date)"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%04d", v)
	}
	return strings.Join(s, ", ")
}

// chVersions returns the versions recorded in the ClickHouse migrations
// table for the audit table (none when the table does not exist yet).
func chVersions(ctx context.Context, ch driver.Conn, o chschema.Options) ([]int, error) {
	if _, err := chschema.InsertTarget(o); err != nil {
		return nil, usageError{err.Error()}
	}
	db := o.Database
	if db == "" {
		db = chschema.DefaultDatabase
	}
	var n uint64
	if err := ch.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, chschema.DefaultMigrationsTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("read the ClickHouse migrations: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	table := o.Table
	if table == "" {
		table = chschema.DefaultTable
	}
	rows, err := ch.Query(ctx, "SELECT DISTINCT version FROM `"+db+"`.`"+chschema.DefaultMigrationsTable+"` WHERE table_name = ? ORDER BY version", table)
	if err != nil {
		return nil, fmt.Errorf("read the ClickHouse migrations: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, int(v))
	}
	return out, rows.Err()
}
