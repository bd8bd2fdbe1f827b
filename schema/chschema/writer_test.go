package chschema_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func TestWriterGrantsGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts chschema.Options
		role string
	}{
		{"writer_grants.sql", chschema.Options{Database: "audit"}, ""},
		{"writer_grants_cluster.sql", chschema.Options{Database: "audit", Cluster: "analytics"}, "audit_ingest"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			stmts, err := chschema.WriterGrants(tc.opts, tc.role)
			require.NoError(t, err)
			got := strings.Join(stmts, ";\n\n") + ";\n"
			for _, forbidden := range []string{"ALTER", "DROP", "TRUNCATE", "OPTIMIZE", "ALL", "user_id", "client_ip", "details"} {
				require.NotContains(t, got, forbidden)
			}
			golden(t, tc.file, got)
		})
	}
	_, err := chschema.WriterGrants(chschema.Options{}, "bad role")
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)
}

// ingest is the route of the tests: the service's user "billing_service"
// (password "correct horse") inserts into audit_ingest, forwarded to audit.
func ingest(port int) chschema.Ingest {
	sum := sha256.Sum256([]byte("correct horse"))
	return chschema.Ingest{
		Host: "127.0.0.2", Port: port, ForwardPassword: "s3cret <&> forward",
		Service: chschema.WriterUser{Name: "billing_service", PasswordSHA256: hex.EncodeToString(sum[:])},
	}
}

func TestIngestGolden(t *testing.T) {
	opts := chschema.Options{Database: "audit"}
	in := ingest(9000)
	in.Service.Networks = []string{"10.0.0.0/8", "192.0.2.7"}
	cfg, err := chschema.IngestConfigXML(opts, in)
	require.NoError(t, err)
	golden(t, "ingest_config.xml", string(cfg))
	users, err := chschema.IngestUsersXML(opts, in)
	require.NoError(t, err)
	golden(t, "ingest_users.xml", string(users))
	require.Contains(t, string(cfg), "s3cret &lt;&amp;&gt; forward", "escaped for XML")

	for name, mod := range map[string]func(*chschema.Ingest){
		"service name":        func(in *chschema.Ingest) { in.Service.Name = "a<b" },
		"service password":    func(in *chschema.Ingest) { in.Service.PasswordSHA256 = "abc" },
		"service network":     func(in *chschema.Ingest) { in.Service.Networks = []string{"localhost</ip><ip>::/0"} },
		"host":                func(in *chschema.Ingest) { in.Host = "db.example" },
		"port":                func(in *chschema.Ingest) { in.Port = 0 },
		"no forward password": func(in *chschema.Ingest) { in.ForwardPassword = "" },
		"same database":       func(in *chschema.Ingest) { in.Database = "audit" },
		"profile":             func(in *chschema.Ingest) { in.Profile = "x y" },
	} {
		in := ingest(9000)
		mod(&in)
		_, err := chschema.IngestUsersXML(opts, in)
		require.ErrorIs(t, err, chschema.ErrInvalidOptions, name)
	}
	_, err = chschema.IngestUsersXML(chschema.Options{Database: "audit", Cluster: "c"}, ingest(9000))
	require.ErrorIs(t, err, chschema.ErrInvalidOptions, "a single server")
}

// Replays what the exporter's credentials could do on ClickHouse 18.16:
// with the server's default user, ALTER TABLE ... DELETE and UPDATE, DROP
// and TRUNCATE all worked. A private server gets the ingest route's files;
// the service's user exports through it, and every change or removal it
// tries, with allow_ddl = 1 sent along as a query setting, is refused.
// Last, it shows why the route is needed: 18.16 does not check settings
// sent with a query, so a user that may use the audit database (here the
// forwarding user) runs ALTER TABLE ... DELETE despite allow_ddl = 0.
func TestIngestLive(t *testing.T) {
	t.Parallel()
	opts := chschema.Options{Database: "audit"}
	users, err := chschema.IngestUsersXML(opts, ingest(1))
	require.NoError(t, err)
	srv := testenv.StartClickHouse(t,
		testenv.WithListenHost("127.0.0.2"),
		testenv.WithUsersFile("otelaudit.xml", users),
		testenv.WithConfigFile("otelaudit.xml", func(port int) []byte {
			cfg, err := chschema.IngestConfigXML(opts, ingest(port))
			if err != nil {
				panic(err) // the same options rendered above
			}
			return cfg
		}))
	open := func(user, password, database string) clickhouse.Conn {
		t.Helper()
		opt, err := testenv.ClickHouseOptions(srv.DSNAs(user, database))
		require.NoError(t, err)
		opt.Auth.Password = password
		conn, err := clickhouse.Open(opt)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ctx := ctxT(t)
	admin := open("default", "", "default")
	layout, err := chschema.Migrate(ctx, admin, opts)
	require.NoError(t, err)
	require.NoError(t, chschema.MigrateIngest(ctx, admin, opts, ingest(1)))
	require.NoError(t, chschema.MigrateIngest(ctx, admin, opts, ingest(1)), "again: nothing to do")
	var audit, ingested []string
	for _, table := range []string{"audit", "audit_ingest"} {
		rows := queryRows(t, admin, "SELECT name, type FROM system.columns WHERE database = ? AND table = 'audit_logs' AND default_kind != 'MATERIALIZED'", []any{table})
		if table == "audit" {
			audit = rows
		} else {
			ingested = rows
		}
	}
	require.Equal(t, audit, ingested, "the Distributed table has the columns an insert fills")

	_, err = open("billing_service", "wrong", "audit_ingest").ServerVersion()
	require.Error(t, err, "the password is checked")
	svc := open("billing_service", "correct horse", "audit_ingest")
	exp, err := clickhouselog.New(svc, clickhouselog.WithSchema(chschema.Options{Database: "audit_ingest"}))
	require.NoError(t, err)
	events := seedEvents()
	emit(t, exp, events, 1)
	require.EqualValues(t, len(events), exp.Stats().Written, "the service inserts")
	before := queryRows(t, admin, "SELECT * FROM audit.audit_logs ORDER BY event_id", nil)
	require.Len(t, before, len(events), "the rows are in the audit table, when the inserts return")
	require.EqualValues(t, len(events), count(t, admin, "SELECT sum(events) FROM audit.audit_logs_daily"), "and the rollup counted them")
	tl, err := chschema.TableLayout(ctx, svc, chschema.Options{Database: "audit_ingest"})
	require.NoError(t, err)
	require.Equal(t, layout, tl)

	bypass := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_ddl": 1}))
	for _, tc := range []struct {
		stmt string
		code int32
	}{
		{"ALTER TABLE audit.audit_logs DELETE WHERE 1", 291}, // ACCESS_DENIED: database audit
		{"ALTER TABLE audit.audit_logs UPDATE user_id = 'mallory' WHERE 1", 291},
		{"ALTER TABLE audit.audit_logs DROP PARTITION 202406", 291},
		{"DROP TABLE audit.audit_logs", 291},
		{"TRUNCATE TABLE audit.audit_logs", 291},
		{"RENAME TABLE audit.audit_logs TO audit_ingest.stolen", 291},
		{"OPTIMIZE TABLE audit.audit_logs FINAL", 291},
		{"INSERT INTO audit.audit_logs (event_id) SELECT generateUUIDv4()", 291},
		{"ALTER TABLE audit_ingest.audit_logs DELETE WHERE 1", 48}, // NOT_IMPLEMENTED for Distributed
		{"ALTER TABLE audit_ingest.audit_logs UPDATE user_id = 'mallory' WHERE 1", 48},
		{"OPTIMIZE TABLE audit_ingest.audit_logs FINAL", 48},
	} {
		err := svc.Exec(bypass, tc.stmt)
		var ex *clickhouse.Exception
		require.True(t, errors.As(err, &ex), "%s: %v", tc.stmt, err)
		require.Equal(t, tc.code, ex.Code, "%s: %v", tc.stmt, err)
	}
	for _, stmt := range []string{"SET allow_ddl = 1", "DROP TABLE audit_ingest.audit_logs", "CREATE TABLE audit_ingest.x (a UInt8) ENGINE = TinyLog"} {
		err := svc.Exec(ctx, stmt)
		var ex *clickhouse.Exception
		require.True(t, errors.As(err, &ex), "%s: %v", stmt, err)
		require.EqualValues(t, 392, ex.Code, "%s: QUERY_IS_PROHIBITED without the setting: %v", stmt, err)
	}
	require.Equal(t, before, queryRows(t, admin, "SELECT * FROM audit.audit_logs ORDER BY event_id", nil), "every row as it was")
	require.Zero(t, count(t, admin, "SELECT count() FROM system.mutations"), "no mutation was queued")

	// What 18.16 does not enforce: allow_ddl sent with a query. The
	// forwarding user may use the audit database (its password stays in
	// the server's configuration).
	fwd := open("otelaudit_forward", "s3cret <&> forward", "audit")
	err = fwd.Exec(ctx, "ALTER TABLE audit_logs DELETE WHERE 1")
	var ex *clickhouse.Exception
	require.True(t, errors.As(err, &ex), "%v", err)
	require.EqualValues(t, 392, ex.Code)
	require.NoError(t, fwd.Exec(bypass, "ALTER TABLE audit_logs DELETE WHERE 1"), "18.16 takes allow_ddl from the query's settings unchecked")
	require.Eventually(t, func() bool {
		return count(t, admin, "SELECT count() FROM audit.audit_logs") == 0
	}, 30*time.Second, 100*time.Millisecond)
}
