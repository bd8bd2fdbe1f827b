package pgschema

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Partition is one partition of the audit table: rows with lo <= created_at
// < hi.
type Partition struct {
	// Name is the partition's table name, in the audit table's schema
	// (audit_logs_p202611).
	Name   string
	Lo, Hi time.Time
	// Created is true when the call that returned it created it.
	Created bool
}

// querier is what the partition calls need: a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// EnsurePartitions creates, unless they exist, the partitions that cover
// every time from from to to (both included) and the ahead partitions after
// them, and returns all of those partitions in time order. It calls the
// <table>_ensure_partitions function that [Migrate] creates, which runs as
// the table's owner and serializes callers with an advisory lock, so any
// role allowed to execute it (the writer role) may call EnsurePartitions.
//
// One call creates at most 400 partitions; a wider range is an error.
func EnsurePartitions(ctx context.Context, pool *pgxpool.Pool, o Options, from, to time.Time, ahead int) ([]Partition, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return ensurePartitions(ctx, pool, o, from, to, ahead)
}

func ensurePartitions(ctx context.Context, q querier, o Options, from, to time.Time, ahead int) ([]Partition, error) {
	sql, err := render(o, "sql/writer.sql", "ensure_partitions")
	if err != nil {
		return nil, err
	}
	ps, err := queryPartitions(ctx, q, true, sql, from, to, ahead)
	if err != nil {
		return nil, fmt.Errorf("pgschema: ensure partitions of %s.%s for [%s, %s] and %d ahead: %w",
			o.Schema, o.Table, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), ahead, err)
	}
	return ps, nil
}

// ListPartitions returns the partitions of the audit table, in time order,
// as recorded by the partition function.
func ListPartitions(ctx context.Context, pool *pgxpool.Pool, o Options) ([]Partition, error) {
	o, sql, err := statement(o, "list_partitions")
	if err != nil {
		return nil, err
	}
	ps, err := queryPartitions(ctx, pool, false, sql)
	if err != nil {
		return nil, fmt.Errorf("pgschema: list partitions of %s.%s: %w", o.Schema, o.Table, err)
	}
	return ps, nil
}

// DropPartitionsBefore is retention: it drops every partition whose rows
// are all older than cutoff (its upper bound is at or before cutoff) and
// returns them. Rows are never deleted one by one: the append-only triggers
// refuse that, and DROP fires no trigger. Only the table's owner (the role
// that ran [Migrate]) or a superuser can drop partitions; the writer role
// cannot.
//
// The same is available in SQL, for a cron job or pg_cron:
//
//	SELECT * FROM public.audit_logs_drop_partitions_before(now() - interval '400 days');
//
// Dropping a partition takes an ACCESS EXCLUSIVE lock on the audit table
// for a moment, like creating one; inserts wait for it.
func DropPartitionsBefore(ctx context.Context, pool *pgxpool.Pool, o Options, cutoff time.Time) ([]Partition, error) {
	o, sql, err := statement(o, "drop_partitions_before")
	if err != nil {
		return nil, err
	}
	ps, err := queryPartitions(ctx, pool, false, sql, cutoff)
	if err != nil {
		return nil, fmt.Errorf("pgschema: drop partitions of %s.%s before %s: %w", o.Schema, o.Table, cutoff.UTC().Format(time.RFC3339), err)
	}
	return ps, nil
}

// queryPartitions runs sql, whose rows are (partition, lo, hi) and, when
// withCreated, created.
func queryPartitions(ctx context.Context, q querier, withCreated bool, sql string, args ...any) ([]Partition, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var p Partition
	dest := []any{&p.Name, &p.Lo, &p.Hi}
	if withCreated {
		dest = append(dest, &p.Created)
	}
	var ps []Partition
	_, err = pgx.ForEachRow(rows, dest, func() error {
		p.Lo, p.Hi = p.Lo.UTC(), p.Hi.UTC()
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

// statement validates o and renders one statement of sql/writer.sql for it.
func statement(o Options, name string) (Options, string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return o, "", err
	}
	sql, err := render(o, "sql/writer.sql", name)
	return o, sql, err
}
