package postgreslog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

var batchTime = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TestIdempotentSameBatchTwice(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool)
	const n = 3000
	records := logins(n, batchTime)

	require.NoError(t, e.Export(ctx, records))
	require.NoError(t, e.Export(ctx, records))
	rows, ids := count(t, pool)
	require.Equal(t, n, rows)
	require.Equal(t, n, ids)
	s := e.Stats()
	require.Equal(t, uint64(2*n), s.Received)
	require.Equal(t, uint64(n), s.Written)
	require.Equal(t, uint64(n), s.AlreadyStored)
	require.Empty(t, h.All())

	t.Run("a second exporter", func(t *testing.T) {
		e2, _ := newExporter(t, pool)
		require.NoError(t, e2.Export(ctx, records[:100]))
		require.Equal(t, uint64(100), e2.Stats().AlreadyStored)
		rows, _ := count(t, pool)
		require.Equal(t, n, rows)
	})

	t.Run("partly new", func(t *testing.T) {
		more := logins(n+500, batchTime) // the same n first records, and 500 new ones
		// The records carry their own ids: take the stored ones and the new ones.
		mixed := append(append([]sdklog.Record{}, records[:n/2]...), more[n:]...)
		require.NoError(t, e.Export(ctx, mixed))
		rows, ids := count(t, pool)
		require.Equal(t, n+500, rows)
		require.Equal(t, n+500, ids)
	})
}

func TestIdempotentDuplicatesInOneBatch(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool)
	records := logins(200, batchTime)
	batch := append(append([]sdklog.Record{}, records...), records[50:60]...) // ten records twice
	require.NoError(t, e.Export(ctx, batch))
	rows, ids := count(t, pool)
	require.Equal(t, 200, rows)
	require.Equal(t, 200, ids)
	s := e.Stats()
	require.Equal(t, uint64(200), s.Written)
	require.Equal(t, uint64(10), s.AlreadyStored)
}

// TestIdempotentDerivedIDs: records without an event id (from a plain
// OTel logger, not the bridge) get ids derived from their content. Two
// events of the same user at the same time that differ only in their
// details, or only in one attribute outside the contract, are two rows;
// the same record given twice is one.
func TestIdempotentDerivedIDs(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool)

	records := corpus.Capture(func(lp log.LoggerProvider) {
		emit := func(reason, route string) {
			var r log.Record
			r.SetEventName("audit.settings_changed")
			r.SetTimestamp(batchTime)
			r.AddAttributes(
				attribute.String(otelaudit.KeyUserID, "usr_1"),
				attribute.String(otelaudit.KeyWorkspaceID, "ws_1"),
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("reason", reason))},
				attribute.String("http.route", route),
			)
			lp.Logger("plain").Emit(context.Background(), r)
		}
		emit("review", "/a")
		emit("incident", "/a") // details differ
		emit("review", "/b")   // another attribute differs
		emit("review", "/a")   // the first again
	})
	require.NoError(t, e.Export(ctx, records))
	s := e.Stats()
	require.Equal(t, uint64(3), s.Written)
	require.Equal(t, uint64(1), s.AlreadyStored, "the same record twice is one event")

	type stored struct{ details, attributes string }
	got := map[string]stored{}
	for _, r := range readRows(t, pool) {
		require.Equal(t, []string{"log.record.uid:generated_id"}, r.Sanitized)
		require.Equal(t, "usr_1", *r.UserID)
		require.NotContains(t, got, r.EventID.String())
		got[r.EventID.String()] = stored{string(r.Details), string(r.Attributes)}
	}
	want := []stored{
		{`{"reason": "review"}`, `{"http.route": "/a"}`},
		{`{"reason": "incident"}`, `{"http.route": "/a"}`},
		{`{"reason": "review"}`, `{"http.route": "/b"}`},
	}
	require.ElementsMatch(t, want, mapValues(got))

	require.NoError(t, e.Export(ctx, records), "exported again: the same ids")
	require.Equal(t, uint64(1+4), e.Stats().AlreadyStored)
	rows, ids := count(t, pool)
	require.Equal(t, 3, rows)
	require.Equal(t, 3, ids)
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestRetryAfterKilledConnection cuts the connection of one COPY of an
// Export, during it or after its commit, with one writer (the batch is one
// COPY) and with two (the batch is two COPYs at once, of 2500 records
// each, and one of them is cut): the Export retries that COPY and stores
// every event once.
func TestRetryAfterKilledConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    killMode
		writers int
		// wantAlreadyStored: the killed attempt committed.
		wantAlreadyStored bool
	}{
		{"killed during the COPY", killOnCopyData, 1, false},
		{"killed after the commit, before the acknowledgement", killAfterCopyCommit, 1, true},
		{"two writers, one killed during its COPY", killOnCopyData, 2, false},
		{"two writers, one killed after its commit", killAfterCopyCommit, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			pool := migrated(t, pgschema.Options{})
			p := newProxy(t, pool.Config().ConnConfig.Host+":"+fmt.Sprint(pool.Config().ConnConfig.Port))
			through := poolThrough(t, pool, p)
			e, h := newExporter(t, through, postgreslog.WithWriters(tc.writers))
			const n = 5000
			records := logins(n, batchTime)

			// Warm the exporter (partition cache, connections) so that the
			// kill hits the COPY of the batch under test.
			require.NoError(t, e.Export(ctx, logins(1, batchTime.Add(-time.Hour))))
			p.arm(tc.mode)
			require.NoError(t, e.Export(ctx, records))
			require.Equal(t, int32(1), p.killed.Load(), "the proxy cut a connection")

			rows, ids := count(t, pool)
			require.Equal(t, n+1, rows, "exactly one row per event")
			require.Equal(t, n+1, ids)
			s := e.Stats()
			require.GreaterOrEqual(t, s.Retried, uint64(1))
			require.Equal(t, uint64(n+1), s.Written+s.AlreadyStored)
			if tc.wantAlreadyStored {
				require.Equal(t, uint64(n/tc.writers), s.AlreadyStored, "the retry found the committed rows of the cut COPY")
			} else {
				require.Zero(t, s.AlreadyStored)
			}
			require.Zero(t, s.Failed)
			require.Empty(t, h.All())
		})
	}
}

func TestTerminatedBackend(t *testing.T) {
	// pg_terminate_backend from another session, on every connection of
	// the exporter's pool, between two exports: the next export finds a
	// dead connection (FATAL 57P01, or EOF) and retries on a new one.
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, admin, pgschema.Options{Back: pgschema.MaxBack})
	require.NoError(t, err)
	pool := poolThrough(t, admin, newProxy(t, admin.Config().ConnConfig.Host+":"+fmt.Sprint(admin.Config().ConnConfig.Port)))
	e, _ := newExporter(t, pool)
	require.NoError(t, e.Export(ctx, logins(10, batchTime)))

	_, err = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
	require.NoError(t, err)

	records := logins(1000, batchTime.Add(time.Second))
	require.NoError(t, e.Export(ctx, records))
	rows, ids := count(t, admin)
	require.Equal(t, 1010, rows)
	require.Equal(t, 1010, ids)
	require.Equal(t, uint64(1010), e.Stats().Written)
}
