package chschema_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York wherever the tests run

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
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

// TestDropExpiredPartitionsLive: with TTLDays 30, a month is dropped once
// its end (the first instant of the next month) is 30 days or more before
// now: at the boundary exactly, and after it; not a second or a day
// before it. Each case runs on a fresh table and checks what remains.
func TestDropExpiredPartitionsLive(t *testing.T) {
	t.Parallel()
	// February 2024 ends at 2024-03-01T00:00Z; 30 days later is
	// 2024-03-31T00:00Z.
	boundary := time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		ttlDays int
		now     time.Time
		dropped []string
		remains []string
	}{
		{"TTLDays 0 keeps everything, and says so", 0, boundary.AddDate(1, 0, 0), nil,
			[]string{"2024-01-10", "2024-02-29 23:59:59", "2024-03-01", "2024-04-10"}},
		{"a day before the boundary", 30, boundary.AddDate(0, 0, -1), []string{"202401"},
			[]string{"2024-02-29 23:59:59", "2024-03-01", "2024-04-10"}},
		{"a second before the boundary", 30, boundary.Add(-time.Second), []string{"202401"},
			[]string{"2024-02-29 23:59:59", "2024-03-01", "2024-04-10"}},
		{"at the boundary", 30, boundary, []string{"202401", "202402"},
			[]string{"2024-03-01", "2024-04-10"}},
		{"a day after the boundary", 30, boundary.AddDate(0, 0, 1), []string{"202401", "202402"},
			[]string{"2024-03-01", "2024-04-10"}},
		// Days are UTC days: in New York, the 30 days before now span the
		// switch to summer time, and are an hour shorter on its clock.
		{"half an hour before the boundary, in New York", 30, boundary.Add(-30 * time.Minute).In(newYork(t)), []string{"202401"},
			[]string{"2024-02-29 23:59:59", "2024-03-01", "2024-04-10"}},
		{"at the boundary, in New York", 30, boundary.In(newYork(t)), []string{"202401", "202402"},
			[]string{"2024-03-01", "2024-04-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, opts, layout := migrated(t)
			exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
			require.NoError(t, err)
			var events []otelaudit.Event
			for _, at := range []time.Time{
				time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC),
				time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), // February's last second
				time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),     // March's first
				time.Date(2024, 4, 10, 0, 0, 0, 0, time.UTC),
			} {
				events = append(events, otelaudit.Event{Time: at, Action: otelaudit.ActionLogin})
			}
			emit(t, exp, events, 200000)

			o := opts
			o.TTLDays = tt.ttlDays
			dropped, err := chschema.DropExpiredPartitions(ctxT(t), conn, o, tt.now)
			if tt.ttlDays == 0 {
				require.ErrorIs(t, err, chschema.ErrNoTTL)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.dropped, dropped)
			require.Equal(t, tt.remains, queryRows(t, conn, "SELECT time FROM audit_logs ORDER BY time", nil))
			require.EqualValues(t, 4, count(t, conn, "SELECT sum(events) FROM audit_logs_daily"), "the rollup is kept")
		})
	}
}

func newYork(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return loc
}

// DropPartitionsBefore drops by a cutoff whatever TTLDays, with the rule of
// the Postgres table: a month goes once it ends at or before the cutoff;
// PartitionsBefore is its dry run.
func TestDropPartitionsBeforeLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	var events []otelaudit.Event
	for _, at := range []time.Time{
		time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		events = append(events, otelaudit.Event{Time: at, Action: otelaudit.ActionLogin})
	}
	emit(t, exp, events, 300000)
	cutoff := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	plan, err := chschema.PartitionsBefore(ctxT(t), conn, opts, cutoff.Add(-time.Second))
	require.NoError(t, err)
	require.Equal(t, []string{"202401"}, plan, "February ends after the cutoff")
	plan, err = chschema.PartitionsBefore(ctxT(t), conn, opts, cutoff)
	require.NoError(t, err)
	require.Equal(t, []string{"202401", "202402"}, plan)
	require.EqualValues(t, 3, count(t, conn, "SELECT count() FROM audit_logs"), "the dry run drops nothing")
	dropped, err := chschema.DropPartitionsBefore(ctxT(t), conn, opts, cutoff)
	require.NoError(t, err)
	require.Equal(t, plan, dropped)
	require.Equal(t, []string{"2024-03-01"}, queryRows(t, conn, "SELECT time FROM audit_logs ORDER BY time", nil))
}
