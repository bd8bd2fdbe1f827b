package chschema_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// Replays the rewrite: whoever may insert into the audit table inserted the
// ids of stored events again, with other values, and after a merge the
// ReplacingMergeTree kept the new rows in place of the originals. The
// first stored version of an event now wins: the originals are kept, and
// the pack's answers do not change.
func TestAttackRewriteByReinsert(t *testing.T) {
	t.Parallel()
	conn, opts, layout, _ := seeded(t)
	require.Equal(t, engineLayout(), layout, "compat on 18.16, modern on 26.5")
	ctx := ctxT(t)
	events := seedEvents()

	const all = "SELECT * FROM audit_logs ORDER BY event_id" // * leaves ingest_version out
	before := queryRows(t, conn, all, nil)
	require.Len(t, before, len(events))
	checkPack(t, conn, layout, opts)

	// The compat layout's versions count seconds: the forgeries come in a
	// later second than the originals (the modern layout's count
	// nanoseconds).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))

	cols := strings.Join(chschema.Columns(layout), ", ")
	forged := map[string]string{
		"user_id":        "'mallory'",
		"user_name":      "'mallory'",
		"client_ip":      "'203.0.113.66'",
		"resource_id":    "concat(resource_id, '-forged')",
		"outcome":        "CAST(if(outcome = 'success', 'failure', 'success') AS Enum8('success' = 1, 'failure' = 2))",
		"error_type":     "'forged'",
		"details":        `'{"forged":true}'`,
		"previous_value": "'{}'",
		"new_value":      "'{}'",
		"service_name":   "'mallory'",
	}
	var exprs []string
	for _, c := range chschema.Columns(layout) {
		if e, ok := forged[c]; ok {
			exprs = append(exprs, e)
		} else {
			exprs = append(exprs, c)
		}
	}
	require.NoError(t, conn.Exec(ctx, "INSERT INTO audit_logs ("+cols+") SELECT "+strings.Join(exprs, ", ")+" FROM audit_logs"))

	// Nor can an insert give itself a higher version.
	err := conn.Exec(ctx, "INSERT INTO audit_logs ("+cols+", ingest_version) SELECT "+cols+", 4294967295 FROM audit_logs")
	var ex *clickhouse.Exception
	require.True(t, errors.As(err, &ex), "%v", err)
	require.EqualValues(t, 44, ex.Code, "Cannot insert column ingest_version, because it is MATERIALIZED column: %v", err)

	require.EqualValues(t, 2*len(events), count(t, conn, "SELECT count() FROM audit_logs"), "the forgeries are in, before a merge")
	require.EqualValues(t, len(events), count(t, conn, "SELECT count() FROM audit_logs WHERE user_id = 'mallory'"))
	require.Equal(t, before, queryRows(t, conn, "SELECT * FROM audit_logs FINAL ORDER BY event_id", nil), "FINAL reads the first stored versions")

	for _, p := range []string{"202405", "202406"} {
		require.NoError(t, conn.Exec(ctx, "OPTIMIZE TABLE audit_logs PARTITION "+p+" FINAL"))
	}
	require.Equal(t, before, queryRows(t, conn, all, nil), "the originals are kept")
	require.Zero(t, count(t, conn, "SELECT count() FROM audit_logs WHERE user_id = 'mallory'"))

	// The rollup counted the forgeries when they were inserted; rebuilt
	// from the table, it is right again.
	for _, month := range []time.Time{may1, day1} {
		require.NoError(t, chschema.RebuildRollup(ctx, conn, opts, month))
	}
	checkPack(t, conn, layout, opts)
}

// checkPack runs every query of the pack on the seed and compares its
// hand-worked answers.
func checkPack(t *testing.T, conn driver.Conn, layout chschema.Layout, opts chschema.Options) {
	t.Helper()
	pack, err := chschema.Queries(layout, opts)
	require.NoError(t, err)
	byName := map[string]chschema.Query{}
	for _, q := range pack {
		byName[q.Name] = q
	}
	for _, tc := range packCases() {
		q, ok := byName[tc.query]
		require.True(t, ok, tc.query)
		require.Equal(t, tc.want, queryRows(t, conn, q.SQL, tc.args, tc.skip...), "%s %v", tc.query, tc.args)
	}
}
