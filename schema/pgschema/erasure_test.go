package pgschema_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The erasure function pseudonymises one user's personal fields and
// nothing else; the append-only triggers still refuse every other change,
// and the function is the owner's only.
func TestEraseUser(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	role := uniqueRole(t, pool)
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{WriterRole: role})
	require.NoError(t, err)
	now := time.Now()
	_, err = pool.Exec(ctx, `INSERT INTO audit_logs (created_at, event_id, action, outcome, user_id, user_name, ip_address, user_agent, session_id, resource, resource_id, details)
		VALUES ($1, gen_random_uuid(), 'login', 'success', 'usr_1', 'Ada', '192.0.2.1', 'curl/8', 's1', NULL, NULL, '{"k": 1}'),
		       ($1, gen_random_uuid(), 'logout', 'success', 'usr_1', 'Ada', '192.0.2.1', 'curl/8', 's1', NULL, NULL, NULL),
		       ($1, gen_random_uuid(), 'login', 'success', 'usr_2', 'Bob', '192.0.2.2', 'curl/8', 's2', NULL, NULL, NULL)`, now)
	require.NoError(t, err)

	rows, err := pool.Query(ctx, "SELECT * FROM audit_logs_erase_user('usr_1', 'erased_x')")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2, n, "the function returns the rows it changed")
	var users []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(coalesce(user_id, '') || '|' || coalesce(user_name, '') || '|' || coalesce(host(ip_address), '') || '|' ||
		coalesce(user_agent, '') || '|' || coalesce(session_id, '') || '|' || action || '|' || coalesce(details::text, '') ORDER BY user_id, action) FROM audit_logs`).Scan(&users))
	require.Equal(t, []string{"erased_x|||||login|{\"k\": 1}", "erased_x|||||logout|", "usr_2|Bob|192.0.2.2|curl/8|s2|login|"}, users)

	// Everything else is still refused, the owner included.
	for _, stmt := range []string{
		"UPDATE audit_logs SET user_id = 'x'",
		"BEGIN; SELECT set_config('otelaudit.erasure', 'on', true); UPDATE audit_logs SET action = 'logout'; COMMIT",
		"DELETE FROM audit_logs",
	} {
		_, err := pool.Exec(ctx, stmt)
		require.Error(t, err, stmt)
		require.Equal(t, "42501", pgCode(err), "%s: %v", stmt, err)
		_, _ = pool.Exec(ctx, "ROLLBACK")
	}
	_, err = pool.Exec(ctx, "SELECT * FROM audit_logs_erase_user('', 'p')")
	require.Equal(t, "22023", pgCode(err))

	// A role granted UPDATE that is not the owner cannot use the setting,
	// and the writer cannot call the function.
	other, op := login(t, pool)
	_, err = pool.Exec(ctx, "GRANT USAGE ON SCHEMA public TO "+other+"; GRANT SELECT, UPDATE ON audit_logs TO "+other)
	require.NoError(t, err)
	_, err = op.Exec(ctx, "BEGIN; SELECT set_config('otelaudit.erasure', 'on', true); UPDATE audit_logs SET user_name = NULL WHERE user_id = 'usr_2'; COMMIT")
	require.Equal(t, "42501", pgCode(err), "%v", err)
	_, _ = op.Exec(ctx, "ROLLBACK")
	_, err = op.Exec(ctx, "SELECT * FROM audit_logs_erase_user('usr_2', 'p')")
	require.Equal(t, "42501", pgCode(err), "%v", err)
	w := connectAs(t, pool, role)
	_, err = w.Exec(ctx, "SELECT * FROM audit_logs_erase_user('usr_2', 'p')")
	require.Equal(t, "42501", pgCode(err), "%v", err)
	require.NoError(t, pool.QueryRow(ctx, "SELECT user_name FROM audit_logs WHERE user_id = 'usr_2'").Scan(new(string)))
}
