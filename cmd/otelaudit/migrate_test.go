package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMigrateCommand(t *testing.T) {
	c := newCLI(t, true)
	out, errOut, code := c.run("migrate", "--reader-role", c.role("reader"))
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, []string{
		"postgres public.audit_logs: applied 0001, 0002, 0003, 0004, 0005, 0006, 0007",
		"postgres seal digests: applied 0001",
		"clickhouse " + c.chDB + ".audit_logs (compat layout): applied 0001, 0002",
	}, lines(out))

	out, errOut, code = c.run("migrate")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, []string{
		"postgres public.audit_logs: applied nothing (up to date)",
		"postgres seal digests: applied nothing (up to date)",
		"clickhouse " + c.chDB + ".audit_logs (compat layout): applied nothing (up to date)",
	}, lines(out))

	var n int
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT count(*) FROM audit_logs_schema_migrations").Scan(&n))
	require.Equal(t, 7, n)
	var chTables uint64
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT count() FROM system.tables WHERE database = ? AND name IN ('audit_logs', 'audit_logs_daily')", c.chDB).Scan(&chTables))
	require.EqualValues(t, 2, chTables)
}

func TestMigrateDryRun(t *testing.T) {
	var out, errOut syncBuffer
	code := run(testCtx(t), []string{"migrate", "--dry-run"}, env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }})
	require.Equal(t, exitOK, code, errOut.String())
	s := out.String()
	for _, want := range []string{
		"-- postgres 0001 audit_logs\n", "CREATE TABLE \"public\".\"audit_logs\"", "-- postgres 0005 read_paths\n", "ADD COLUMN arrival xid8",
		"-- postgres seal 0001", "-- clickhouse 0001 audit_logs (compat)\n", "ENGINE = ReplacingMergeTree(ingest_version)",
	} {
		require.Contains(t, s, want)
	}
}
