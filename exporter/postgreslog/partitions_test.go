package postgreslog_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// at returns one login record at t.
func at(t time.Time, user string) sdklog.Record {
	return auditRecords(func(a *bridge.Auditor) {
		a.Record(context.Background(), otelaudit.Event{Time: t, Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{UserID: user}})
	})[0]
}

func TestPartitionsAcrossMonthBoundary(t *testing.T) {
	ctx := testCtx(t)
	o := pgschema.Options{Ahead: -1} // only this month's partition exists
	pool := migrated(t, o)
	e, h := newExporter(t, pool)

	lastOfDec := time.Date(2019, 12, 31, 23, 59, 59, 999999000, time.UTC)
	firstOfJan := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	records := []sdklog.Record{
		at(lastOfDec, "dec"),
		at(firstOfJan, "jan"),
		at(time.Now(), "now"), // an existing partition, in the same batch
		at(firstOfJan.Add(-time.Microsecond), "dec2"),
		at(time.Date(2020, 1, 31, 23, 0, 0, 0, time.FixedZone("UTC-3", -3*3600)), "feb"), // 2020-02-01T02:00Z
	}
	require.NoError(t, e.Export(ctx, records))
	require.Empty(t, h.All())

	got := map[string]string{}
	for _, r := range readRows(t, pool) {
		got[*r.UserID] = r.Partition
	}
	thisMonth := "audit_logs_p" + time.Now().UTC().Format("200601")
	require.Equal(t, map[string]string{
		"dec": "audit_logs_p201912", "dec2": "audit_logs_p201912",
		"jan": "audit_logs_p202001", "feb": "audit_logs_p202002",
		"now": thisMonth,
	}, got)

	ps, err := pgschema.ListPartitions(ctx, pool, o)
	require.NoError(t, err)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	// Each new month came with the next one, ready before it is needed.
	require.Subset(t, names, []string{"audit_logs_p201912", "audit_logs_p202001", "audit_logs_p202002", "audit_logs_p202003"})

	t.Run("a cached partition dropped by retention is created again", func(t *testing.T) {
		dropped, err := pgschema.DropPartitionsBefore(ctx, pool, o, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.Len(t, dropped, 1)
		// The exporter still believes December exists.
		late := at(time.Date(2019, 12, 15, 0, 0, 0, 0, time.UTC), "late")
		require.NoError(t, e.Export(ctx, []sdklog.Record{late, at(firstOfJan.Add(time.Hour), "jan2")}))
		var part string
		require.NoError(t, pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM audit_logs WHERE user_id = 'late'`).Scan(&part))
		require.Equal(t, "audit_logs_p201912", part)
		require.Empty(t, h.All())
	})

	t.Run("a second exporter finds the partitions in the registry", func(t *testing.T) {
		e2, _ := newExporter(t, pool)
		require.NoError(t, e2.Export(ctx, []sdklog.Record{at(firstOfJan.Add(2*time.Hour), "jan3")}))
		require.Equal(t, uint64(1), e2.Stats().Written)
	})
}

func TestPartitionsDaily(t *testing.T) {
	ctx := testCtx(t)
	o := pgschema.Options{Interval: pgschema.Daily, Ahead: -1}
	pool := migrated(t, o)
	e, _ := newExporter(t, pool)
	midnight := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	require.NoError(t, e.Export(ctx, []sdklog.Record{at(midnight.Add(-time.Microsecond), "a"), at(midnight, "b")}))
	got := map[string]string{}
	for _, r := range readRows(t, pool) {
		got[*r.UserID] = r.Partition
	}
	require.Equal(t, map[string]string{"a": "audit_logs_p20240228", "b": "audit_logs_p20240229"}, got)
}
