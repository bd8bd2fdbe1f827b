package postgreslog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/internal/metricstest"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds each test's database work.
const testTimeout = 2 * time.Minute

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// migrated returns a pool on a fresh database with the audit table
// migrated with o. Unless o sets Back, the partition function's window
// reaches back to year 1: the tests write events at fixed dates, years
// ago some of them, and the window has tests of its own
// (TestPartitionWindow...).
func migrated(t testing.TB, o pgschema.Options) *pgxpool.Pool {
	t.Helper()
	if o.Back == 0 {
		o.Back = pgschema.MaxBack
	}
	pool := testenv.Postgres(t)
	_, err := pgschema.Migrate(testCtx(t), pool, o)
	require.NoError(t, err)
	return pool
}

// lastMonth is the partition of December 9999, the last month a row can
// have. It is beyond the window of any partition function (Options.Ahead
// is at most 400), so tests that write there create it as the owner.
func lastMonth(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(testCtx(t), `CREATE TABLE audit_logs_p999912 PARTITION OF audit_logs
		FOR VALUES FROM ('9999-12-01 00:00:00+00') TO ('10000-01-01 00:00:00+00')`)
	require.NoError(t, err)
}

// writerLogin migrates a fresh database with a writer role, no partition
// ahead of the current one and a window back to year 1 (as migrated), and
// returns a pool of its owner and a pool that logs in as that role,
// holding nothing else.
func writerLogin(t testing.TB) (admin, writer *pgxpool.Pool) {
	t.Helper()
	return writerLoginWith(t, pgschema.Options{Ahead: -1, Back: pgschema.MaxBack})
}

// writerLoginWith is writerLogin with the options o (its WriterRole is
// set to a fresh role).
func writerLoginWith(t testing.TB, o pgschema.Options) (admin, writer *pgxpool.Pool) {
	t.Helper()
	ctx := testCtx(t)
	admin = testenv.Postgres(t)
	var rnd [4]byte
	_, err := rand.Read(rnd[:])
	require.NoError(t, err)
	role := "t_pgw_" + hex.EncodeToString(rnd[:]) // roles are cluster-wide
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP OWNED BY "+role+"; DROP ROLE IF EXISTS "+role)
		require.NoError(t, err)
	})
	o.WriterRole = role
	_, err = pgschema.Migrate(ctx, admin, o)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "ALTER ROLE "+role+" LOGIN")
	require.NoError(t, err)
	cfg := admin.Config().ConnConfig
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: cfg.Host + ":" + strconv.Itoa(int(cfg.Port)), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	writer, err = pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(writer.Close)
	return admin, writer
}

// newExporter returns an exporter over pool with fast retries, a handler
// log and metrics read by a ManualReader (metricsOf), shut down when the
// test ends. After the test, every record it was given must have exactly
// one outcome in its Stats, and its metrics must count what its Stats
// count.
func newExporter(t testing.TB, pool *pgxpool.Pool, opts ...postgreslog.Option) (*postgreslog.Exporter, *corpus.ErrorLog) {
	t.Helper()
	h := &corpus.ErrorLog{}
	m := metricstest.New(t)
	base := []postgreslog.Option{
		postgreslog.WithErrorHandler(h.Handle),
		postgreslog.WithRetry(postgreslog.RetryConfig{Enabled: true, InitialInterval: 5 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 20 * time.Second}),
		postgreslog.WithMeterProvider(m.Provider),
	}
	e, err := postgreslog.New(pool, append(base, opts...)...)
	require.NoError(t, err)
	readers.Store(e, m)
	// Cleanups run last first: this one after the Shutdown below.
	t.Cleanup(func() { metricstest.RequireMatches(t, m, "postgreslog", e.Stats()) })
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e, h
}

// readers maps each exporter of newExporter to its metrics.
var readers sync.Map // *postgreslog.Exporter -> *metricstest.Reader

// metricsOf returns the metrics of an exporter made by newExporter.
func metricsOf(e *postgreslog.Exporter) *metricstest.Reader {
	m, _ := readers.Load(e)
	return m.(*metricstest.Reader)
}

// auditRecords emits through a bridge Auditor over a real SDK provider and
// returns the SDK records.
func auditRecords(emit func(a *bridge.Auditor)) []sdklog.Record {
	return corpus.Capture(func(lp log.LoggerProvider) {
		emit(bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) {})))
	})
}

// logins returns n login records of distinct users, at successive
// microseconds from start.
func logins(n int, start time.Time) []sdklog.Record {
	return auditRecords(func(a *bridge.Auditor) {
		for i := range n {
			a.Record(context.Background(), otelaudit.Event{
				Time:   start.Add(time.Duration(i) * time.Microsecond),
				Action: otelaudit.ActionLogin,
				Actor:  otelaudit.Actor{UserID: "usr_" + itoa(i), WorkspaceID: "ws_" + itoa(i%7)},
				Client: otelaudit.Client{IP: "203.0.113.7", UserAgent: "test"},
			})
		}
	})
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// dbRow is an audit_logs row as read back.
type dbRow struct {
	CreatedAt     time.Time
	EventID       uuid.UUID
	Action        string
	Outcome       string
	ErrorType     *string
	UserID        *string
	UserName      *string
	WorkspaceID   *string
	IPAddress     *netip.Addr
	UserAgent     *string
	SessionID     *string
	Resource      *string
	ResourceID    *string
	Details       json.RawMessage
	PreviousValue json.RawMessage
	NewValue      json.RawMessage
	Attributes    json.RawMessage
	TraceID       *string
	SpanID        *string
	ServiceName   *string
	Sanitized     []string
	ObservedAt    *time.Time
	IngestedAt    time.Time
	Partition     string
}

// readRows returns the rows of public.audit_logs ordered by time and id.
func readRows(t testing.TB, pool *pgxpool.Pool) []dbRow {
	t.Helper()
	rows, err := pool.Query(testCtx(t), `
		SELECT created_at, event_id, action, outcome, error_type, user_id, user_name, workspace_id,
		       ip_address, user_agent, session_id, resource, resource_id,
		       details::text, previous_value::text, new_value::text, attributes::text,
		       trace_id, span_id, service_name, sanitized, observed_at, ingested_at, tableoid::regclass::text
		FROM audit_logs ORDER BY created_at, event_id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbRow, error) {
		var d dbRow
		var details, prev, next, attrs *string
		err := r.Scan(&d.CreatedAt, &d.EventID, &d.Action, &d.Outcome, &d.ErrorType, &d.UserID, &d.UserName, &d.WorkspaceID,
			&d.IPAddress, &d.UserAgent, &d.SessionID, &d.Resource, &d.ResourceID,
			&details, &prev, &next, &attrs,
			&d.TraceID, &d.SpanID, &d.ServiceName, &d.Sanitized, &d.ObservedAt, &d.IngestedAt, &d.Partition)
		d.Details, d.PreviousValue, d.NewValue, d.Attributes = raw(details), raw(prev), raw(next), raw(attrs)
		return d, err
	})
	require.NoError(t, err)
	return out
}

func raw(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

// count returns the number of rows and of distinct event ids.
func count(t testing.TB, pool *pgxpool.Pool) (rows, ids int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(testCtx(t), `SELECT count(*), count(DISTINCT event_id) FROM audit_logs`).Scan(&rows, &ids))
	return rows, ids
}

func ptr[T any](v T) *T { return &v }
