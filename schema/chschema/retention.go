package chschema

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RebuildRollup recomputes the daily rollup for the calendar month (UTC)
// holding month from the audit table, counting each event id once: it
// drops the rollup's partition for that month, then inserts the counts of
// the deduplicated events.
//
// The rollup is kept by a materialized view that counts inserted rows; a
// copy of an event inserted twice (re-sent from outside the exporter)
// counts twice there until this is run. Run it for a closed month, or
// when nothing writes into the month: rows inserted between the drop and
// the insert are counted twice.
func RebuildRollup(ctx context.Context, conn driver.Conn, opts Options, month time.Time) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	d := newTmplData(LayoutCompat, o)
	yyyymm := month.UTC().Year()*100 + int(month.UTC().Month())
	drop := "ALTER TABLE " + d.Rollup + d.OnCluster + " DROP PARTITION " + strconv.Itoa(yyyymm)
	if err := conn.Exec(ctx, drop); err != nil {
		return fmt.Errorf("chschema: rebuild rollup %d: drop partition: %w", yyyymm, err)
	}
	source, target := d.Table, d.Rollup
	if o.Cluster != "" {
		source, target = d.Distributed, d.RollupDistributed
	}
	insert := "INSERT INTO " + target + " (day, workspace_id, action, events, failures)" +
		" SELECT toDate(time) AS day, workspace_id, action, count(), countIf(outcome = 'failure')" +
		" FROM (SELECT event_id, time, workspace_id, action, outcome FROM " + source +
		" WHERE toYYYYMM(time) = " + strconv.Itoa(yyyymm) + " LIMIT 1 BY event_id)" +
		" GROUP BY day, workspace_id, action"
	if err := conn.Exec(ctx, insert); err != nil {
		return fmt.Errorf("chschema: rebuild rollup %d: insert: %w", yyyymm, err)
	}
	return nil
}

// ErrNoTTL is returned (wrapped) by [DropExpiredPartitions] when
// Options.TTLDays is 0: nothing expires, and retention needs a cutoff
// ([DropPartitionsBefore]).
var ErrNoTTL = errors.New("chschema: TTLDays is 0, nothing expires (use DropPartitionsBefore with a cutoff)")

// DropExpiredPartitions is the compat layout's retention, where the server
// has no TTL: it drops every monthly partition of the audit table whose
// month ended Options.TTLDays days or more before now, and returns the
// partitions dropped ("202401"). With TTLDays 0 it drops nothing and
// returns [ErrNoTTL], rather than succeeding silently. It works on the
// modern layout too (where TTL already deletes the rows). The daily
// rollup, which holds no personal data, is kept. On a cluster it looks for
// partitions on every shard and drops them ON CLUSTER.
//
// "Exactly TTLDays" counts as expired: a month whose end (the first
// instant of the next month, UTC) is at or before now minus TTLDays days
// is dropped, at that instant every row in it is older than TTLDays days;
// a month that ends a second later is kept. Days are 24-hour UTC days,
// whatever now's location. With TTLDays 30, January 2024 (ending
// 2024-02-01T00:00Z) is dropped from 2024-03-02T00:00Z on.
func DropExpiredPartitions(ctx context.Context, conn driver.Conn, opts Options, now time.Time) ([]string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.TTLDays == 0 {
		return nil, ErrNoTTL
	}
	cutoff := now.UTC().AddDate(0, 0, -o.TTLDays)
	return DropPartitionsBefore(ctx, conn, o, cutoff)
}

// PartitionsBefore returns the monthly partitions of the audit table
// ("202401") whose month ends at or before cutoff: every row in them is
// older than cutoff. It is what [DropPartitionsBefore] drops, and its
// dry run.
func PartitionsBefore(ctx context.Context, conn driver.Conn, opts Options, cutoff time.Time) ([]string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	d := newTmplData(LayoutCompat, o)
	parts := "system.parts"
	if o.Cluster != "" {
		// A month may have rows on some shards only: ask one replica of
		// every shard, not just the server conn reaches.
		parts = "cluster('" + o.Cluster + "', system, parts)"
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = ? AND table = ? AND active ORDER BY partition", o.Database, d.TableName)
	if err != nil {
		return nil, fmt.Errorf("chschema: list partitions of %s: %w", d.Table, err)
	}
	var months []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		months = append(months, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range months {
		n, err := strconv.Atoi(p)
		if err != nil || n < 197001 {
			continue // not a toYYYYMM partition
		}
		monthEnd := time.Date(n/100, time.Month(n%100)+1, 1, 0, 0, 0, 0, time.UTC)
		if !monthEnd.After(cutoff) {
			out = append(out, p)
		}
	}
	return out, nil
}

// DropPartitionsBefore drops the monthly partitions of the audit table
// whose month ends at or before cutoff ([PartitionsBefore]), whatever
// Options.TTLDays, and returns those dropped: the retention of both
// layouts, with the same rule as the Postgres table's (a partition goes
// once all its rows are older than the cutoff). The daily rollup, which
// holds no personal data, is kept.
func DropPartitionsBefore(ctx context.Context, conn driver.Conn, opts Options, cutoff time.Time) ([]string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	parts, err := PartitionsBefore(ctx, conn, o, cutoff)
	if err != nil {
		return nil, err
	}
	d := newTmplData(LayoutCompat, o)
	var dropped []string
	for _, p := range parts {
		if err := conn.Exec(ctx, "ALTER TABLE "+d.Table+d.OnCluster+" DROP PARTITION "+p); err != nil {
			return dropped, fmt.Errorf("chschema: drop partition %s of %s: %w", p, d.Table, err)
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}
