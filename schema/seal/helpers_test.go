package seal_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
	"github.com/otelaudit/otelaudit/schema/seal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit)) // testenv.Exit closes chDB, if used
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is an audit trail in both stores, written by the real exporters,
// with the digest tables migrated and a signing key.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	pg     *pgxpool.Pool
	ch     driver.Conn
	chOpts chschema.Options
	chLay  chschema.Layout // compat on 18.16, modern on chDB (26.5)
	pgExp  *postgreslog.Exporter
	chExp  *clickhouselog.Exporter
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	pgSrc  *seal.PostgresSource
	chSrc  *seal.ClickHouseSource
	// base is the start of the first window that holds rows: two days
	// ago, on the hour.
	base time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := testCtx(t)
	f := &fixture{t: t, ctx: ctx}
	f.pg = testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, f.pg, pgschema.Options{})
	require.NoError(t, err)
	_, err = seal.Migrate(ctx, f.pg)
	require.NoError(t, err)

	var db string
	f.ch, db = testenv.ClickHouse(t)
	f.chOpts = chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, f.ch, f.chOpts)
	require.NoError(t, err)
	f.chLay = layout

	handler := func(err error) { t.Errorf("exporter error: %v", err) }
	f.pgExp, err = postgreslog.New(f.pg, postgreslog.WithErrorHandler(handler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.pgExp.Shutdown(context.Background())) })
	f.chExp, err = clickhouselog.New(f.ch, clickhouselog.WithSchema(f.chOpts), clickhouselog.WithLayout(layout), clickhouselog.WithErrorHandler(handler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.chExp.Shutdown(context.Background())) })

	f.pub, f.key, err = ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	f.pgSrc, err = seal.NewPostgresSource(f.pg)
	require.NoError(t, err)
	f.chSrc, err = seal.NewClickHouseSource(f.ch, f.chOpts)
	require.NoError(t, err)
	f.base = time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	return f
}

// write exports records to both stores.
func (f *fixture) write(recs []sdklog.Record) {
	f.t.Helper()
	require.NoError(f.t, f.pgExp.Export(f.ctx, recs))
	require.NoError(f.t, f.chExp.Export(f.ctx, recs))
}

// sealer returns a sealer with the fixture's key and hour windows.
func (f *fixture) sealer(opts ...seal.Option) *seal.Sealer {
	f.t.Helper()
	s, err := seal.NewSealer(f.pg, f.key, opts...)
	require.NoError(f.t, err)
	return s
}

func (f *fixture) seal(opts ...seal.Option) seal.SealReport {
	f.t.Helper()
	rep, err := f.sealer(opts...).Seal(f.ctx)
	require.NoError(f.t, err)
	return rep
}

func (f *fixture) verifier(opts ...seal.Option) *seal.Verifier {
	f.t.Helper()
	v, err := seal.NewVerifier(f.pg, f.pub, opts...)
	require.NoError(f.t, err)
	return v
}

// verify checks both stores.
func (f *fixture) verify(opts ...seal.Option) (*seal.Result, error) {
	f.t.Helper()
	return f.verifier(opts...).Verify(f.ctx, f.pgSrc, f.chSrc)
}

// requireClean asserts a verification without any finding.
func (f *fixture) requireClean(opts ...seal.Option) *seal.Result {
	f.t.Helper()
	res, err := f.verify(opts...)
	require.NoError(f.t, err)
	require.True(f.t, res.OK)
	require.Empty(f.t, res.Findings)
	for _, rr := range res.Ranges {
		require.True(f.t, rr.Compared, "range %v", rr.Start)
		require.True(f.t, rr.Agree, "range %v", rr.Start)
		require.Equal(f.t, rr.Rows["postgres"], rr.Rows["clickhouse"], "range %v", rr.Start)
	}
	return res
}

// pgTamper runs statements as the superuser with the append-only triggers
// off for the session (session_replication_role = replica).
func (f *fixture) pgTamper(sql string, args ...any) {
	f.t.Helper()
	conn, err := f.pg.Acquire(f.ctx)
	require.NoError(f.t, err)
	defer conn.Release()
	_, err = conn.Exec(f.ctx, "SET session_replication_role = replica")
	require.NoError(f.t, err)
	defer func() {
		_, err := conn.Exec(context.Background(), "RESET session_replication_role")
		require.NoError(f.t, err)
	}()
	tag, err := conn.Exec(f.ctx, sql, args...)
	require.NoError(f.t, err)
	require.NotZero(f.t, tag.RowsAffected(), "tampering changed nothing: %s", sql)
}

// chMutate runs an ALTER TABLE ... UPDATE or DELETE on the ClickHouse
// audit table and waits for the mutation to finish.
func (f *fixture) chMutate(mutation string) {
	f.t.Helper()
	require.NoError(f.t, f.ch.Exec(f.ctx, "ALTER TABLE `"+f.chOpts.Database+"`.audit_logs "+mutation))
	require.Eventually(f.t, func() bool {
		var n uint64
		err := f.ch.QueryRow(f.ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = 'audit_logs' AND is_done = 0", f.chOpts.Database).Scan(&n)
		require.NoError(f.t, err)
		return n == 0
	}, time.Minute, 50*time.Millisecond)
}

// chExec runs a statement on the ClickHouse database.
func (f *fixture) chExec(sql string) {
	f.t.Helper()
	require.NoError(f.t, f.ch.Exec(f.ctx, sql))
}

// capture returns the records emitted through a real SDK provider.
func capture(emit func(lp log.LoggerProvider)) []sdklog.Record {
	return testenv.Capture("billing", emit)
}

// events returns n varied audit records, the i-th at at(i): logins,
// settings changes with details and previous/new values of every JSON
// type, failures, IPv6 clients, and records with attributes outside the
// contract (typed, and strings that read as JSON).
func events(n int, at func(i int) time.Time) []sdklog.Record {
	return capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) {}))
		raw := lp.Logger("raw")
		for i := range n {
			ev := otelaudit.Event{
				Time:   at(i),
				Action: otelaudit.ActionLogin,
				Actor:  otelaudit.Actor{UserID: fmt.Sprintf("usr_%d", i), WorkspaceID: fmt.Sprintf("ws_%d", i%3), Name: fmt.Sprintf("User %d", i)},
				Client: otelaudit.Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (test)", SessionID: fmt.Sprintf("sess_%d", i)},
			}
			switch i % 4 {
			case 1:
				ev.Action = otelaudit.ActionSettingsChanged
				ev.Resource = otelaudit.Resource{Type: "settings", ID: fmt.Sprintf("set_%d", i)}
				ev.Details = otelaudit.Value(map[string]any{"reason": "user request", "count": 100, "ratio": 1.5, "tiny": 1e-7, "huge": 1e21, "ok": true, "none": nil, "list": []any{"a", 2, 3.25}})
				ev.Previous = otelaudit.Value(map[string]any{"theme": "dark", "b": 1})
				ev.New = otelaudit.Value(map[string]any{"theme": "light", "b": 2})
			case 2:
				ev.Outcome = otelaudit.Failure("invalid_password")
				ev.Client.IP = "2001:db8::7"
			case 3:
				var r log.Record
				r.SetEventName("audit.invoice.refunded")
				r.SetTimestamp(at(i))
				r.SetSeverity(log.SeverityInfo)
				r.AddAttributes(
					attribute.String(otelaudit.KeyEventID, uuid.Must(uuid.NewV7()).String()),
					attribute.String(otelaudit.KeyUserID, fmt.Sprintf("usr_%d", i)),
					attribute.String(otelaudit.KeyWorkspaceID, "ws_raw"),
					attribute.String(otelaudit.KeyClientAddress, "not-an-ip"),
					attribute.String("tenant.region", "eu-west-1"),
					attribute.Int("invoice.lines", 12),
					attribute.Float64("invoice.amount", 99.5),
					attribute.Bool("invoice.paid", true),
					attribute.String("looks.like.json", "12"),
					attribute.Slice("invoice.tags", attribute.StringValue("a"), attribute.IntValue(7)),
					attribute.Map("invoice.meta", attribute.String("z", "last"), attribute.Int("a", 1)),
				)
				raw.Emit(context.Background(), r)
				continue
			}
			a.Record(context.Background(), ev)
		}
	})
}

// ids returns the event ids of the rows of the Postgres table, by time.
func (f *fixture) ids() []uuid.UUID {
	f.t.Helper()
	rows, err := f.pg.Query(f.ctx, "SELECT event_id FROM audit_logs ORDER BY created_at, event_id")
	require.NoError(f.t, err)
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		require.NoError(f.t, rows.Scan(&id))
		out = append(out, id)
	}
	require.NoError(f.t, rows.Err())
	return out
}

// findings returns the findings of kind k in store (any store when "").
func findings(res *seal.Result, k seal.Kind, store string) []seal.Finding {
	var out []seal.Finding
	for _, f := range res.Findings {
		if f.Kind == k && (store == "" || f.Store == store) {
			out = append(out, f)
		}
	}
	return out
}

// failing returns the failing findings.
func failing(res *seal.Result) []seal.Finding {
	var out []seal.Finding
	for _, f := range res.Findings {
		if f.Kind.Fails() {
			out = append(out, f)
		}
	}
	return out
}

// requireFound asserts that verification failed with exactly the wanted
// failing findings (kind, store, event id), in any order.
func requireFound(t *testing.T, res *seal.Result, err error, want ...seal.Finding) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, seal.ErrVerifyFailed), "%v", err)
	require.NotNil(t, res)
	require.False(t, res.OK)
	key := func(f seal.Finding) string { return fmt.Sprintf("%v/%s/%s", f.Kind, f.Store, f.EventID) }
	var got, exp []string
	for _, f := range failing(res) {
		got = append(got, key(f))
	}
	for _, f := range want {
		exp = append(exp, key(f))
	}
	slices.Sort(got)
	slices.Sort(exp)
	require.Equal(t, exp, got, "findings:\n%s", describe(res))
	// The error counts them, by kind in Kind order.
	counts := map[seal.Kind]int{}
	for _, f := range want {
		counts[f.Kind]++
	}
	kinds := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %v", counts[k], k)
	}
	require.Regexp(t, `(^|\s)`+regexp.QuoteMeta(fmt.Sprintf("%d findings (%s)", len(want), strings.Join(parts, ", "))), err.Error())
}

func describe(res *seal.Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

// eventWithID returns one login record with the given id and time.
func eventWithID(id uuid.UUID, at time.Time) []sdklog.Record {
	return capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) {}))
		a.Record(context.Background(), otelaudit.Event{
			ID: id, Time: at, Action: otelaudit.ActionLogin,
			Actor:  otelaudit.Actor{UserID: "usr_late", WorkspaceID: "ws_0", Name: "Late Comer"},
			Client: otelaudit.Client{IP: "192.0.2.9", UserAgent: "late/1.0"},
		})
	})
}

// idWhere returns the id of the first Postgres row (by time) matching cond.
func (f *fixture) idWhere(cond string) uuid.UUID {
	f.t.Helper()
	var id uuid.UUID
	require.NoError(f.t, f.pg.QueryRow(f.ctx, "SELECT event_id FROM audit_logs WHERE "+cond+" ORDER BY created_at, event_id LIMIT 1").Scan(&id))
	return id
}

// pgTime returns the time of a Postgres row.
func (f *fixture) pgTime(id uuid.UUID) time.Time {
	f.t.Helper()
	var t time.Time
	require.NoError(f.t, f.pg.QueryRow(f.ctx, "SELECT created_at FROM audit_logs WHERE event_id = $1", id).Scan(&t))
	return t
}

// partitionOf returns the partition that holds a Postgres row.
func (f *fixture) partitionOf(id uuid.UUID) string {
	f.t.Helper()
	var part string
	require.NoError(f.t, f.pg.QueryRow(f.ctx, "SELECT tableoid::regclass::text FROM audit_logs WHERE event_id = $1", id).Scan(&part))
	return part
}

// pgExec runs a statement as the superuser, triggers in force.
func (f *fixture) pgExec(sql string, args ...any) {
	f.t.Helper()
	_, err := f.pg.Exec(f.ctx, sql, args...)
	require.NoError(f.t, err)
}

// chCopy returns an INSERT ... SELECT that copies the ClickHouse row of id
// with column col set to expr.
func (f *fixture) chCopy(id uuid.UUID, col, expr string) string {
	cols := chschema.Columns(f.chLay)
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c
		if c == col {
			sel[i] = expr + " AS " + c
		}
	}
	table := "`" + f.chOpts.Database + "`.audit_logs"
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM " + table + " WHERE event_id = toUUID('" + id.String() + "')"
}
