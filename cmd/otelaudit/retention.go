package main

import (
	"context"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func runRetention(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("retention", e)
	var c conn
	c.register(fs, e)
	before := fs.String("before", "", "drop what is older than this time: whole partitions whose rows are all before it (required; 2024-01-01, 400d)")
	dry := fs.Bool("dry-run", false, "print what would be dropped, drop nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *before == "" {
		return usagef("--before is required")
	}
	cutoff, err := parseTime("before", *before, time.Now())
	if err != nil {
		return err
	}
	if c.pgDSN == "" && c.chDSN == "" {
		return usagef("no store: set --postgres (%s) and/or --clickhouse (%s)", envPostgres, envClickHouse)
	}
	verb := "dropped"
	if *dry {
		verb = "would drop"
	}
	defer c.close()
	if c.pgDSN != "" {
		pool, err := c.postgres(ctx)
		if err != nil {
			return err
		}
		o := c.pgOptions()
		var parts []pgschema.Partition
		if *dry {
			all, err := pgschema.ListPartitions(ctx, pool, o)
			if err != nil {
				return err
			}
			for _, p := range all {
				if !p.Hi.After(cutoff) {
					parts = append(parts, p)
				}
			}
		} else {
			parts, err = pgschema.DropPartitionsBefore(ctx, pool, o, cutoff)
		}
		for _, p := range parts {
			fmt.Fprintf(e.stdout, "postgres: %s %s [%s, %s)\n", verb, p.Name, p.Lo.UTC().Format(time.RFC3339), p.Hi.UTC().Format(time.RFC3339))
		}
		if len(parts) == 0 {
			fmt.Fprintf(e.stdout, "postgres: no partition ends before %s\n", cutoff.Format(time.RFC3339))
		}
		if err != nil {
			return err
		}
	}
	if c.chDSN != "" {
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		if _, err := chschema.TableLayout(ctx, ch, o); err != nil {
			return fmt.Errorf("%w: %w", errNotMigrated, err)
		}
		var parts []string
		if *dry {
			parts, err = chschema.PartitionsBefore(ctx, ch, o, cutoff)
		} else {
			parts, err = chschema.DropPartitionsBefore(ctx, ch, o, cutoff)
		}
		for _, p := range parts {
			fmt.Fprintf(e.stdout, "clickhouse: %s partition %s of %s.%s\n", verb, p, o.Database, o.Table)
		}
		if len(parts) == 0 && err == nil {
			fmt.Fprintf(e.stdout, "clickhouse: no partition ends before %s\n", cutoff.Format(time.RFC3339))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
