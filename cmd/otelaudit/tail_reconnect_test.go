package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

// tail -f goes on across a restart of the server: every event once.
func TestTailFollowsAcrossRestart(t *testing.T) {
	srv := testenv.StartPostgres(t)
	vars := map[string]string{envPostgres: srv.DSN()}
	getenv := func(k string) string { return vars[k] }
	var out, errOut syncBuffer
	require.Equal(t, exitOK, run(testCtx(t), []string{"migrate"}, env{stdout: &out, stderr: &errOut, getenv: getenv}), errOut.String())
	pool, err := pgxpool.New(testCtx(t), srv.DSN())
	require.NoError(t, err)
	defer pool.Close()
	write := func(n int, at time.Time) []string {
		evs := events(n, at)
		recs := captureRecords(t, evs)
		exp, err := postgreslog.New(pool)
		require.NoError(t, err)
		require.NoError(t, exp.Export(testCtx(t), recs))
		require.NoError(t, exp.Shutdown(context.Background()))
		ids := make([]string, n)
		for i, ev := range evs {
			ids[i] = ev.ID.String()
		}
		return ids
	}

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var tailOut, tailErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "-f", "-n", "0", "--interval", "20ms", "--retry", "100ms", "--output", "jsonl"},
			env{stdout: &tailOut, stderr: &tailErr, getenv: getenv})
	}()
	time.Sleep(300 * time.Millisecond) // the cursor is taken
	base := time.Now().UTC().Add(-time.Hour)
	want := write(3, base)
	require.Eventually(t, func() bool { return len(lines(tailOut.String())) == 3 }, 30*time.Second, 10*time.Millisecond)

	srv.Stop(t)
	require.Eventually(t, func() bool { return strings.Contains(tailErr.String(), "retrying in 100ms") }, 30*time.Second, 10*time.Millisecond)
	srv.Start(t)
	want = append(want, write(4, base.Add(time.Minute))...)
	require.Eventually(t, func() bool { return len(lines(tailOut.String())) == len(want) }, 60*time.Second, 20*time.Millisecond, tailErr.String())
	time.Sleep(100 * time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done, tailErr.String())
	got := lines(tailOut.String())
	require.Len(t, got, len(want))
	for i, id := range want {
		require.Contains(t, got[i], id)
	}
}
