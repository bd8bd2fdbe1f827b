package chschema_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	chschema "github.com/otelaudit/otelaudit/schema/clickhouse"
)

// TestRollupKeptUnderInsertsLive writes events from several goroutines in
// many small batches over three days and checks that the rollup's counts
// per workspace, action and day equal the audit table's, before and after
// the rollup's parts merge.
func TestRollupKeptUnderInsertsLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)

	actions := []otelaudit.Action{otelaudit.ActionLogin, otelaudit.ActionLogout, otelaudit.ActionSettingsChanged}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for batch := range 5 {
				var events []otelaudit.Event
				for i := range 30 {
					n := g*1000 + batch*100 + i
					e := otelaudit.Event{
						Time:   day1.Add(time.Duration(n%3)*24*time.Hour + time.Duration(n)*time.Second),
						Action: actions[n/3%len(actions)],
						Actor:  otelaudit.Actor{WorkspaceID: fmt.Sprintf("ws%d", n/9%4), UserID: "u"},
					}
					if n%5 == 0 {
						e.Outcome = otelaudit.Failure("denied")
					}
					events = append(events, e)
				}
				emit(t, exp, events, 100000+g*1000+batch*100)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 600, count(t, conn, "SELECT count() FROM audit_logs"))

	compare := func() {
		want := queryRows(t, conn, `SELECT toDate(time) AS day, workspace_id, action, count(), countIf(outcome = 'failure')
			FROM audit_logs GROUP BY day, workspace_id, action ORDER BY day, workspace_id, action`, nil)
		got := queryRows(t, conn, `SELECT day, workspace_id, action, sum(events), sum(failures)
			FROM audit_logs_daily GROUP BY day, workspace_id, action ORDER BY day, workspace_id, action`, nil)
		require.Len(t, want, 3*4*3)
		require.Equal(t, want, got)
	}
	compare()
	require.NoError(t, conn.Exec(ctxT(t), "OPTIMIZE TABLE audit_logs_daily PARTITION 202406 FINAL"))
	compare()
	require.LessOrEqual(t, count(t, conn, "SELECT count() FROM audit_logs_daily"), uint64(36), "merged into one row per key")
}

func TestDropExpiredPartitionsLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	var events []otelaudit.Event
	for m := 1; m <= 4; m++ {
		events = append(events, otelaudit.Event{Time: time.Date(2024, time.Month(m), 10, 0, 0, 0, 0, time.UTC), Action: otelaudit.ActionLogin})
	}
	emit(t, exp, events, 200000)

	o := opts
	dropped, err := chschema.DropExpiredPartitions(ctxT(t), conn, o, time.Date(2024, 4, 15, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Empty(t, dropped, "TTLDays 0 keeps everything")

	o.TTLDays = 30 // cutoff 2024-03-16: January and February have ended before it
	dropped, err = chschema.DropExpiredPartitions(ctxT(t), conn, o, time.Date(2024, 4, 15, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, []string{"202401", "202402"}, dropped)
	require.Equal(t, []string{"2024-03-10", "2024-04-10"}, queryRows(t, conn, "SELECT toDate(time) FROM audit_logs ORDER BY time", nil))
	require.EqualValues(t, 4, count(t, conn, "SELECT sum(events) FROM audit_logs_daily"), "the rollup is kept")
}
