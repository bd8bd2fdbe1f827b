package testenv_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPostgresSmoke(t *testing.T) {
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var versionNum int
	require.NoError(t, pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum))
	require.GreaterOrEqual(t, versionNum, 150000, "server_version_num")

	var db string
	require.NoError(t, pool.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.True(t, strings.HasPrefix(db, "t_testpostgressmoke_"), "fresh database, got %q", db)

	_, err := pool.Exec(ctx, `CREATE TABLE audit (id bigint PRIMARY KEY, body text NOT NULL, attrs text[] NOT NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO audit VALUES (1, 'login', '{a,b}'), (2, 'logout', '{}')`)
	require.NoError(t, err)

	rows, err := pool.Query(ctx, `SELECT id, body, attrs FROM audit ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	type row struct {
		ID    int64
		Body  string
		Attrs []string
	}
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.ID, &r.Body, &r.Attrs))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []row{{1, "login", []string{"a", "b"}}, {2, "logout", []string{}}}, got)
}

func TestPostgresDSNIsolated(t *testing.T) {
	a := testenv.PostgresDSN(t)
	b := testenv.PostgresDSN(t)
	require.NotEqual(t, a, b)
	require.Contains(t, a, "sslmode=disable")
}

func TestClickHouseSmoke(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var version string
	require.NoError(t, conn.QueryRow(ctx, "SELECT version()").Scan(&version))
	t.Logf("ClickHouse server %s", version)

	var current string
	require.NoError(t, conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current))
	require.Equal(t, db, current, "the connection's default database is the fresh one")

	require.NoError(t, conn.Exec(ctx, `
		CREATE TABLE audit (
			ts    DateTime,
			id    UInt64,
			body  String,
			attrs Array(String)
		) ENGINE = MergeTree() ORDER BY (ts, id)`))

	base := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	type row struct {
		TS    time.Time
		ID    uint64
		Body  string
		Attrs []string
	}
	want := []row{
		{base, 1, "login", []string{"user=alice", "ip=127.0.0.1"}},
		{base.Add(time.Second), 2, "logout", []string{}},
		{base.Add(2 * time.Second), 3, "ünïcødé \t 'quoted'", []string{"x"}},
	}

	batch, err := conn.PrepareBatch(ctx, "INSERT INTO audit (ts, id, body, attrs)")
	require.NoError(t, err)
	for _, r := range want {
		require.NoError(t, batch.Append(r.TS, r.ID, r.Body, r.Attrs))
	}
	require.NoError(t, batch.Send())

	rows, err := conn.Query(ctx, "SELECT ts, id, body, attrs FROM audit ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.TS, &r.ID, &r.Body, &r.Attrs))
		r.TS = r.TS.UTC()
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got)
}

func TestClickHouseClient(t *testing.T) {
	_, db := testenv.ClickHouse(t)
	args := append(testenv.ClickHouseClient(t), "--database", db, "-q", "SELECT currentDatabase()")
	out, err := exec.CommandContext(t.Context(), args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, db, strings.TrimSpace(string(out)))
}

func TestRequired(t *testing.T) {
	t.Setenv(testenv.EnvRequireServices, "")
	t.Setenv("CI", "")
	require.False(t, testenv.Required())
	t.Setenv("CI", "true")
	require.True(t, testenv.Required())
	t.Setenv("CI", "")
	t.Setenv(testenv.EnvRequireServices, "1")
	require.True(t, testenv.Required())
}

// TestClickHouse18Quirks pins down the clickhouse-go v2 behaviours against
// ClickHouse 18.x that CLICKHOUSE_NOTES.md tells exporter authors about, so
// the notes cannot silently go stale. On a newer server it only checks that
// the recommended forms work.
func TestClickHouse18Quirks(t *testing.T) {
	conn, _ := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	sv, err := conn.ServerVersion()
	require.NoError(t, err)
	old := sv.Version.Major < 19
	t.Logf("server %d.%d.%d, protocol revision %d", sv.Version.Major, sv.Version.Minor, sv.Version.Patch, sv.Revision)

	require.NoError(t, conn.Exec(ctx, `CREATE TABLE q (id UInt64, s String) ENGINE = MergeTree() ORDER BY id`))

	// Recommended: always name the columns.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO q (id, s)")
	require.NoError(t, err)
	require.NoError(t, batch.Append(uint64(1), "a"))
	require.NoError(t, batch.Send())

	if !old {
		return
	}

	// 18.x answers "INSERT INTO q FORMAT Native" (what clickhouse-go sends
	// for a statement without a column list) with an empty header block.
	batch, err = conn.PrepareBatch(ctx, "INSERT INTO q")
	require.NoError(t, err)
	require.Empty(t, batch.Columns())
	require.ErrorContains(t, batch.Append(uint64(2), "b"), "expected 0 arguments, got 2")
	_ = batch.Abort()

	// Before protocol revision 54429 settings travel as integers: a
	// string-valued setting is refused by the client, an unknown one by the
	// server (async_insert does not exist in 18.x).
	strCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": "1"}))
	require.ErrorContains(t, conn.Exec(strCtx, "SELECT 1"), "unsupported data type")
	intCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1}))
	require.NoError(t, conn.Exec(intCtx, "SELECT 1"))
	// (async_insert or wait_for_async_insert, whichever the client sends first.)
	err = conn.AsyncInsert(ctx, "INSERT INTO q (id, s) VALUES (3, 'c')", true)
	require.ErrorContains(t, err, "Unknown setting")
	require.ErrorContains(t, err, "async_insert")

	// Exec of an INSERT with inline VALUES never returns on 18.x: the server
	// waits for data blocks that clickhouse-go does not send (until the
	// context deadline or the 5-minute read timeout). INSERT ... SELECT works.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	err = conn.Exec(short, "INSERT INTO q (id, s) VALUES (4, 'd')")
	cancelShort()
	// Depending on which fires first: the context, or the socket read
	// deadline clickhouse-go derives from it.
	var netErr net.Error
	require.True(t, errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()),
		"want a timeout, got %v", err)
	require.NoError(t, conn.Exec(ctx, "INSERT INTO q (id, s) SELECT 5, 'e'"))

	var n uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM q WHERE id IN (1, 5)").Scan(&n))
	require.Equal(t, uint64(2), n)
}
