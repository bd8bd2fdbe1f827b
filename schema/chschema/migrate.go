package chschema

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrLayoutMismatch is returned (wrapped) when Options.Layout asks for a
// layout other than the one the table was created with.
var ErrLayoutMismatch = errors.New("chschema: layout differs from the existing table's")

// Migrate brings the schema up to date and returns the layout in use.
//
// It creates the database when missing, then the migrations table, then
// runs every migration not yet recorded for Options.Table, recording each
// one after its statements succeeded. Every statement is CREATE ... IF NOT
// EXISTS, so running Migrate again, or twice at once, is harmless; a
// second run finds everything recorded and executes no migration.
//
// The layout is the one recorded by the first migration of the table, if
// any (an upgraded server keeps its compat table until it is migrated by
// hand); otherwise Options.Layout, or [LayoutForVersion] of SELECT version().
// An explicit Options.Layout that differs from the recorded one is an error
// wrapping [ErrLayoutMismatch].
//
// Migrate never closes conn.
func Migrate(ctx context.Context, conn driver.Conn, opts Options) (Layout, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return LayoutAuto, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+o.Database+"`"+onCluster(o)); err != nil {
		return LayoutAuto, fmt.Errorf("chschema: create database %s: %w", o.Database, err)
	}
	// The migrations table is the same in both layouts.
	boot, err := Migrations(LayoutCompat, o)
	if err != nil {
		return LayoutAuto, err
	}
	if err := execAll(ctx, conn, boot[0]); err != nil {
		return LayoutAuto, err
	}

	applied, recorded, err := appliedMigrations(ctx, conn, o)
	if err != nil {
		return LayoutAuto, err
	}
	layout := recorded
	switch {
	case recorded != LayoutAuto && o.Layout != LayoutAuto && o.Layout != recorded:
		return LayoutAuto, fmt.Errorf("%w: %s.%s was created with the %v layout, Options.Layout is %v", ErrLayoutMismatch, o.Database, o.Table, recorded, o.Layout)
	case recorded != LayoutAuto:
	case o.Layout != LayoutAuto:
		layout = o.Layout
	default:
		if layout, err = ServerLayout(ctx, conn); err != nil {
			return LayoutAuto, err
		}
	}

	ms, err := Migrations(layout, o)
	if err != nil {
		return LayoutAuto, err
	}
	for _, m := range ms[1:] {
		if applied[m.Version] {
			continue
		}
		if err := execAll(ctx, conn, m); err != nil {
			return layout, err
		}
		if err := record(ctx, conn, o, layout, m); err != nil {
			return layout, err
		}
	}
	return layout, nil
}

// ServerLayout returns the layout for the connected server's version.
func ServerLayout(ctx context.Context, conn driver.Conn) (Layout, error) {
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return LayoutAuto, fmt.Errorf("chschema: SELECT version(): %w", err)
	}
	return LayoutForVersion(version)
}

// TableLayout returns the layout of an existing audit table, read from its
// columns (a time_ns column means compat, an attributes column modern). It
// returns an error when the table does not exist or has neither.
func TableLayout(ctx context.Context, conn driver.Conn, opts Options) (Layout, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return LayoutAuto, err
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ? AND name IN ('time_ns', 'attributes')", o.Database, o.Table)
	if err != nil {
		return LayoutAuto, fmt.Errorf("chschema: read the columns of %s.%s: %w", o.Database, o.Table, err)
	}
	defer rows.Close()
	layout := LayoutAuto
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return LayoutAuto, err
		}
		if name == "time_ns" {
			layout = LayoutCompat
		} else if layout == LayoutAuto {
			layout = LayoutModern
		}
	}
	if err := rows.Err(); err != nil {
		return LayoutAuto, err
	}
	if layout == LayoutAuto {
		return LayoutAuto, fmt.Errorf("chschema: %s.%s is missing or not an otelaudit table (run Migrate)", o.Database, o.Table)
	}
	return layout, nil
}

func onCluster(o Options) string {
	if o.Cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + o.Cluster + "`"
}

func execAll(ctx context.Context, conn driver.Conn, m Migration) error {
	for i, s := range m.Statements {
		if err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("chschema: migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
		}
	}
	return nil
}

// appliedMigrations returns the versions recorded for o.Table and the
// layout they were applied with (LayoutAuto when none).
func appliedMigrations(ctx context.Context, conn driver.Conn, o Options) (map[int]bool, Layout, error) {
	q := "SELECT version, layout FROM " + quote(o.Database, o.MigrationsTable) + " FINAL WHERE table_name = ? ORDER BY version"
	rows, err := conn.Query(ctx, q, o.Table)
	if err != nil {
		return nil, LayoutAuto, fmt.Errorf("chschema: read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	layout := LayoutAuto
	for rows.Next() {
		var v uint32
		var l string
		if err := rows.Scan(&v, &l); err != nil {
			return nil, LayoutAuto, fmt.Errorf("chschema: read applied migrations: %w", err)
		}
		applied[int(v)] = true
		if layout == LayoutAuto {
			if layout, err = ParseLayout(l); err != nil {
				return nil, LayoutAuto, fmt.Errorf("chschema: migrations table: %w", err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, LayoutAuto, fmt.Errorf("chschema: read applied migrations: %w", err)
	}
	return applied, layout, nil
}

func record(ctx context.Context, conn driver.Conn, o Options, l Layout, m Migration) error {
	q := "INSERT INTO " + quote(o.Database, o.MigrationsTable) + " (table_name, version, name, layout, checksum, applied_at)"
	b, err := conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("chschema: record migration %d: %w", m.Version, err)
	}
	defer b.Close()
	if err := b.Append(o.Table, uint32(m.Version), m.Name, l.String(), m.Checksum(), time.Now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("chschema: record migration %d: %w", m.Version, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("chschema: record migration %d: %w", m.Version, err)
	}
	return nil
}
