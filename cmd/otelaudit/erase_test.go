package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
)

// Erasure leaves no personal value of the user in any row that names the
// user, in either store: the user's own rows, the rows that name the user
// as their target, and the personal values inside their JSON values. The
// trail still verifies against seals made before, a late row erased
// before it was sealed is identical in both stores (the Postgres function
// and the ClickHouse rewrite apply the same rule), and the erasure is
// recorded under the pseudonym.
func TestEraseCommand(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	evs := events(9, base) // usr_0 acts in 0, 3, 6
	for i := range evs {
		if evs[i].Actor.UserID == "usr_0" {
			evs[i].Actor.Name = "Ada Lovelace"
			evs[i].Client = otelaudit.Client{IP: "198.51.100.77", UserAgent: "AdaBrowser/1", SessionID: "ada_session"}
			evs[i].Details = otelaudit.Value(map[string]any{"handle": "usr_0", "contact": []any{"ada@example.com", 7}, "signed": "Ada Lovelace", "plan": "pro"})
		}
	}
	adminOn := func(at time.Time, user string) otelaudit.Event {
		return otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: at, Action: otelaudit.ActionAdminAction,
			Actor:    otelaudit.Actor{UserID: "admin_1", Name: "Root", WorkspaceID: "ws_0"},
			Client:   otelaudit.Client{IP: "192.0.2.9"},
			Resource: otelaudit.Resource{Type: "user", ID: user},
			Details:  otelaudit.Value(map[string]any{"email": "ada@example.com", "name": "Ada L.", "reason": "support ticket", "nested": map[string]any{"phone": 5551234, "by": "admin_1"}}),
			Previous: otelaudit.Value(map[string]any{"role": "member", "display_name": "Ada"}),
			New:      otelaudit.Value(map[string]any{"role": "admin", "display_name": "Ada"}),
		}
	}
	target := adminOn(base.Add(time.Hour), "usr_0")
	// Another user's row that mentions usr_0 only inside details: it does
	// not name the user, and the rule leaves it.
	mention := adminOn(base.Add(2*time.Hour), "usr_1")
	mention.Details = otelaudit.Value(map[string]any{"referred_by": "usr_0"})
	c.write(append(evs, target, mention)...)
	key := filepath.Join(t.TempDir(), "k")
	_, errOut, code := c.run("keygen", "--out", key)
	require.Equal(t, exitOK, code, errOut)
	_, errOut, code = c.run("seal", "--key", key)
	require.Equal(t, exitOK, code, errOut)
	// A row of a sealed window that arrives after the seal: late, not
	// sealed yet, and compared between the stores by verify.
	late := adminOn(base.Add(90*time.Minute), "usr_0")
	c.write(late)

	out, errOut, code := c.run("erase", "--user", "usr_0", "--also", "ada@example.com", "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: would pseudonymise 5 rows (3 as the actor, 2 as the target; seal salts dropped: 0)")
	require.Contains(t, out, "clickhouse: would pseudonymise 5 rows")

	out, errOut, code = c.run("erase", "--user", "usr_0", "--also", "ada@example.com", "--operator", "dpo_bob")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: pseudonymised 5 rows (3 as the actor, 2 as the target; seal salts dropped: 4)")
	require.Contains(t, out, "clickhouse: pseudonymised 5 rows")
	pseudonym := regexp.MustCompile(`erased user as (erased_[0-9a-f]{16})`).FindStringSubmatch(out)
	require.Len(t, pseudonym, 2, out)

	// No personal value of the user is left in any row that names them,
	// in any column: each store's whole row, as text.
	personal := []string{"usr_0", "Ada Lovelace", "198.51.100.77", "AdaBrowser/1", "ada_session", "ada@example.com", "Ada L.", "5551234"}
	var pgRows []string
	require.NoError(t, c.pg.QueryRow(testCtx(t), `SELECT array_agg(a::text ORDER BY created_at) FROM audit_logs AS a WHERE event_id <> $1`, mention.ID).Scan(&pgRows))
	chRows, err := c.ch.Query(testCtx(t), "SELECT concat(user_id, '|', user_name, '|', client_ip, '|', user_agent, '|', session_id, '|', resource_id, '|', details, '|', previous_value, '|', new_value, '|', arrayStringConcat(attr_values, ',')) FROM audit_logs WHERE event_id != ? ORDER BY time", mention.ID)
	require.NoError(t, err)
	var chText []string
	for chRows.Next() {
		var s string
		require.NoError(t, chRows.Scan(&s))
		chText = append(chText, s)
	}
	require.NoError(t, chRows.Err())
	chRows.Close()
	require.Len(t, pgRows, 12)
	require.Len(t, chText, 12)
	for _, v := range personal {
		for _, r := range pgRows {
			require.NotContains(t, r, v, "postgres")
		}
		for _, r := range chText {
			require.NotContains(t, r, v, "clickhouse")
		}
	}
	// The user's own rows and the target rows carry the pseudonym; the
	// rest of their values is kept.
	var own, targets int
	var details string
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT count(*) FILTER (WHERE user_id = $1 AND user_name IS NULL AND ip_address IS NULL), count(*) FILTER (WHERE resource_id = $1 AND user_id = 'admin_1') FROM audit_logs",
		pseudonym[1]).Scan(&own, &targets))
	require.Equal(t, 3, own)
	require.Equal(t, 2, targets)
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT details::text FROM audit_logs WHERE event_id = $1", target.ID).Scan(&details))
	require.JSONEq(t, `{"email": "[erased]", "name": "[erased]", "reason": "support ticket", "nested": {"phone": "[erased]", "by": "admin_1"}}`, details)
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT details FROM audit_logs WHERE event_id = ?", evs[0].ID).Scan(&details))
	require.JSONEq(t, `{"handle": "`+pseudonym[1]+`", "contact": ["[erased]", 7], "signed": "[erased]", "plan": "pro"}`, details)
	var referred string
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT details->>'referred_by' FROM audit_logs WHERE event_id = $1", mention.ID).Scan(&referred))
	require.Equal(t, "usr_0", referred, "a row that does not name the user is not changed")

	// The trail still verifies: the sealed rows through their commitments,
	// the late row compared between the stores.
	out, errOut, code = c.run("verify", "--public-key", key+".pub")
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, ", 4 erased, ")
	require.NotContains(t, out, "mismatch")

	// Recorded, under the pseudonym.
	var actor, rid string
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT user_id, resource_id FROM audit_logs WHERE action = 'data_delete_completed'").Scan(&actor, &rid))
	require.Equal(t, "dpo_bob", actor)
	require.Equal(t, pseudonym[1], rid)

	_, errOut, code = c.run("erase")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--user is required")
}

// Rows sealed under the seal's encoding version 1, which covers the
// resource id and the JSON values directly, keep them: only the personal
// fields of the user's own rows change, in both stores, and the command
// says how many rows were kept.
func TestEraseKeepsVersion1Rows(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	own := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: base.Add(time.Minute), Action: "profile_updated",
		Actor:   otelaudit.Actor{UserID: "usr_v1", Name: "Vee", WorkspaceID: "ws_0"},
		Client:  otelaudit.Client{IP: "198.51.100.1"},
		Details: otelaudit.Value(map[string]any{"handle": "usr_v1"})}
	target := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: base.Add(2 * time.Minute), Action: otelaudit.ActionAdminAction,
		Actor:    otelaudit.Actor{UserID: "admin_1", WorkspaceID: "ws_0"},
		Resource: otelaudit.Resource{Type: "user", ID: "usr_v1"},
		Details:  otelaudit.Value(map[string]any{"email": "vee@example.com"})}
	c.write(own, target)
	key := filepath.Join(t.TempDir(), "k")
	_, errOut, code := c.run("keygen", "--out", key)
	require.Equal(t, exitOK, code, errOut)
	_, errOut, code = c.run("seal", "--key", key)
	require.Equal(t, exitOK, code, errOut)
	// As a sealer before version 2 would have written them (the
	// signatures no longer match; this test does not verify).
	_, err := c.pg.Exec(testCtx(t), "UPDATE audit_digests SET version = 1")
	require.NoError(t, err)

	out, errOut, code := c.run("erase", "--user", "usr_v1", "--pseudonym", "erased_v1")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: pseudonymised 1 rows (1 as the actor, 0 as the target; seal salts dropped: 1)")
	require.Contains(t, out, "postgres: 2 rows sealed under seal encoding version 1 keep their resource id and JSON values")
	require.Contains(t, out, "clickhouse: pseudonymised 1 rows")

	var pgOwn, pgTarget string
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT concat_ws('|', user_id, coalesce(host(ip_address), '-'), details::text) FROM audit_logs WHERE event_id = $1", own.ID).Scan(&pgOwn))
	require.Equal(t, `erased_v1|-|{"handle": "usr_v1"}`, pgOwn)
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT concat_ws('|', resource_id, details::text) FROM audit_logs WHERE event_id = $1", target.ID).Scan(&pgTarget))
	require.Equal(t, `usr_v1|{"email": "vee@example.com"}`, pgTarget)
	var chOwn, chTarget string
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT concat(user_id, '|', client_ip, '|', details) FROM audit_logs WHERE event_id = ?", own.ID).Scan(&chOwn))
	require.Equal(t, `erased_v1||{"handle":"usr_v1"}`, chOwn)
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT concat(resource_id, '|', details) FROM audit_logs WHERE event_id = ?", target.ID).Scan(&chTarget))
	require.Equal(t, `usr_v1|{"email":"vee@example.com"}`, chTarget)
}

// An erasure that fails in ClickHouse after Postgres is done names the
// pseudonym, and running it again with that pseudonym finishes it: the
// store already erased finds nothing left, ClickHouse is erased, and the
// erasure is recorded once.
func TestEraseResumesAfterClickHouseFailure(t *testing.T) {
	c := newCLI(t, false)
	ev := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: time.Now().UTC().Add(-time.Hour), Action: "login",
		Actor: otelaudit.Actor{UserID: "usr_r", Name: "Arr", WorkspaceID: "ws_0"}}
	c.write(ev)
	good := c.vars[envClickHouse]
	c.vars[envClickHouse] = "clickhouse://default@127.0.0.1:1/" + c.chDB
	out, errOut, code := c.run("erase", "--user", "usr_r")
	require.Equal(t, exitError, code, out)
	m := regexp.MustCompile(`run erase again with --pseudonym (erased_[0-9a-f]{16}) to finish`).FindStringSubmatch(errOut)
	require.Len(t, m, 2, errOut)
	var n int
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT count(*) FROM audit_logs WHERE user_id = $1", m[1]).Scan(&n))
	require.Equal(t, 1, n)

	c.vars[envClickHouse] = good
	out, errOut, code = c.run("erase", "--user", "usr_r", "--pseudonym", m[1])
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: pseudonymised 0 rows")
	require.Contains(t, out, "clickhouse: pseudonymised 1 rows")
	var uid string
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT user_id FROM audit_logs WHERE event_id = ?", ev.ID).Scan(&uid))
	require.Equal(t, m[1], uid)
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT count(*) FROM audit_logs WHERE action = 'data_delete_completed'").Scan(&n))
	require.Equal(t, 1, n, "the failed run recorded nothing")
}
