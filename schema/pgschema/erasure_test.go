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

// The erasure function reaches the rows that name the user as their
// target and the personal values inside the JSON columns, by the
// documented rule; rows in keep change only in the actor's personal
// fields, and rows that name the user nowhere but in details do not
// change.
func TestEraseUserTargetsAndDetails(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
	now := time.Now()
	ids := map[string]string{}
	for _, name := range []string{"own", "target", "other", "kept_target", "kept_own", "unrelated"} {
		var id string
		require.NoError(t, pool.QueryRow(ctx, "SELECT gen_random_uuid()::text").Scan(&id))
		ids[name] = id
	}
	_, err = pool.Exec(ctx, `INSERT INTO audit_logs (created_at, event_id, action, outcome, user_id, user_name, ip_address, resource, resource_id, details, previous_value, new_value)
		VALUES ($1, $2, 'profile_updated', 'success', 'usr_1', 'Ada', '192.0.2.1', 'settings', 'set_1',
		        '{"email": "ada@example.com", "note": "usr_1", "list": ["Ada", "x", 1], "name": "kept in an own row"}', '"Ada"', NULL),
		       ($1, $3, 'admin_action', 'success', 'admin_1', 'Root', '192.0.2.9', 'user', 'usr_1',
		        '{"email": "ada@example.com", "name": "Ada L", "nested": {"phone": 123, "k": "usr_1", "none": null}, "n": 1.50}',
		        '{"role": "member"}', '{"role": "admin", "address": {"city": "x"}}'),
		       ($1, $4, 'admin_action', 'success', 'admin_1', 'Root', '192.0.2.9', 'user', 'usr_2',
		        '{"email": "bob@example.com", "by": "usr_1"}', NULL, NULL),
		       ($1, $5, 'admin_action', 'success', 'admin_1', 'Root', '192.0.2.9', 'user', 'usr_1', '{"email": "ada@example.com"}', NULL, NULL),
		       ($1, $6, 'login', 'success', 'usr_1', 'Ada', '192.0.2.1', 'user', 'usr_1', '{"name": "Ada"}', NULL, NULL),
		       ($1, $7, 'login', 'success', 'usr_3', 'Cy', NULL, NULL, NULL, '{"x": "Ada"}', NULL, NULL)`,
		now, ids["own"], ids["target"], ids["other"], ids["kept_target"], ids["kept_own"], ids["unrelated"])
	require.NoError(t, err)

	rows, err := pool.Query(ctx, "SELECT event_id::text FROM audit_logs_erase_user('usr_1', 'erased_y', ARRAY['ada@example.com'], keep => ARRAY[$1, $2]::uuid[])",
		ids["kept_target"], ids["kept_own"])
	require.NoError(t, err)
	var changed []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		changed = append(changed, id)
	}
	require.NoError(t, rows.Err())
	require.ElementsMatch(t, []string{ids["own"], ids["target"], ids["kept_own"]}, changed)

	got := func(name string) string {
		var s string
		require.NoError(t, pool.QueryRow(ctx, `SELECT concat_ws(' | ', user_id, coalesce(user_name, '-'), coalesce(host(ip_address), '-'), coalesce(resource_id, '-'),
			coalesce(details::text, '-'), coalesce(previous_value::text, '-'), coalesce(new_value::text, '-')) FROM audit_logs WHERE event_id = $1`, ids[name]).Scan(&s))
		return s
	}
	require.Equal(t, `erased_y | - | - | set_1 | {"list": ["[erased]", "x", 1], "name": "kept in an own row", "note": "erased_y", "email": "[erased]"} | "[erased]" | -`, got("own"))
	require.Equal(t, `admin_1 | Root | 192.0.2.9 | erased_y | {"n": 1.50, "name": "[erased]", "email": "[erased]", "nested": {"k": "erased_y", "none": null, "phone": "[erased]"}} | {"role": "member"} | {"role": "admin", "address": "[erased]"}`, got("target"))
	require.Equal(t, `admin_1 | Root | 192.0.2.9 | usr_2 | {"by": "usr_1", "email": "bob@example.com"} | - | -`, got("other"))
	require.Equal(t, `admin_1 | Root | 192.0.2.9 | usr_1 | {"email": "ada@example.com"} | - | -`, got("kept_target"))
	require.Equal(t, `erased_y | - | - | usr_1 | {"name": "Ada"} | - | -`, got("kept_own"))
	require.Equal(t, `usr_3 | Cy | - | - | {"x": "Ada"} | - | -`, got("unrelated"))

	// Only the erasure may change those columns; the owner outside it may
	// not, nor any other column inside it.
	for _, stmt := range []string{
		"UPDATE audit_logs SET details = NULL",
		"UPDATE audit_logs SET resource_id = 'x'",
		"BEGIN; SELECT set_config('otelaudit.erasure', 'on', true); UPDATE audit_logs SET resource = 'x'; COMMIT",
	} {
		_, err := pool.Exec(ctx, stmt)
		require.Error(t, err, stmt)
		require.Equal(t, "42501", pgCode(err), "%s: %v", stmt, err)
		_, _ = pool.Exec(ctx, "ROLLBACK")
	}
}
