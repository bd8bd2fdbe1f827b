package postgreslog_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// newTxWriter returns a TxWriter over pool with fast retries and the
// service name of the records the exporter tests export (corpus.Capture),
// so that rows of both compare.
func newTxWriter(t testing.TB, pool *pgxpool.Pool, opts ...postgreslog.Option) *postgreslog.TxWriter {
	t.Helper()
	base := []postgreslog.Option{
		postgreslog.WithServiceName(corpus.ServiceName),
		postgreslog.WithRetry(postgreslog.RetryConfig{Enabled: true, InitialInterval: 5 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 20 * time.Second}),
	}
	w, err := postgreslog.NewTxWriter(pool, append(base, opts...)...)
	require.NoError(t, err)
	return w
}

// begin starts a transaction of pool that is rolled back when the test
// ends unless it was committed.
func begin(t testing.TB, pool *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(testCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// commitWrite writes events in a transaction of its own and commits it.
func commitWrite(t testing.TB, w *postgreslog.TxWriter, pool *pgxpool.Pool, events ...otelaudit.Event) []postgreslog.TxResult {
	t.Helper()
	ctx := testCtx(t)
	tx := begin(t, pool)
	res, err := w.Write(ctx, tx, events...)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	return res
}

// usable checks that tx still runs statements.
func usable(t testing.TB, tx pgx.Tx) {
	t.Helper()
	var one int
	require.NoError(t, tx.QueryRow(testCtx(t), "SELECT 1").Scan(&one), "the transaction is still usable")
	require.Equal(t, 1, one)
}

// login is a login event with its own id at the given time.
func login(at time.Time, user string) otelaudit.Event {
	return otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: at, Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{UserID: user}}
}

// partitionExists reports, from a session of pool, whether a committed
// partition of that name exists.
func partitionExists(t testing.TB, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, pool.QueryRow(testCtx(t), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
	return ok
}

// spanCtx carries a span context and a client, as a request's context
// does under bridge.NewMiddleware.
func spanCtx() context.Context {
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	}))
	return bridge.ContextWithClient(ctx, otelaudit.Client{IP: "2001:db8::7", UserAgent: "curl/8.5.0", SessionID: "sess_1"})
}

// richEvents fill every column between them, and need the mapping to
// repair some of their values.
func richEvents() []otelaudit.Event {
	nested := attribute.StringValue("bottom")
	for range 100 {
		nested = attribute.MapValue(attribute.KeyValue{Key: "n", Value: nested})
	}
	return []otelaudit.Event{
		{
			ID:       uuid.MustParse("01900000-0000-7000-8000-0000000000a1"),
			Time:     time.Date(2026, 11, 25, 9, 30, 0, 123456789, time.UTC),
			Action:   otelaudit.ActionSettingsChanged,
			Actor:    otelaudit.Actor{UserID: "usr_1", WorkspaceID: "ws_acme", Name: "Ada «Lovelace»"},
			Resource: otelaudit.Resource{Type: "workspace_settings", ID: "ws_acme/security"},
			Outcome:  otelaudit.Failure("permission_denied"),
			Details: attribute.MapValue(
				attribute.String("reason", "quarterly 'review' \"q4\" \\ done"),
				attribute.Int("attempt", 3),
				attribute.Float64("score", 0.25),
				attribute.Bool("notify", true),
				attribute.StringSlice("tags", []string{"sec", "q4"}),
				attribute.String("dup", "first"), attribute.String("dup", "last"),
				attribute.KeyValue{Key: "nested", Value: attribute.MapValue(attribute.Int64Slice("ids", []int64{1, 2}))},
			),
			Previous: attribute.MapValue(attribute.Bool("mfa_required", false), attribute.Int("session_ttl_hours", 24)),
			New:      attribute.MapValue(attribute.Bool("mfa_required", true), attribute.Int("session_ttl_hours", 8)),
		},
		{
			// Repaired values: markers in sanitized, the raw client
			// address in attributes; the other client fields from ctx.
			ID:       uuid.MustParse("01900000-0000-7000-8000-0000000000a2"),
			Time:     time.Date(2026, 11, 25, 9, 30, 1, 999999999, time.FixedZone("UTC+2", 2*3600)),
			Action:   otelaudit.Action("invoice.refunded"),
			Actor:    otelaudit.Actor{UserID: "u\x00ser", WorkspaceID: "ws\xff\xfe", Name: strings.Repeat("n", 2000)},
			Client:   otelaudit.Client{IP: "not-an-ip"},
			Resource: otelaudit.Resource{Type: "invoice", ID: "inv_1"},
			Details:  attribute.Float64SliceValue([]float64{math.NaN(), math.Inf(1), math.Inf(-1)}),
			Previous: nested,
			New:      attribute.MapValue(attribute.String("blob", strings.Repeat("x", corpus.Huge))),
		},
		{
			// IPv6 addresses with a zone: stored without it.
			ID:     uuid.MustParse("01900000-0000-7000-8000-0000000000a5"),
			Time:   time.Date(2026, 11, 25, 9, 30, 2, 0, time.UTC),
			Action: otelaudit.ActionLogin,
			Client: otelaudit.Client{IP: "[fe80::1%eth0]:443"},
		},
		{
			ID:     uuid.MustParse("01900000-0000-7000-8000-0000000000a6"),
			Time:   time.Date(2026, 11, 25, 9, 30, 3, 0, time.UTC),
			Action: otelaudit.ActionLogin,
			Client: otelaudit.Client{IP: "fe80::2%eth0"},
		},
		{
			// Nothing but the action: NULL columns; a time far back.
			ID:     uuid.MustParse("01900000-0000-7000-8000-0000000000a3"),
			Time:   time.Date(1, 1, 1, 0, 0, 0, 999, time.UTC),
			Action: otelaudit.ActionLogout,
		},
		{
			ID:      uuid.MustParse("01900000-0000-7000-8000-0000000000a4"),
			Time:    time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Action:  otelaudit.ActionLogin,
			Outcome: otelaudit.Failure("invalid_password"),
			Client:  otelaudit.Client{IP: "[::ffff:192.0.2.1]:443"},
		},
	}
}

// withoutWriteTimes clears what differs between two writes of the same event:
// when it was observed and when it was stored. It checks that both are
// set.
func withoutWriteTimes(t *testing.T, rows []dbRow) []dbRow {
	t.Helper()
	out := make([]dbRow, len(rows))
	for i, r := range rows {
		require.NotNil(t, r.ObservedAt, "observed_at of %s", r.EventID)
		require.WithinDuration(t, time.Now(), *r.ObservedAt, time.Minute)
		require.WithinDuration(t, time.Now(), r.IngestedAt, time.Minute)
		r.ObservedAt, r.IngestedAt = nil, time.Time{}
		out[i] = r
	}
	return out
}

func TestTxWriterRowEqualsExporterRow(t *testing.T) {
	ctx := spanCtx()
	events := richEvents()

	// The exporter's rows: the same events through the bridge and the SDK.
	viaExporter := migrated(t, pgschema.Options{})
	lastMonth(t, viaExporter)
	e, h := newExporter(t, viaExporter)
	records := auditRecords(func(a *bridge.Auditor) {
		for _, ev := range events {
			a.Record(ctx, ev)
		}
	})
	require.Len(t, records, len(events))
	require.NoError(t, e.Export(testCtx(t), records))
	require.Empty(t, h.All())
	want := withoutWriteTimes(t, readRows(t, viaExporter))
	require.Len(t, want, len(events))
	require.NotNil(t, want[0].IPAddress, "the rows fill every column between them")
	require.NotNil(t, want[1].Attributes)
	require.NotNil(t, want[1].Sanitized)
	require.NotNil(t, want[0].TraceID)
	zoned := map[uuid.UUID]string{events[2].ID: "fe80::1", events[3].ID: "fe80::2"}
	for _, r := range want {
		if ip, ok := zoned[r.EventID]; ok {
			require.Equal(t, ip, r.IPAddress.String(), "the zone is dropped")
		}
	}

	// Every query execution mode of pgx: the simple protocol is what
	// PgBouncer in transaction mode needs.
	for _, mode := range []pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
			require.NoError(t, err)
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool, err := pgxpool.NewWithConfig(testCtx(t), cfg)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			_, err = pgschema.Migrate(testCtx(t), pool, pgschema.Options{Back: pgschema.MaxBack})
			require.NoError(t, err)
			lastMonth(t, pool)

			w := newTxWriter(t, pool)
			tx := begin(t, pool)
			res, err := w.Write(ctx, tx, events...)
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))
			require.Len(t, res, len(events))
			created := map[uuid.UUID]time.Time{}
			for _, r := range want {
				created[r.EventID] = r.CreatedAt
			}
			for i, r := range res {
				require.Equal(t, events[i].ID, r.EventID)
				require.True(t, r.Written)
				require.True(t, created[r.EventID].Equal(r.Time), "the result's time %v is created_at as stored, %v", r.Time, created[r.EventID])
				require.Equal(t, time.UTC, r.Time.Location())
			}
			require.Equal(t, want, withoutWriteTimes(t, readRows(t, pool)))
		})
	}
}

func TestTxWriterFillsEvent(t *testing.T) {
	// What the Auditor fills in: a UUIDv7, the time of the call, the
	// client from ctx (fields the event sets win), trace and span ids.
	pool := migrated(t, pgschema.Options{})
	w := newTxWriter(t, pool)
	ctx := spanCtx()
	tx := begin(t, pool)
	before := time.Now()
	res, err := w.Record(ctx, tx, otelaudit.Event{Action: otelaudit.ActionLogin, Client: otelaudit.Client{UserAgent: "own-agent"}})
	require.NoError(t, err)
	after := time.Now()
	require.NoError(t, tx.Commit(ctx))

	require.Equal(t, uuid.Version(7), res.EventID.Version())
	require.False(t, res.Time.Before(before.Truncate(time.Microsecond)))
	require.False(t, res.Time.After(after))
	rows := readRows(t, pool)
	require.Len(t, rows, 1)
	r := rows[0]
	require.Equal(t, res.EventID, r.EventID)
	require.True(t, res.Time.Equal(r.CreatedAt))
	require.Equal(t, "2001:db8::7", r.IPAddress.String())
	require.Equal(t, ptr("own-agent"), r.UserAgent)
	require.Equal(t, ptr("sess_1"), r.SessionID)
	require.Equal(t, ptr("4bf92f3577b34da6a3ce929d0e0e4736"), r.TraceID)
	require.Equal(t, ptr("00f067aa0ba902b7"), r.SpanID)
	require.Equal(t, ptr(corpus.ServiceName), r.ServiceName)
	require.Nil(t, r.Sanitized, "an id of its own: no generated_id marker")
	require.NotNil(t, r.ObservedAt)
	require.False(t, r.ObservedAt.Before(r.CreatedAt), "observed when written")
}

func TestTxWriterServiceName(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	def, err := postgreslog.NewTxWriter(pool)
	require.NoError(t, err)
	named, err := postgreslog.NewTxWriter(pool, postgreslog.WithServiceName("billing"))
	require.NoError(t, err)
	commitWrite(t, def, pool, login(batchTime, "default"))
	commitWrite(t, named, pool, login(batchTime.Add(time.Second), "named"))

	v, ok := resource.Default().Set().Value(otelaudit.KeyServiceName)
	require.True(t, ok)
	require.NotEmpty(t, v.AsString())
	got := map[string]string{}
	for _, r := range readRows(t, pool) {
		got[*r.UserID] = *r.ServiceName
	}
	require.Equal(t, map[string]string{"default": v.AsString(), "named": "billing"}, got)
}

func TestTxWriterRollback(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	w := newTxWriter(t, pool)
	tx := begin(t, pool)
	res, err := w.Write(ctx, tx, login(batchTime, "a"), login(batchTime, "b"))
	require.NoError(t, err)
	require.True(t, res[0].Written)
	require.True(t, res[1].Written)
	var inTx int
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM audit_logs`).Scan(&inTx))
	require.Equal(t, 2, inTx, "the rows are there inside the transaction")
	rows, _ := count(t, pool)
	require.Zero(t, rows, "and not outside it before the commit")
	require.NoError(t, tx.Rollback(ctx))
	rows, _ = count(t, pool)
	require.Zero(t, rows)
}

func TestTxWriterDuplicates(t *testing.T) {
	ev := login(batchTime, "dup")

	t.Run("in two transactions", func(t *testing.T) {
		ctx := testCtx(t)
		pool := migrated(t, pgschema.Options{})
		w := newTxWriter(t, pool)
		first := commitWrite(t, w, pool, ev)
		require.True(t, first[0].Written)

		tx := begin(t, pool)
		res, err := w.Record(ctx, tx, ev)
		require.NoError(t, err)
		require.False(t, res.Written, "stored already")
		require.Equal(t, first[0], postgreslog.TxResult{EventID: res.EventID, Time: res.Time, Written: true})
		usable(t, tx)
		_, err = w.Record(ctx, tx, login(batchTime, "other"))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		rows, ids := count(t, pool)
		require.Equal(t, 2, rows)
		require.Equal(t, 2, ids)
	})

	t.Run("twice in one transaction", func(t *testing.T) {
		ctx := testCtx(t)
		pool := migrated(t, pgschema.Options{})
		w := newTxWriter(t, pool)
		tx := begin(t, pool)
		res, err := w.Write(ctx, tx, ev, ev)
		require.NoError(t, err)
		require.True(t, res[0].Written)
		require.False(t, res[1].Written)
		res2, err := w.Record(ctx, tx, ev)
		require.NoError(t, err)
		require.False(t, res2.Written)
		require.NoError(t, tx.Commit(ctx))
		rows, _ := count(t, pool)
		require.Equal(t, 1, rows)
	})

	t.Run("exporter first", func(t *testing.T) {
		ctx := testCtx(t)
		pool := migrated(t, pgschema.Options{})
		e, _ := newExporter(t, pool)
		require.NoError(t, e.Export(ctx, auditRecords(func(a *bridge.Auditor) { a.Record(ctx, ev) })))
		w := newTxWriter(t, pool)
		tx := begin(t, pool)
		res, err := w.Record(ctx, tx, ev)
		require.NoError(t, err)
		require.False(t, res.Written)
		usable(t, tx)
		require.NoError(t, tx.Commit(ctx))
		rows, _ := count(t, pool)
		require.Equal(t, 1, rows)
	})

	t.Run("transaction first", func(t *testing.T) {
		ctx := testCtx(t)
		pool := migrated(t, pgschema.Options{})
		w := newTxWriter(t, pool)
		commitWrite(t, w, pool, ev)
		e, _ := newExporter(t, pool)
		require.NoError(t, e.Export(ctx, auditRecords(func(a *bridge.Auditor) { a.Record(ctx, ev) })))
		s := e.Stats()
		require.Equal(t, uint64(1), s.AlreadyStored, "the exporter finds the row the transaction wrote")
		require.Zero(t, s.Written)
		rows, _ := count(t, pool)
		require.Equal(t, 1, rows)
	})

	t.Run("while another transaction writes it", func(t *testing.T) {
		// The second insert waits for the first transaction: after its
		// commit the event is stored, after its rollback it is not.
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
				ctx := testCtx(t)
				pool := migrated(t, pgschema.Options{})
				w := newTxWriter(t, pool)
				tx1 := begin(t, pool)
				_, err := w.Record(ctx, tx1, ev)
				require.NoError(t, err)

				done := make(chan postgreslog.TxResult, 1)
				tx2 := begin(t, pool)
				go func() {
					res, err := w.Record(ctx, tx2, ev)
					if err != nil {
						res = postgreslog.TxResult{}
					}
					done <- res
				}()
				select {
				case <-done:
					t.Fatal("the second insert did not wait for the first transaction")
				case <-time.After(200 * time.Millisecond):
				}
				if commit {
					require.NoError(t, tx1.Commit(ctx))
				} else {
					require.NoError(t, tx1.Rollback(ctx))
				}
				res := <-done
				require.Equal(t, ev.ID, res.EventID, "no error")
				require.Equal(t, !commit, res.Written)
				require.NoError(t, tx2.Commit(ctx))
				rows, _ := count(t, pool)
				require.Equal(t, 1, rows)
			})
		}
	})
}

func TestTxWriterRepeatableReadConcurrentDuplicate(t *testing.T) {
	// Under REPEATABLE READ, a duplicate committed after the transaction's
	// snapshot is a serialization failure, as documented: roll back, retry.
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	w := newTxWriter(t, pool)
	ev := login(batchTime, "rr")

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	usable(t, tx) // takes the snapshot
	commitWrite(t, w, pool, ev)
	_, err = w.Record(ctx, tx, ev)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "40001", pgErr.Code)
	require.NoError(t, tx.Rollback(ctx))

	tx, err = pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	res, err := w.Record(ctx, tx, ev)
	require.NoError(t, err, "the retry sees the committed row")
	require.False(t, res.Written)
	require.NoError(t, tx.Commit(ctx))
}

func TestTxWriterRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		event  otelaudit.Event
		reason string
		is     error
	}{
		{"invalid action", otelaudit.Event{Action: "User Login"}, auditrow.ReasonInvalidAction, auditrow.ErrInvalidAction},
		{"empty action", otelaudit.Event{}, auditrow.ReasonInvalidAction, auditrow.ErrInvalidAction},
		{"year 10000", otelaudit.Event{Action: otelaudit.ActionLogin, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			auditrow.ReasonTimeOutOfRange, postgreslog.ErrTimeOutOfRange},
		{"year 0", otelaudit.Event{Action: otelaudit.ActionLogin, Time: time.Date(0, 12, 31, 23, 0, 0, 0, time.UTC)},
			auditrow.ReasonTimeOutOfRange, postgreslog.ErrTimeOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			pool := migrated(t, pgschema.Options{})
			w := newTxWriter(t, pool)
			tx := begin(t, pool)
			good := login(batchTime, "good")
			res, err := w.Write(ctx, tx, good, tc.event)
			require.Nil(t, res)
			require.ErrorIs(t, err, postgreslog.ErrRejected)
			require.ErrorIs(t, err, tc.is)
			var rej *postgreslog.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, tc.reason, rej.Reason)
			require.NotEqual(t, uuid.Nil, rej.EventID)
			require.Contains(t, err.Error(), "event 2 of 2")

			usable(t, tx)
			_, err = w.Record(ctx, tx, login(batchTime, "after"))
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))
			var users []string
			for _, r := range readRows(t, pool) {
				users = append(users, *r.UserID)
			}
			require.Equal(t, []string{"after"}, users, "nothing of the refused call was written")
		})
	}
}

func TestTxWriterErrors(t *testing.T) {
	_, err := postgreslog.NewTxWriter(nil)
	require.ErrorIs(t, err, postgreslog.ErrNilConn)

	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	_, err = postgreslog.NewTxWriter(pool, postgreslog.WithSchema(pgschema.Options{Schema: "audit", Table: "Bad-Name"}))
	require.ErrorIs(t, err, pgschema.ErrInvalidOptions)

	w := newTxWriter(t, pool)
	_, err = w.Record(ctx, nil, login(batchTime, "x"))
	require.ErrorIs(t, err, postgreslog.ErrNilTx)
	res, err := w.Write(ctx, begin(t, pool))
	require.NoError(t, err)
	require.Empty(t, res)

	tx := begin(t, pool)
	require.NoError(t, tx.Commit(ctx))
	_, err = w.Record(ctx, tx, login(batchTime, "late"))
	require.ErrorIs(t, err, pgx.ErrTxClosed, "a committed transaction is not written to")

	t.Run("wrong table", func(t *testing.T) {
		other := newTxWriter(t, pool, postgreslog.WithSchema(pgschema.Options{Table: "no_such_table"}))
		tx := begin(t, pool)
		_, err := other.Record(ctx, tx, login(batchTime, "x"))
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "42P01", pgErr.Code, "undefined table")
		require.Contains(t, err.Error(), "public.no_such_table")
	})

	rows, _ := count(t, pool)
	require.Zero(t, rows)
}

func TestTxWriterTransactionKinds(t *testing.T) {
	ctx := testCtx(t)
	dsn := testenv.PostgresDSN(t)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pgschema.Migrate(ctx, pool, pgschema.Options{Back: pgschema.MaxBack})
	require.NoError(t, err)
	w := newTxWriter(t, pool)

	t.Run("pgx.Conn", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer func() { require.NoError(t, conn.Close(context.Background())) }()
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		_, err = w.Record(ctx, tx, login(batchTime, "conn"))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	})

	t.Run("pgx.BeginFunc", func(t *testing.T) {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := w.Record(ctx, tx, login(batchTime, "beginfunc"))
			return err
		}))
	})

	t.Run("savepoints", func(t *testing.T) {
		tx := begin(t, pool)
		// A savepoint rolled back takes its audit row with it.
		sp, err := tx.Begin(ctx)
		require.NoError(t, err)
		_, err = w.Record(ctx, sp, login(batchTime, "rolled-back savepoint"))
		require.NoError(t, err)
		require.NoError(t, sp.Rollback(ctx))
		// A failed write in a savepoint leaves the outer transaction
		// usable once the savepoint is rolled back.
		sp, err = tx.Begin(ctx)
		require.NoError(t, err)
		_, err = newTxWriter(t, pool, postgreslog.WithSchema(pgschema.Options{Table: "no_such_table"})).Record(ctx, sp, login(batchTime, "x"))
		require.Error(t, err)
		require.NoError(t, sp.Rollback(ctx))
		// A released savepoint keeps it.
		sp, err = tx.Begin(ctx)
		require.NoError(t, err)
		_, err = w.Record(ctx, sp, login(batchTime, "savepoint"))
		require.NoError(t, err)
		require.NoError(t, sp.Commit(ctx))
		require.NoError(t, tx.Commit(ctx))
	})

	var users []string
	for _, r := range readRows(t, pool) {
		users = append(users, *r.UserID)
	}
	require.ElementsMatch(t, []string{"conn", "beginfunc", "savepoint"}, users)
}

func TestTxWriterNewPartition(t *testing.T) {
	// A month without a partition: it is created before the insert,
	// outside the transaction, which then holds no lock it did not take
	// itself.
	ctx := testCtx(t)
	o := pgschema.Options{Ahead: -1}
	pool := migrated(t, o)
	w := newTxWriter(t, pool)
	march := time.Date(2019, 3, 15, 12, 0, 0, 0, time.UTC)

	tx := begin(t, pool)
	_, err := w.Record(ctx, tx, login(march, "march"))
	require.NoError(t, err)
	require.True(t, partitionExists(t, pool, "audit_logs_p201903"), "created and committed outside the transaction")
	require.True(t, partitionExists(t, pool, "audit_logs_p201904"), "with the next one")

	rows, err := tx.Query(ctx, `SELECT locktype || ':' || mode FROM pg_locks
		WHERE pid = pg_backend_pid() AND (relation = 'audit_logs'::regclass OR locktype = 'advisory') ORDER BY 1`)
	require.NoError(t, err)
	modes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"relation:RowExclusiveLock"}, modes, "no ACCESS EXCLUSIVE lock, no advisory lock in the caller's transaction")

	require.NoError(t, tx.Rollback(ctx))
	require.True(t, partitionExists(t, pool, "audit_logs_p201903"), "the partition outlives the rollback")
	n, _ := count(t, pool)
	require.Zero(t, n)

	commitWrite(t, w, pool, login(march, "march"))
	got := readRows(t, pool)
	require.Len(t, got, 1)
	require.Equal(t, "audit_logs_p201903", got[0].Partition)
}

func TestTxWriterNewPartitionAfterInsert(t *testing.T) {
	// The transaction wrote an audit row, and so holds a lock on the
	// table, before an event needs a new partition: it is created inside
	// the transaction.
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			ctx := testCtx(t)
			o := pgschema.Options{Ahead: -1}
			pool := migrated(t, o)
			w := newTxWriter(t, pool)
			july := time.Date(2018, 7, 4, 0, 0, 0, 0, time.UTC)

			tx := begin(t, pool)
			_, err := w.Record(ctx, tx, login(time.Now(), "now"))
			require.NoError(t, err)
			res, err := w.Record(ctx, tx, login(july, "july"))
			require.NoError(t, err)
			require.True(t, res.Written)
			require.False(t, partitionExists(t, pool, "audit_logs_p201807"), "not visible before the commit")
			require.False(t, partitionExists(t, pool, "audit_logs_p201808"), "nothing ahead")
			if commit {
				require.NoError(t, tx.Commit(ctx))
				require.True(t, partitionExists(t, pool, "audit_logs_p201807"))
			} else {
				require.NoError(t, tx.Rollback(ctx))
				require.False(t, partitionExists(t, pool, "audit_logs_p201807"))
			}

			// Either way the writer did not take the partition for granted.
			commitWrite(t, w, pool, login(july.Add(time.Hour), "july again"))
			want := map[string]string{"july again": "audit_logs_p201807"}
			if commit {
				want["july"] = "audit_logs_p201807"
				want["now"] = "audit_logs_p" + time.Now().UTC().Format("200601")
			}
			got := map[string]string{}
			for _, r := range readRows(t, pool) {
				got[*r.UserID] = r.Partition
			}
			require.Equal(t, want, got)
		})
	}
}

func TestTxWriterPartitionDroppedByRetention(t *testing.T) {
	// Retention drops a partition the writer has cached: the insert fails
	// (the transaction is aborted), the writer forgets its cache, and the
	// retried transaction creates the partition again.
	ctx := testCtx(t)
	o := pgschema.Options{Ahead: -1}
	pool := migrated(t, o)
	w := newTxWriter(t, pool)
	jan := time.Date(2017, 1, 10, 0, 0, 0, 0, time.UTC)
	commitWrite(t, w, pool, login(jan, "first"))
	dropped, err := pgschema.DropPartitionsBefore(ctx, pool, o, time.Date(2017, 3, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, dropped, 2, "January and February")

	tx := begin(t, pool)
	_, err = w.Record(ctx, tx, login(jan, "second"))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.Code, "no partition for the row")
	require.NoError(t, tx.Rollback(ctx))

	commitWrite(t, w, pool, login(jan, "second"))
	got := readRows(t, pool)
	require.Len(t, got, 1)
	require.Equal(t, ptr("second"), got[0].UserID)
	require.Equal(t, "audit_logs_p201701", got[0].Partition)
}

func TestTxWriterWriterRole(t *testing.T) {
	// A login that holds only the writer role: insert, duplicates, and
	// partitions created outside and inside the transaction.
	ctx := testCtx(t)
	admin, writer := writerLogin(t)
	w := newTxWriter(t, writer)
	feb := time.Date(2016, 2, 2, 0, 0, 0, 0, time.UTC)
	ev := login(feb, "feb")

	tx := begin(t, writer)
	res, err := w.Write(ctx, tx, ev, login(time.Now(), "now"))
	require.NoError(t, err)
	require.True(t, res[0].Written)
	res2, err := w.Record(ctx, tx, login(time.Date(2015, 5, 5, 0, 0, 0, 0, time.UTC), "may, in the transaction"))
	require.NoError(t, err)
	require.True(t, res2.Written)
	require.NoError(t, tx.Commit(ctx))

	tx = begin(t, writer)
	res2, err = w.Record(ctx, tx, ev)
	require.NoError(t, err)
	require.False(t, res2.Written)
	usable(t, tx)
	require.NoError(t, tx.Commit(ctx))

	got := map[string]string{}
	for _, r := range readRows(t, admin) {
		got[*r.UserID] = r.Partition
	}
	require.Equal(t, map[string]string{
		"feb": "audit_logs_p201602", "may, in the transaction": "audit_logs_p201505",
		"now": "audit_logs_p" + time.Now().UTC().Format("200601"),
	}, got)
	_, err = writer.Exec(ctx, `SELECT count(*) FROM audit_logs`)
	require.Error(t, err, "the writer cannot read audit rows")
}

func TestTxWriterConcurrentSafe(t *testing.T) {
	// Goroutines write, each in its own transactions, events of their own
	// (some in months without a partition) and a shared set, in random
	// order; a third of the transactions roll back. Every event of a
	// committed transaction is stored once, the shared ones by exactly one
	// committed transaction, and nothing of the rolled-back ones.
	const goroutines, txs = 4, 12
	ctx := testCtx(t)
	dsn := testenv.PostgresDSN(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.MaxConns = 2 * goroutines // a transaction each, and partition creation
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pgschema.Migrate(ctx, pool, pgschema.Options{Ahead: -1, Back: pgschema.MaxBack})
	require.NoError(t, err)
	w := newTxWriter(t, pool)

	var shared []otelaudit.Event
	for i := range 10 {
		shared = append(shared, login(batchTime.Add(time.Duration(i%3)*time.Hour), fmt.Sprintf("shared-%d", i)))
	}
	type outcome struct {
		committed bool
		events    []otelaudit.Event
		results   []postgreslog.TxResult
	}
	outcomes := make(chan outcome, goroutines*txs)
	errs := make(chan error, goroutines*txs)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range txs {
				events := append([]otelaudit.Event{
					login(time.Now(), fmt.Sprintf("g%d-t%d-now", g, i)),
					login(time.Date(2010+g, time.Month(1+i%4), 1+i, 0, 0, 0, 0, time.UTC), fmt.Sprintf("g%d-t%d-old", g, i)),
				}, shared...)
				rand.Shuffle(len(events), func(a, b int) { events[a], events[b] = events[b], events[a] })
				o := outcome{committed: i%3 != 0, events: events}
				err := func() error {
					tx, err := pool.Begin(ctx)
					if err != nil {
						return err
					}
					defer func() { _ = tx.Rollback(ctx) }()
					o.results, err = w.Write(ctx, tx, events...)
					if err != nil {
						return err
					}
					if !o.committed {
						return tx.Rollback(ctx)
					}
					return tx.Commit(ctx)
				}()
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, transaction %d: %w", g, i, err)
					continue
				}
				outcomes <- o
			}
		})
	}
	wg.Wait()
	close(errs)
	close(outcomes)
	for err := range errs {
		require.NoError(t, err)
	}

	wantUsers := map[string]bool{}
	sharedWrites := map[uuid.UUID]int{}
	isShared := map[uuid.UUID]bool{}
	for _, s := range shared {
		isShared[s.ID] = true
	}
	for o := range outcomes {
		require.Len(t, o.results, len(o.events))
		for i, r := range o.results {
			require.Equal(t, o.events[i].ID, r.EventID, "results in the order of the events")
			switch {
			case !o.committed:
			case isShared[r.EventID]:
				wantUsers[o.events[i].Actor.UserID] = true
				if r.Written {
					sharedWrites[r.EventID]++
				}
			default:
				wantUsers[o.events[i].Actor.UserID] = true
				require.True(t, r.Written, o.events[i].Actor.UserID)
			}
		}
	}
	for _, s := range shared {
		require.Equal(t, 1, sharedWrites[s.ID], "%s written by exactly one committed transaction", s.Actor.UserID)
	}
	gotUsers := map[string]bool{}
	for _, r := range readRows(t, pool) {
		require.False(t, gotUsers[*r.UserID], "%s stored twice", *r.UserID)
		gotUsers[*r.UserID] = true
	}
	require.Equal(t, wantUsers, gotUsers)
	require.Len(t, gotUsers, goroutines*(txs-txs/3)*2+len(shared))
}

func TestTxWriterKeyOrderConcurrentSafe(t *testing.T) {
	// Two transactions write the same events at once, given in opposite
	// orders. A trigger makes each insert slow, so that both are inserting
	// at the same time: in the order given they would each hold a row the
	// other waits for (a deadlock, 40P01); in key order, the second waits
	// for the first.
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$;
		CREATE TRIGGER slow_insert BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION slow_insert();`)
	require.NoError(t, err)
	w := newTxWriter(t, pool)
	commitWrite(t, w, pool, login(batchTime, "warm")) // the partition cache

	events := make([]otelaudit.Event, 6)
	for i := range events {
		events[i] = login(batchTime.Add(time.Duration(i)*time.Second), fmt.Sprintf("e%d", i))
	}
	reversed := slices.Clone(events)
	slices.Reverse(reversed)

	start := make(chan struct{})
	results := make([][]postgreslog.TxResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, evs := range [][]otelaudit.Event{events, reversed} {
		tx := begin(t, pool)
		wg.Go(func() {
			<-start
			results[i], errs[i] = w.Write(ctx, tx, evs...)
			if errs[i] == nil {
				errs[i] = tx.Commit(ctx)
			}
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	written := map[uuid.UUID]int{}
	for _, rs := range results {
		for _, r := range rs {
			if r.Written {
				written[r.EventID]++
			}
		}
	}
	for _, e := range events {
		require.Equal(t, 1, written[e.ID], e.Actor.UserID)
	}
	rows, _ := count(t, pool)
	require.Equal(t, len(events)+1, rows)
}
