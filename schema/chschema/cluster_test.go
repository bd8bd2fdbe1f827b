package chschema_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The cluster of the cluster tests: two shards of two replicas each,
// ClickHouse 18.16 on loopback, with ZooKeeper.
const (
	clusterName     = "otelaudit"
	clusterShards   = 2
	clusterReplicas = 2
)

// syncInsert makes an INSERT into a Distributed table return once every
// shard has its rows (insert_distributed_sync), so that an insert that
// returns is stored, and one a shard cannot take fails; without it, the
// server that received the rows queues them on its disk and forwards them
// later.
var syncInsert = clickhouse.Settings{"insert_distributed_sync": 1}

// openCH opens a connection to dsn with settings, closed when the test
// ends.
func openCH(t *testing.T, dsn string, settings clickhouse.Settings) driver.Conn {
	t.Helper()
	opt, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	opt.Settings = settings
	conn, err := clickhouse.Open(opt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.Ping(ctxT(t)))
	return conn
}

// testCluster is a running cluster with a connection to every server.
type testCluster struct {
	*testenv.ClickHouseCluster
	conns [][]driver.Conn // [shard][replica]
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	zk := testenv.StartZooKeeper(t)
	cl := testenv.StartClickHouseCluster(t, zk, clusterName, clusterShards, clusterReplicas)
	tc := &testCluster{ClickHouseCluster: cl, conns: make([][]driver.Conn, clusterShards)}
	for s := range clusterShards {
		for r := range clusterReplicas {
			tc.conns[s] = append(tc.conns[s], openCH(t, cl.Server(s, r).DSN(), nil))
		}
	}
	return tc
}

// syncReplicas waits until every replica has fetched what its shard has.
func (tc *testCluster) syncReplicas(t *testing.T, db string) {
	t.Helper()
	for _, shard := range tc.conns {
		for _, c := range shard {
			for _, table := range []string{"audit_logs_local", "audit_logs_daily_local"} {
				require.NoError(t, c.Exec(ctxT(t), "SYSTEM SYNC REPLICA `"+db+"`.`"+table+"`"))
			}
		}
	}
}

// placement reads the local audit table of every server and checks that
// the replicas of each shard hold the same rows and that every event id
// is on the shard its hash names (cityHash64 of its text, modulo the
// shards: the Distributed table's sharding key, equal weights); it
// returns, per event id, how many rows the cluster holds, counted
// without FINAL or DISTINCT.
func (tc *testCluster) placement(t *testing.T, db string) map[string]int {
	t.Helper()
	total := map[string]int{}
	for s, shard := range tc.conns {
		var first []string
		for r, c := range shard {
			rows := queryRows(t, c, fmt.Sprintf("SELECT toString(event_id), count(), cityHash64(toString(event_id)) %% %d FROM `%s`.audit_logs_local GROUP BY event_id ORDER BY event_id", clusterShards, db), nil)
			if r == 0 {
				first = rows
				continue
			}
			require.Equal(t, first, rows, "replica %d of shard %d holds what replica 1 holds", r+1, s+1)
		}
		for _, row := range first {
			parts := strings.Split(row, "|")
			require.Len(t, parts, 3)
			require.Equal(t, fmt.Sprint(s), parts[2], "event %s is on shard %d, its hash names shard index %s", parts[0], s+1, parts[2])
			var n int
			_, err := fmt.Sscan(parts[1], &n)
			require.NoError(t, err)
			total[parts[0]] += n
		}
	}
	return total
}

// requireOnce checks that each of ids is stored exactly once in the
// cluster, and nothing else.
func requireOnce(t *testing.T, counts map[string]int, ids []uuid.UUID) {
	t.Helper()
	require.Len(t, counts, len(ids), "distinct event ids in the cluster")
	for _, id := range ids {
		require.Equal(t, 1, counts[id.String()], "rows of event %s", id)
	}
}

// optimize merges every part of the audit table on every shard (OPTIMIZE
// on a Replicated table merges on one replica and replicates the result).
func (tc *testCluster) optimize(t *testing.T, db string, partitions ...string) {
	t.Helper()
	for _, shard := range tc.conns {
		for _, p := range partitions {
			require.NoError(t, shard[0].Exec(ctxT(t), "OPTIMIZE TABLE `"+db+"`.audit_logs_local PARTITION "+p+" FINAL"))
		}
	}
	tc.syncReplicas(t, db)
}

// TestClusterLive migrates the schema with ON CLUSTER onto two shards of
// two replicas, writes the seed through the whole path (bridge ->
// BatchProcessor -> clickhouselog) into the Distributed table, and checks
// where every row landed, that the query pack gives the hand-worked
// answers and the same answers as a single server with the same data,
// and that a re-sent seed collapses to one row per event once the parts
// merge.
func TestClusterLive(t *testing.T) {
	t.Parallel()
	tc := startCluster(t)
	opts := chschema.Options{Database: "audit", Cluster: clusterName}
	admin := tc.conns[0][0]
	layout, err := chschema.Migrate(ctxT(t), admin, opts)
	require.NoError(t, err)
	require.Equal(t, chschema.LayoutCompat, layout)

	t.Run("migrated on every server", func(t *testing.T) {
		for s, shard := range tc.conns {
			for r, c := range shard {
				got := queryRows(t, c, "SELECT name, engine FROM system.tables WHERE database = 'audit' ORDER BY name", nil)
				require.Equal(t, []string{
					"audit_logs|Distributed",
					"audit_logs_daily|Distributed",
					"audit_logs_daily_local|ReplicatedSummingMergeTree",
					"audit_logs_daily_local_mv|MaterializedView",
					"audit_logs_local|ReplicatedReplacingMergeTree",
					"otelaudit_migrations|ReplicatedReplacingMergeTree",
				}, got, "shard %d replica %d", s+1, r+1)
			}
		}
		// A second run finds the migrations recorded and changes nothing;
		// so does a run from a server of the other shard, whose
		// migrations table (replicated within its shard) has no record
		// yet: every statement is IF NOT EXISTS.
		for _, c := range []driver.Conn{admin, tc.conns[1][1]} {
			again, err := chschema.Migrate(ctxT(t), c, opts)
			require.NoError(t, err)
			require.Equal(t, layout, again)
		}
		require.EqualValues(t, 2, count(t, tc.conns[1][1], "SELECT count() FROM audit.otelaudit_migrations FINAL"), "recorded on the other shard too")
	})

	conn := openCH(t, tc.Server(0, 0).DSN(), syncInsert)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	events := seedEvents()
	for _, r := range [][2]int{{0, 10}, {10, 25}, {25, len(events)}} {
		emit(t, exp, events[r[0]:r[1]], r[0]+1)
	}
	require.EqualValues(t, len(events), exp.Stats().Written)
	tc.syncReplicas(t, "audit")
	ids := make([]uuid.UUID, len(events))
	for i := range events {
		ids[i] = seedID(i + 1)
	}

	t.Run("each event on one shard", func(t *testing.T) {
		counts := tc.placement(t, "audit")
		requireOnce(t, counts, ids)
		for s, shard := range tc.conns {
			n := count(t, shard[0], "SELECT count() FROM audit.audit_logs_local")
			require.NotZero(t, n, "shard %d holds some of the seed", s+1)
		}
		require.EqualValues(t, len(events), count(t, admin, "SELECT count() FROM audit.audit_logs"))
		require.EqualValues(t, len(events), count(t, admin, "SELECT sum(events) FROM audit.audit_logs_daily"))
	})

	pack, err := chschema.Queries(layout, opts)
	require.NoError(t, err)
	byName := map[string]chschema.Query{}
	for _, q := range pack {
		byName[q.Name] = q
	}
	// The same seed on one server: the shared test server.
	single, singleOpts, singleLayout, _ := seeded(t)
	singlePack, err := chschema.Queries(singleLayout, singleOpts)
	require.NoError(t, err)
	singleByName := map[string]chschema.Query{}
	for _, q := range singlePack {
		singleByName[q.Name] = q
	}
	checkPack := func(t *testing.T) {
		for _, pc := range packCases() {
			q, ok := byName[pc.query]
			require.True(t, ok, "no query %s in the pack", pc.query)
			got := queryRows(t, conn, q.SQL, pc.args, pc.skip...)
			require.Equal(t, pc.want, got, "%s %v on the cluster", pc.query, pc.args)
			require.Equal(t, queryRows(t, single, singleByName[pc.query].SQL, pc.args, pc.skip...), got, "%s %v: the cluster and a single server differ", pc.query, pc.args)
		}
	}
	t.Run("query pack", checkPack)

	t.Run("re-sent events", func(t *testing.T) {
		// Every seed event again, as a Collector re-sending would, in
		// another second than the first insert: the compat layout's
		// ingest_version counts seconds, and a block identical to an
		// earlier one (same rows, same ingest_version) would be dropped
		// by the replicated table's insert deduplication. The server's
		// clock is coarse: a little past the boundary.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 100*time.Millisecond)))
		emit(t, exp, events, 1)
		tc.syncReplicas(t, "audit")
		// The copies are stored until the parts merge. A background merge
		// may already have collapsed some (it runs as soon as a partition
		// has two parts; stopping merges on replicated 18.16 tables stalls
		// the later ON CLUSTER statements), so the count is between one and
		// two rows per event, and some copies must be left to check.
		total := count(t, admin, "SELECT count() FROM audit.audit_logs")
		require.LessOrEqual(t, total, uint64(2*len(events)))
		require.Greater(t, total, uint64(len(events)), "every copy was merged away before the count")
		// Each copy went to the shard of its event (placement checks every
		// row's shard), where the rows of the event sit.
		copies := 0
		for id, n := range tc.placement(t, "audit") {
			require.Contains(t, []int{1, 2}, n, "rows of event %s before the merge", id)
			copies += n - 1
		}
		require.EqualValues(t, total-uint64(len(events)), copies)
		// So uniqExact and LIMIT 1 BY event_id, evaluated per shard, see
		// each event once.
		require.EqualValues(t, len(events), count(t, admin, "SELECT uniqExact(event_id) FROM audit.audit_logs"))
		for _, pc := range packCases() {
			if byName[pc.query].FromRollup {
				continue
			}
			require.Equal(t, pc.want, queryRows(t, conn, byName[pc.query].SQL, pc.args, pc.skip...), "%s %v with copies", pc.query, pc.args)
		}
		// What the design says: ReplacingMergeTree collapses copies when
		// parts merge.
		tc.optimize(t, "audit", "202405", "202406")
		requireOnce(t, tc.placement(t, "audit"), ids)

		// RebuildRollup recomputes the rollup over the cluster.
		// The rollup counted the copies, except where a rollup block equal
		// to an earlier one was dropped by the replicated table's insert
		// deduplication (the blocks follow the batches, so it depends on
		// how the processor cut them).
		rolled := count(t, admin, "SELECT sum(events) FROM audit.audit_logs_daily")
		require.GreaterOrEqual(t, rolled, uint64(len(events)))
		require.LessOrEqual(t, rolled, uint64(2*len(events)))
		for _, month := range []time.Time{may1, day1} {
			require.NoError(t, chschema.RebuildRollup(ctxT(t), conn, opts, month))
		}
		tc.syncReplicas(t, "audit")
		require.EqualValues(t, len(events), count(t, admin, "SELECT sum(events) FROM audit.audit_logs_daily"))
		checkPack(t)
	})

	t.Run("retention", func(t *testing.T) {
		// An event in April 2024 whose id hashes to the second shard:
		// the server the admin connection reaches holds no April part.
		n := 100
		for ; ; n++ {
			var shard uint64
			require.NoError(t, admin.QueryRow(ctxT(t), fmt.Sprintf("SELECT toUInt64(cityHash64(toString(toUUID('%s'))) %% %d)", seedID(n), clusterShards)).Scan(&shard))
			if shard == 1 {
				break
			}
		}
		april := otelaudit.Event{Time: time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC), Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{WorkspaceID: "ws_a", UserID: "u1"}}
		emit(t, exp, []otelaudit.Event{april}, n)
		tc.syncReplicas(t, "audit")
		require.EqualValues(t, 1, count(t, tc.conns[1][0], "SELECT count() FROM audit.audit_logs_local WHERE toYYYYMM(time) = 202404"))
		require.Zero(t, count(t, admin, "SELECT count() FROM audit.audit_logs_local WHERE toYYYYMM(time) = 202404"))

		ttl := opts
		ttl.TTLDays = 30 // on 2024-07-01, April and May are expired
		dropped, err := chschema.DropExpiredPartitions(ctxT(t), admin, ttl, jul1)
		require.NoError(t, err)
		require.Equal(t, []string{"202404", "202405"}, dropped)
		tc.syncReplicas(t, "audit")
		for s, shard := range tc.conns {
			for r, c := range shard {
				require.Zero(t, count(t, c, "SELECT count() FROM audit.audit_logs_local WHERE toYYYYMM(time) < 202406"), "shard %d replica %d", s+1, r+1)
			}
		}
		require.EqualValues(t, len(events)-2, count(t, admin, "SELECT count() FROM audit.audit_logs"), "the two May events are gone, June's stay")
	})
}

// outageEvent is event i of the outage test: logins in June 2024, ids of
// their own.
func outageEvent(i int) otelaudit.Event {
	return otelaudit.Event{
		ID:     uuid.MustParse(fmt.Sprintf("01900000-0000-7000-9000-%012d", i)),
		Time:   day1.Add(time.Duration(i) * time.Second),
		Action: otelaudit.ActionLogin,
		Actor:  otelaudit.Actor{WorkspaceID: fmt.Sprintf("ws_%d", i%5), UserID: fmt.Sprintf("u%d", i%50)},
		Client: otelaudit.Client{IP: "192.0.2.1"},
	}
}

// TestClusterShardOutageLive writes through the whole path (bridge ->
// BatchProcessor -> clickhouselog) into the Distributed table, with
// synchronous inserts, while first one replica of the second shard is
// stopped, then the whole shard, and checks what the exporter does: with
// a replica left, nothing fails and the stopped replica catches up once
// started; with none, the insert fails (code 279, "All connection tries
// failed") and is retried, looking up first which rows are stored already
// (the lookup fails too until the shard is back). Nothing is lost,
// nothing is stored twice, and the retries are counted. Last, without
// insert_distributed_sync, the inserts succeed while the shard is down
// and the rows queued on the receiving server arrive once it is back.
func TestClusterShardOutageLive(t *testing.T) {
	t.Parallel()
	tc := startCluster(t)
	opts := chschema.Options{Database: "outage", Cluster: clusterName}
	layout, err := chschema.Migrate(ctxT(t), tc.conns[0][0], opts)
	require.NoError(t, err)

	conn := openCH(t, tc.Server(0, 0).DSN(), syncInsert)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout),
		clickhouselog.WithRetry(clickhouselog.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond, MaxElapsedTime: 2 * time.Minute}))
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		handled []error
	)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(keepOpen{exp},
		sdklog.WithExportMaxBatchSize(200), sdklog.WithMaxQueueSize(10_000))))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, err)
	}))
	var ids []uuid.UUID
	// write records n events and flushes them: one INSERT of n rows.
	write := func(n int) error {
		for range n {
			e := outageEvent(len(ids))
			ids = append(ids, e.ID)
			a.Record(context.Background(), e)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		return lp.ForceFlush(ctx)
	}

	require.NoError(t, write(200))
	t.Run("one replica down", func(t *testing.T) {
		tc.Server(1, 1).Stop(t)
		for range 3 {
			require.NoError(t, write(200))
		}
		st := exp.Stats()
		require.Zero(t, st.Failed)
		require.Zero(t, st.Retried, "the other replica took the inserts")
		require.EqualValues(t, len(ids), st.Written)
		tc.Server(1, 1).Start(t)
		tc.syncReplicas(t, "outage") // placement below compares the replicas
	})

	t.Run("whole shard down", func(t *testing.T) {
		tc.Server(1, 0).Stop(t)
		tc.Server(1, 1).Stop(t)
		before := exp.Stats()
		flushed := make(chan error, 1)
		go func() { flushed <- write(200) }()
		// The insert fails and is retried while the shard is down.
		deadline := time.Now().Add(time.Minute)
		for st := exp.Stats(); st.Retried < before.Retried+3; st = exp.Stats() {
			require.Equal(t, before.Failed, st.Failed, "the batch was given up: %+v", st)
			require.True(t, time.Now().Before(deadline), "no retry within a minute: %+v", st)
			time.Sleep(50 * time.Millisecond)
		}
		select {
		case err := <-flushed:
			t.Fatalf("the batch was done (%v) while its shard was down: %+v", err, exp.Stats())
		default:
		}
		tc.Server(1, 0).Start(t)
		tc.Server(1, 1).Start(t)
		require.NoError(t, <-flushed)
		st := exp.Stats()
		t.Logf("exporter stats: %+v", st)
		require.Zero(t, st.Failed, "no batch given up")
		require.Greater(t, st.Retried, before.Retried+2)
		// Rows a failed attempt stored are found before the next one and
		// counted in AlreadyStored; 18.16 stored none on the first shard
		// (its log says "Wrote 1 blocks" there, but no part appears).
		require.EqualValues(t, len(ids), st.Written+st.AlreadyStored, "every record written or found stored")
	})

	t.Run("whole shard down, asynchronous inserts", func(t *testing.T) {
		// Without insert_distributed_sync, the server that receives an
		// INSERT queues the other shard's rows on its own disk: the
		// exporter's inserts succeed while the shard is down, and the rows
		// arrive once it is back.
		aexp, err := clickhouselog.New(openCH(t, tc.Server(0, 0).DSN(), nil), clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
		require.NoError(t, err)
		alp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(aexp, sdklog.WithExportMaxBatchSize(200))))
		aa := bridge.New(bridge.WithLoggerProvider(alp), bridge.WithErrorHandler(func(err error) { t.Errorf("record refused: %v", err) }))
		tc.Server(1, 0).Stop(t)
		tc.Server(1, 1).Stop(t)
		for range 200 {
			e := outageEvent(len(ids))
			ids = append(ids, e.ID)
			aa.Record(context.Background(), e)
		}
		require.NoError(t, alp.Shutdown(ctxT(t)))
		st := aexp.Stats()
		require.EqualValues(t, 200, st.Written, "queued on the first shard's server")
		require.Zero(t, st.Retried)
		require.Zero(t, st.Failed)
		tc.Server(1, 0).Start(t)
		tc.Server(1, 1).Start(t)
		deadline := time.Now().Add(90 * time.Second)
		for {
			n := count(t, tc.conns[0][0], "SELECT count() FROM outage.audit_logs")
			if n == uint64(len(ids)) {
				break
			}
			require.True(t, time.Now().Before(deadline), "the queued rows did not arrive within 90 s: %d of %d", n, len(ids))
			time.Sleep(200 * time.Millisecond)
		}
	})

	require.NoError(t, lp.Shutdown(ctxT(t)))
	mu.Lock()
	require.Empty(t, handled)
	mu.Unlock()
	require.EqualValues(t, len(ids)-200, exp.Stats().Received)
	tc.syncReplicas(t, "outage")
	// Exactly once, before any merge.
	requireOnce(t, tc.placement(t, "outage"), ids)
}
