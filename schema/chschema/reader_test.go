package chschema_test

import (
	"errors"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func TestReaderGrantsGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts chschema.Options
	}{
		{"reader_grants.sql", chschema.Options{Database: "audit"}},
		{"reader_grants_cluster.sql", chschema.Options{Database: "audit", Cluster: "prod"}},
	} {
		stmts, err := chschema.ReaderGrants(tc.opts, "")
		require.NoError(t, err)
		got := ""
		for _, s := range stmts {
			got += s + ";\n"
		}
		golden(t, tc.file, got)
	}
	_, err := chschema.ReaderGrants(chschema.Options{}, "bad-role")
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)
	_, err = chschema.ReaderUsersXML(chschema.Options{}, chschema.ReaderUser{Name: "x</name>"})
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)
}

// The reader user of ReaderUsersXML reads the audit database on 18.16 and,
// with an honest client, cannot change anything.
func TestReaderUserLive(t *testing.T) {
	t.Parallel()
	opts := chschema.Options{Database: "audit"}
	users, err := chschema.ReaderUsersXML(opts, chschema.ReaderUser{Name: "analyst"})
	require.NoError(t, err)
	golden(t, "reader_users.xml", string(users))
	srv := testenv.StartClickHouse(t, testenv.WithUsersFile("otelaudit_reader.xml", users))
	open := func(user, database string) clickhouse.Conn {
		t.Helper()
		opt, err := testenv.ClickHouseOptions(srv.DSNAs(user, database))
		require.NoError(t, err)
		conn, err := clickhouse.Open(opt)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ctx := ctxT(t)
	admin := open("default", "default")
	_, err = chschema.Migrate(ctx, admin, opts)
	require.NoError(t, err)
	exp, err := clickhouselog.New(admin, clickhouselog.WithSchema(opts))
	require.NoError(t, err)
	events := seedEvents()
	emit(t, exp, events, 1)
	before := queryRows(t, admin, "SELECT * FROM audit.audit_logs ORDER BY event_id", nil)

	r := open("analyst", "audit")
	require.EqualValues(t, len(events), count(t, r, "SELECT uniqExact(event_id) FROM audit.audit_logs"), "the reader reads")
	require.NotZero(t, count(t, r, "SELECT sum(events) FROM audit.audit_logs_daily"))
	for _, stmt := range []string{
		"INSERT INTO audit.audit_logs (event_id) SELECT generateUUIDv4()",
		"ALTER TABLE audit.audit_logs DELETE WHERE 1",
		"ALTER TABLE audit.audit_logs UPDATE user_id = 'mallory' WHERE 1",
		"ALTER TABLE audit.audit_logs DROP PARTITION 202406",
		"DROP TABLE audit.audit_logs",
		"TRUNCATE TABLE audit.audit_logs",
		"OPTIMIZE TABLE audit.audit_logs FINAL",
		"CREATE TABLE audit.x (a UInt8) ENGINE = TinyLog",
		"SET readonly = 0",
	} {
		err := r.Exec(ctx, stmt)
		var ex *clickhouse.Exception
		require.True(t, errors.As(err, &ex), "%s: %v", stmt, err)
		require.EqualValues(t, 164, ex.Code, "%s: READONLY: %v", stmt, err)
	}
	// Unlike allow_ddl, readonly holds when a client sends another value
	// along with its query (what bypasses allow_ddl on 18.16).
	for _, setting := range []clickhouse.Settings{{"readonly": 0}, {"readonly": 2}, {"readonly": 0, "allow_ddl": 1}} {
		bypass := clickhouse.Context(ctx, clickhouse.WithSettings(setting))
		for _, stmt := range []string{
			"INSERT INTO audit.audit_logs (event_id) SELECT generateUUIDv4()",
			"ALTER TABLE audit.audit_logs DELETE WHERE 1",
			"DROP TABLE audit.audit_logs",
		} {
			err := r.Exec(bypass, stmt)
			var ex *clickhouse.Exception
			require.True(t, errors.As(err, &ex), "%s with %v: %v", stmt, setting, err)
			require.EqualValues(t, 164, ex.Code, "%s with %v: %v", stmt, setting, err)
		}
	}
	err = open("analyst", "default").Ping(ctx)
	require.Error(t, err, "the reader may use the audit database only")
	require.Equal(t, before, queryRows(t, admin, "SELECT * FROM audit.audit_logs ORDER BY event_id", nil), "every row as it was")
	require.Zero(t, count(t, admin, "SELECT count() FROM system.mutations"), "no mutation was queued")
}
