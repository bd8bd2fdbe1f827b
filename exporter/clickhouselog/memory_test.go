package clickhouselog_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// bigRecords returns n data-export records whose details hold size bytes
// of JSON each, then one login of user "bystander".
func bigRecords(n, size int) []sdklog.Record {
	blob := strings.Repeat("x", size)
	return corpus.Capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		for range n {
			a.Record(context.Background(), otelaudit.Event{Action: otelaudit.ActionDataExportCompleted,
				Actor: otelaudit.Actor{UserID: "exporter", WorkspaceID: "ws"}, Details: attribute.MapValue(attribute.String("blob", blob))})
		}
		a.Login(context.Background(), otelaudit.Actor{UserID: "bystander", WorkspaceID: "ws"})
	})
}

// bigValues lets a record's details be as large as the tests make them.
var bigValues = clickhouselog.WithMapping(auditrow.Options{MaxValueBytes: 4 << 20})

// Replays the memory finding, first half: an Export held every row of its
// batch at once, whatever their size. Rows now go out in INSERTs of at
// most WithMaxInsertBytes, mapped as they go.
func TestExportSplitsByBytesLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	stopMerges(t, conn) // one part per INSERT
	const limit = 4 << 20
	exp, h := newExporter(t, conn, opts, bigValues, clickhouselog.WithMaxInsertBytes(limit))
	recs := bigRecords(40, 1<<20)
	require.NoError(t, exp.Export(ctxT(t), recs))
	require.Empty(t, h.All())
	require.EqualValues(t, 41, exp.Stats().Written)
	require.Equal(t, recordIDs(t, recs), storedIDs(t, conn))

	rows, err := conn.Query(ctxT(t), "SELECT _part, count(), sum(length(details)) FROM audit_logs GROUP BY _part")
	require.NoError(t, err)
	defer rows.Close()
	parts := 0
	for rows.Next() {
		var part string
		var n, bytes uint64
		require.NoError(t, rows.Scan(&part, &n, &bytes))
		parts++
		// An INSERT is sent once its rows reach the limit: it holds at
		// most the limit and one row more.
		require.LessOrEqual(t, bytes, uint64(limit+(1<<20)+1024), "part %s: %d rows", part, n)
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, parts, 40/5, "about a part per 4 MiB")
}

// Replays the memory finding, second half: when the server refused a batch
// for memory, every record of it failed, an unrelated login included. The
// server here may use 64 MiB per query; one INSERT of the whole batch
// (40 MiB of details) is more than that, and 18.16 closes the connection
// while the block is being written. The exporter now bisects.
func TestExportMemoryRefusalBisectsLive(t *testing.T) {
	t.Parallel()
	dsn, db := testenv.ClickHouseDSN(t)
	opt, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	opt.Settings = clickhouse.Settings{"max_memory_usage": 64 << 20}
	conn, err := clickhouse.Open(opt)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	opts := chschema.Options{Database: db}
	_, err = chschema.Migrate(ctxT(t), conn, opts)
	require.NoError(t, err)
	stopMerges(t, conn)

	exp, h := newExporter(t, conn, opts, bigValues, clickhouselog.WithMaxInsertBytes(1<<30))
	recs := bigRecords(40, 1<<20)
	require.NoError(t, exp.Export(ctxT(t), recs))
	require.Empty(t, h.All())
	st := exp.Stats()
	require.EqualValues(t, 41, st.Written+st.AlreadyStored)
	require.Zero(t, st.Failed)
	require.Positive(t, st.Retried, "the whole batch was refused first")
	require.Equal(t, recordIDs(t, recs), storedIDs(t, conn), "every record once, the bystander included")
}

// peakHeap runs f while sampling the heap, and returns how far the heap in
// use rose above what it was before f, at most.
func peakHeap(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// The memory an Export holds beyond its records stays near a few times
// WithMaxInsertBytes, where a single INSERT of the whole batch holds
// several times the batch. Not parallel: it measures the process's heap,
// with the collector made eager.
func TestExportHeapBoundedLive(t *testing.T) {
	conn, opts, _ := migrated(t)
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	const input = 48 << 20
	recs := bigRecords(input>>20, 1<<20)

	measure := func(limit int) uint64 {
		exp, _ := newExporter(t, conn, opts, bigValues, clickhouselog.WithMaxInsertBytes(limit))
		grew := peakHeap(func() { require.NoError(t, exp.Export(ctxT(t), recs)) })
		require.EqualValues(t, len(recs), exp.Stats().Written+exp.Stats().AlreadyStored)
		return grew
	}
	whole := measure(1 << 30)
	bounded := measure(4 << 20)
	t.Logf("heap growth during an Export of %d MiB of details: %d MiB in one INSERT, %d MiB in INSERTs of 4 MiB", input>>20, whole>>20, bounded>>20)
	require.Greater(t, whole, uint64(2*input), "one INSERT holds several times the batch")
	require.Less(t, bounded, uint64(input), "bounded INSERTs hold less than the batch")
}
