package pgschema

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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
// them that are in the window, and returns all of those partitions in time
// order. It calls the <table>_ensure_partitions function that [Migrate]
// creates, which runs as the table's owner, so any role allowed to execute
// it (the writer role) may call EnsurePartitions.
//
// The function creates partitions only in a window around the current
// time ([Options.Back] partitions before the current one, [Options.Ahead]
// after it, as recorded by the last Migrate), at most [MaxCreatePerCall]
// per call. A missing partition outside the window, a time outside years 1
// to 9999, or a relation that has a partition's name but is not that
// partition, is an error (SQLSTATE 22008, 22008 and 55000), and nothing is
// created. Lock waits are bounded by [EnsureLockTimeout] (then 55P03).
// Creating a partition attaches a new table to the audit table, which
// takes a SHARE UPDATE EXCLUSIVE lock on it: inserts and reads go on.
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
// are all older than cutoff (its upper bound is at or before cutoff),
// oldest first, and returns those it dropped. Rows are never deleted one by
// one: the append-only triggers refuse that, and DROP fires no trigger.
// Only the table's owner (the role that ran [Migrate]) or a superuser can
// drop partitions; the writer role cannot.
//
// Each partition is dropped in a transaction of its own, which waits at
// most [RetentionLockTimeout] for its locks: dropping a partition takes an
// ACCESS EXCLUSIVE lock on the audit table, so inserts that arrive
// meanwhile wait behind it, at most that long. A partition that cannot be
// dropped (a lock not granted in time, say while a long transaction has
// written into the table; an object that depends on it, such as another
// session's view of it; a relation of its name that is not the partition)
// is left in place and retention goes on with the next: the returned error
// then joins one [*PartitionSkippedError] per partition left, while the
// returned slice holds those dropped. The next run tries them again.
//
// The same is available in SQL, for a cron job or pg_cron, where all
// partitions are dropped in the calling transaction (each in a
// subtransaction, reported by a row with dropped = false and a reason):
//
//	SELECT * FROM public.audit_logs_drop_partitions_before(now() - interval '400 days');
func DropPartitionsBefore(ctx context.Context, pool *pgxpool.Pool, o Options, cutoff time.Time) ([]Partition, error) {
	o, sql, err := statement(o, "drop_partitions_before")
	if err != nil {
		return nil, err
	}
	var dropped []Partition
	var skipped []error
	after := pgtype.InfinityModifier(pgtype.NegativeInfinity)
	var afterTime time.Time
	for {
		var arg any = pgtype.Timestamptz{InfinityModifier: after, Valid: true}
		if after == pgtype.Finite {
			arg = afterTime
		}
		rows, err := pool.Query(ctx, sql, cutoff, arg, 1)
		if err != nil {
			return dropped, fmt.Errorf("pgschema: drop partitions of %s.%s before %s: %w", o.Schema, o.Table, cutoff.UTC().Format(time.RFC3339), errors.Join(append(skipped, err)...))
		}
		var p Partition
		var ok bool
		var reason *string
		_, err = pgx.ForEachRow(rows, []any{&p.Name, &p.Lo, &p.Hi, &ok, &reason}, func() error { return nil })
		if err != nil {
			return dropped, fmt.Errorf("pgschema: drop partitions of %s.%s before %s: %w", o.Schema, o.Table, cutoff.UTC().Format(time.RFC3339), errors.Join(append(skipped, err)...))
		}
		if p.Name == "" {
			break // nothing left
		}
		p.Lo, p.Hi = p.Lo.UTC(), p.Hi.UTC()
		if ok {
			dropped = append(dropped, p)
		} else {
			why := ""
			if reason != nil {
				why = *reason
			}
			skipped = append(skipped, &PartitionSkippedError{Table: o.Schema + "." + o.Table, Partition: p, Reason: why})
		}
		after, afterTime = pgtype.Finite, p.Lo
	}
	return dropped, errors.Join(skipped...)
}

// PartitionSkippedError reports a partition that [DropPartitionsBefore]
// left in place, and why.
type PartitionSkippedError struct {
	// Table is the audit table, schema.table.
	Table     string
	Partition Partition
	// Reason is the SQLSTATE and message of the failed drop: 55P03 (a lock
	// not granted within RetentionLockTimeout), 2BP01 (objects that depend
	// on the partition, named in the message), 55006 (in use by this
	// session), or 55000 (a relation of that name that is not the
	// partition).
	Reason string
}

func (e *PartitionSkippedError) Error() string {
	return fmt.Sprintf("pgschema: retention of %s left partition %s [%s, %s): %s", e.Table, e.Partition.Name,
		e.Partition.Lo.Format(time.RFC3339), e.Partition.Hi.Format(time.RFC3339), e.Reason)
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
