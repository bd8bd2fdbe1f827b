package pgschema_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// A login holding only the reader role reads the audit table and cannot
// change it in any way.
func TestReaderRole(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	role := uniqueRole(t, pool)
	o := pgschema.Options{Schema: "audit", ReaderRole: role}
	_, err := pgschema.Migrate(ctx, pool, o)
	require.NoError(t, err)
	_, err = pgschema.Migrate(ctx, pool, o)
	require.NoError(t, err, "grants are idempotent")
	_, err = pool.Exec(ctx, `INSERT INTO audit.audit_logs (created_at, event_id, action, outcome, user_id)
		VALUES ($1, gen_random_uuid(), 'login', 'success', 'usr_1')`, time.Now())
	require.NoError(t, err)

	r := connectAs(t, pool, role)
	var n int
	require.NoError(t, r.QueryRow(ctx, "SELECT count(*) FROM audit.audit_logs WHERE user_id = 'usr_1'").Scan(&n))
	require.Equal(t, 1, n, "the reader reads the row the owner wrote")
	require.NoError(t, r.QueryRow(ctx, "SELECT count(*) FROM audit.audit_logs_schema_migrations").Scan(&n))
	require.Positive(t, n)

	ensure := "SELECT * FROM audit.audit_logs_ensure_partitions(now(), now(), 0)"
	for _, stmt := range []string{
		`INSERT INTO audit.audit_logs (created_at, event_id, action, outcome) VALUES (now(), gen_random_uuid(), 'login', 'success')`,
		`UPDATE audit.audit_logs SET user_id = 'x'`,
		`DELETE FROM audit.audit_logs`,
		`TRUNCATE audit.audit_logs`,
		ensure,
		`SELECT * FROM audit.audit_logs_drop_partitions_before(now())`,
		`ALTER TABLE audit.audit_logs DISABLE TRIGGER ALL`,
	} {
		_, err := r.Exec(ctx, stmt)
		require.Error(t, err, stmt)
		require.Contains(t, []string{"42501", "42883"}, pgCode(err), "%s: %v", stmt, err)
	}
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM audit.audit_logs").Scan(&n))
	require.Equal(t, 1, n, "nothing changed")

	// The role does not end up with the writer's rights by accident.
	var canInsert bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT has_table_privilege($1, 'audit.audit_logs', 'INSERT')", role).Scan(&canInsert))
	require.False(t, canInsert)
}

func TestReaderRoleOptions(t *testing.T) {
	require.ErrorIs(t, pgschema.Options{ReaderRole: "pg_read"}.Validate(), pgschema.ErrInvalidOptions)
	require.ErrorIs(t, pgschema.Options{ReaderRole: "Bad"}.Validate(), pgschema.ErrInvalidOptions)
	require.ErrorIs(t, pgschema.Options{ReaderRole: "audit", WriterRole: "audit"}.Validate(), pgschema.ErrInvalidOptions)
	require.NoError(t, pgschema.Options{ReaderRole: "audit_reader", WriterRole: "audit_writer"}.Validate())
}
