//go:build chdb

package chdbconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// engine is the one engine of this test binary; TestMain closes it, as
// an engine left open crashes a race-enabled process at exit.
var engine *Engine

func TestMain(m *testing.M) {
	e, err := Open("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chdbconn: %v (make test-chdb installs libchdb.so and sets CHDB_LIB_PATH)\n", err)
		os.Exit(1)
	}
	engine = e
	code := m.Run()
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// database returns a connection to a fresh database.
func database(t *testing.T) *Conn {
	t.Helper()
	name := "d_" + uuid.NewString()[:8]
	require.NoError(t, engine.Conn("").Exec(ctxT(t), "CREATE DATABASE `"+name+"`"))
	t.Cleanup(func() { require.NoError(t, engine.Conn("").Exec(context.Background(), "DROP DATABASE `"+name+"`")) })
	return engine.Conn(name)
}

// The adapter binds with clickhouse-go's own binder, reached through
// go:linkname. This pins what the binder of v2.51.0 makes of the
// arguments this project passes; a driver upgrade that changes it (or
// removes the function: then the test binary does not link) fails here.
func TestBindPinned(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC)
	for _, tc := range []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT ?", []any{at}, "SELECT toDateTime('2024-05-01 12:00:00')"},
		{"SELECT @t", []any{clickhouse.Named("t", at)}, "SELECT toDateTime('2024-05-01 12:00:00')"},
		{"SELECT @t", []any{clickhouse.DateNamed("t", at, clickhouse.NanoSeconds)}, "SELECT toDateTime64('2024-05-01 12:00:00.000000500', 9)"},
		{"SELECT @t", []any{clickhouse.DateNamed("t", at, clickhouse.Seconds)}, "SELECT toDateTime('2024-05-01 12:00:00')"},
		{"SELECT ?, ?", []any{"it's", int64(-3)}, `SELECT 'it\'s', -3`},
		{"SELECT ? -- ?", []any{uint64(7)}, "SELECT 7 -- ?"},
		{"SELECT ?", []any{[]string{"a", "b"}}, "SELECT ['a', 'b']"},
		{"SELECT 1", nil, "SELECT 1"},
	} {
		got, err := bindArgs(tc.query, tc.args)
		require.NoError(t, err, tc.query)
		require.Equal(t, tc.want, got, "%s %v", tc.query, tc.args)
	}
	_, err := bindArgs("SELECT ?, @x", []any{1, clickhouse.Named("x", 2)})
	require.ErrorIs(t, err, clickhouse.ErrBindMixedParamsFormats)
}

func TestVersion(t *testing.T) {
	v, err := database(t).ServerVersion()
	require.NoError(t, err)
	require.EqualValues(t, 26, v.Version.Major, "ClickHouse 26.5 (chDB)")
	require.EqualValues(t, 5, v.Version.Minor)
	var s string
	require.NoError(t, engine.Conn("").QueryRow(ctxT(t), "SELECT version()").Scan(&s))
	require.Equal(t, fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch), s[:len(fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch))])
	require.NoError(t, engine.Conn("").Ping(ctxT(t)))
}

// A batch appended column by column, as the exporter does, is read back
// as written: modern types, and strings with blank lines and NUL bytes
// (inline insert data would be cut at the first blank line).
func TestBatchRoundTrip(t *testing.T) {
	c := database(t)
	ctx := ctxT(t)
	require.NoError(t, c.Exec(ctx, `CREATE TABLE t (
		id UUID, time DateTime64(9, 'UTC'), action LowCardinality(String), body String,
		attrs Map(String, String), tags Array(String), outcome Enum8('success' = 1, 'failure' = 2), n UInt32
	) ENGINE = MergeTree ORDER BY (action, time)`))

	base := time.Date(2024, 5, 1, 12, 0, 0, 1, time.UTC)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	times := []time.Time{base, base.Add(time.Millisecond), base.Add(time.Hour)}
	actions := []string{"login", "logout", "login"}
	bodies := []string{"a\n\nb", "x\x00y", ""}
	attrs := []map[string]string{{"k": "v"}, {}, {"a": "1", "b": "2"}}
	tags := [][]string{{"p", ""}, nil, {"q"}}
	outcomes := []int8{1, 2, 1}
	ns := []uint32{0, 1, 4294967295}

	b, err := c.PrepareBatch(ctx, "INSERT INTO t (id, time, action, body, attrs, tags, outcome, n)")
	require.NoError(t, err)
	for i, v := range []any{ids, times, actions, bodies, attrs, tags, outcomes, ns} {
		require.NoError(t, b.Column(i).Append(v))
	}
	require.Equal(t, 3, b.Rows())
	require.NoError(t, b.Send())
	require.True(t, b.IsSent())
	require.ErrorIs(t, b.Send(), ErrBatchSent)

	rows, err := c.Query(ctx, "SELECT id, time, action, body, attrs, tags, toString(outcome), n FROM t ORDER BY time")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "time", "action", "body", "attrs", "tags", "toString(outcome)", "n"}, rows.Columns())
	i := 0
	for rows.Next() {
		var (
			id      uuid.UUID
			tm      time.Time
			a, body string
			m       map[string]string
			tg      []string
			outcome string
			n       uint32
		)
		require.NoError(t, rows.Scan(&id, &tm, &a, &body, &m, &tg, &outcome, &n))
		require.Equal(t, ids[i], id)
		require.True(t, times[i].Equal(tm), "%v != %v", times[i], tm)
		require.Equal(t, actions[i], a)
		require.Equal(t, bodies[i], body)
		require.Equal(t, attrs[i], m)
		if tags[i] == nil {
			require.Empty(t, tg)
		} else {
			require.Equal(t, tags[i], tg)
		}
		require.Equal(t, map[int8]string{1: "success", 2: "failure"}[outcomes[i]], outcome)
		require.Equal(t, ns[i], n)
		i++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 3, i)

	// Row by row, and without a column list.
	b, err = c.PrepareBatch(ctx, "INSERT INTO t")
	require.NoError(t, err)
	require.NoError(t, b.Append(uuid.New(), base, "x", "y", map[string]string{}, []string{}, int8(2), uint32(9)))
	require.NoError(t, b.Send())
	var n uint64
	require.NoError(t, c.QueryRow(ctx, "SELECT count() FROM t WHERE outcome = 'failure'").Scan(&n))
	require.EqualValues(t, 2, n)

	// Aborted: nothing is written.
	b, err = c.PrepareBatch(ctx, "INSERT INTO t (id, n)")
	require.NoError(t, err)
	require.NoError(t, b.Append(uuid.New(), uint32(1)))
	require.NoError(t, b.Abort())
	require.NoError(t, c.QueryRow(ctx, "SELECT count() FROM t").Scan(&n))
	require.EqualValues(t, 4, n)
}

func TestErrors(t *testing.T) {
	c := database(t)
	ctx := ctxT(t)

	err := c.Exec(ctx, "SELECT * FROM missing")
	var ex *clickhouse.Exception
	require.True(t, errors.As(err, &ex), "%T %v", err, err)
	require.EqualValues(t, 60, ex.Code, "UNKNOWN_TABLE: %v", err)

	_, err = c.PrepareBatch(ctx, "INSERT INTO missing (a)")
	require.True(t, errors.As(err, &ex), "%v", err)
	_, err = c.PrepareBatch(ctx, "SELECT 1")
	require.Error(t, err)

	err = c.QueryRow(ctx, "SELECT 1 WHERE 0").Scan(new(uint8))
	require.ErrorIs(t, err, sql.ErrNoRows)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, c.Exec(canceled, "SELECT 1"), context.Canceled)

	_, err = Open("")
	require.ErrorIs(t, err, ErrEngineOpen)
	require.ErrorIs(t, c.Select(ctx, &[]struct{}{}, "SELECT 1"), ErrUnsupported)
}

// Connections to different databases, used at once, each see their own:
// the engine is switched with USE under its lock.
func TestDatabasesConcurrentSafe(t *testing.T) {
	conns := []*Conn{database(t), database(t)}
	ctx := ctxT(t)
	for i, c := range conns {
		require.NoError(t, c.Exec(ctx, "CREATE TABLE t (n UInt64) ENGINE = Memory"))
		require.NoError(t, c.Exec(ctx, "INSERT INTO t SELECT ? FROM numbers(1)", uint64(i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				var n uint64
				if err := c.QueryRow(ctx, "SELECT n FROM t").Scan(&n); err != nil {
					errs <- err
					return
				}
				if n != uint64(i) {
					errs <- fmt.Errorf("connection %d read %d", i, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// File names (of batches) and identifiers are quoted for SQL.
func TestQuoting(t *testing.T) {
	for _, s := range []string{`plain`, `it's`, `back\slash`, `\'`, "new\nline"} {
		var got string
		require.NoError(t, engine.Conn("").QueryRow(ctxT(t), "SELECT "+quoteString(s)).Scan(&got))
		require.Equal(t, s, got)
	}
	c := engine.Conn("")
	name := "we`ird\\db"
	require.NoError(t, c.Exec(ctxT(t), "CREATE DATABASE "+quoteIdent(name)))
	t.Cleanup(func() { require.NoError(t, c.Exec(context.Background(), "DROP DATABASE "+quoteIdent(name))) })
	var db string
	require.NoError(t, engine.Conn(name).QueryRow(ctxT(t), "SELECT currentDatabase()").Scan(&db))
	require.Equal(t, name, db)
}
