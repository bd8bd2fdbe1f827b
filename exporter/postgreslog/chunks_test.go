package postgreslog_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// TestMaxCopyBytesBoundsEachCOPY: a batch larger than WithMaxCopyBytes is
// written in several COPY statements, each its own transaction, each of
// at most the bound (plus the row that crossed it). The rows of one COPY
// share the id of its transaction (xmin): grouping the stored rows by
// xmin counts the statements and the rows each carried.
func TestMaxCopyBytesBoundsEachCOPY(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	const (
		maxCopyBytes = 64 << 10
		n            = 1000
		detailBytes  = 2000 // each row encodes to more than this
	)
	e, _ := newExporter(t, pool, postgreslog.WithMaxCopyBytes(maxCopyBytes))
	records := auditRecords(func(a *bridge.Auditor) {
		for i := range n {
			a.Record(context.Background(), otelaudit.Event{
				Time:    batchTime.Add(time.Duration(i) * time.Microsecond),
				Action:  otelaudit.ActionDataExportCompleted,
				Actor:   otelaudit.Actor{UserID: "usr_" + itoa(i)},
				Details: attribute.MapValue(attribute.String("manifest", strings.Repeat("m", detailBytes))),
			})
		}
	})
	require.NoError(t, e.Export(ctx, records))
	require.Equal(t, uint64(n), e.Stats().Written)

	rows, err := pool.Query(ctx, `SELECT count(*) FROM audit_logs GROUP BY xmin::text`)
	require.NoError(t, err)
	perCOPY, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	stored := 0
	for _, c := range perCOPY {
		stored += c
	}
	require.Equal(t, n, stored)
	maxRows := maxCopyBytes/detailBytes + 1
	require.LessOrEqual(t, slices.Max(perCOPY), maxRows, "a COPY carried more than WithMaxCopyBytes")
	require.GreaterOrEqual(t, len(perCOPY), (n+maxRows-1)/maxRows, "statements")
}

// TestStagingTableEmptiesAtCommit: the staging table of a session is
// emptied when the transaction that used it commits (ON COMMIT DELETE
// ROWS). Rows left in it would go into the table again with the next
// batch that goes through it: after retention dropped their partition,
// that batch would fail on them. One connection, so every Export uses the
// same session and the same staging table.
func TestStagingTableEmptiesAtCommit(t *testing.T) {
	ctx := testCtx(t)
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
	require.NoError(t, err)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	o := pgschema.Options{Ahead: -1, Back: pgschema.MaxBack}
	_, err = pgschema.Migrate(ctx, pool, o)
	require.NoError(t, err)
	e, h := newExporter(t, pool)

	staged := func() int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_temp.otelaudit_stage_audit_logs`).Scan(&n))
		return n
	}
	twice := func(records []sdklog.Record) {
		t.Helper()
		require.NoError(t, e.Export(ctx, records))
		require.NoError(t, e.Export(ctx, records), "the second time through the staging table")
	}

	jan := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	old := logins(100, jan)
	twice(old)
	require.Equal(t, auditrow.ExportStats{Received: 200, Written: 100, AlreadyStored: 100, Rejected: zeroRejected()}, e.Stats())
	require.Zero(t, staged(), "the staging table is empty once its transaction committed")

	dropped, err := pgschema.DropPartitionsBefore(ctx, pool, o, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, dropped, 1)

	recent := logins(100, batchTime)
	twice(recent)
	require.Equal(t, auditrow.ExportStats{Received: 400, Written: 200, AlreadyStored: 200, Rejected: zeroRejected()}, e.Stats())
	require.Empty(t, h.All())
	require.Zero(t, staged())

	var got []string
	for _, r := range readRows(t, pool) {
		got = append(got, r.EventID.String())
	}
	require.Equal(t, eventIDs(t, recent), got, "the recent rows, and none of those retention dropped")
}

// zeroRejected is ExportStats.Rejected of an exporter that rejected
// nothing: every reason is a key.
func zeroRejected() map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range auditrow.Reasons() {
		m[r] = 0
	}
	return m
}

// eventIDs returns the event ids the mapping gives records, in order.
func eventIDs(t *testing.T, records []sdklog.Record) []string {
	t.Helper()
	m := auditrow.NewMapper(auditrow.Options{})
	ids := make([]string, len(records))
	for i := range records {
		row, err := m.MapRecord(&records[i])
		require.NoError(t, err)
		ids[i] = row.EventID.String()
	}
	return ids
}
