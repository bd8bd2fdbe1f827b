package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
)

// Erasure leaves no personal value of the user's own events in either
// store, the trail still verifies against seals made before, and the
// erasure is recorded under the pseudonym.
func TestEraseCommand(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	evs := events(9, base) // usr_0 acts in 0, 3, 6
	for i := range evs {
		if evs[i].Actor.UserID == "usr_0" {
			evs[i].Actor.Name = "Ada Lovelace"
			evs[i].Client = otelaudit.Client{IP: "198.51.100.77", UserAgent: "AdaBrowser/1", SessionID: "ada_session"}
		}
	}
	target := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: base.Add(time.Hour), Action: otelaudit.ActionAdminAction,
		Actor: otelaudit.Actor{UserID: "admin_1"}, Resource: otelaudit.Resource{Type: "user", ID: "usr_0"}}
	c.write(append(evs, target)...)
	key := filepath.Join(t.TempDir(), "k")
	_, errOut, code := c.run("keygen", "--out", key)
	require.Equal(t, exitOK, code, errOut)
	_, errOut, code = c.run("seal", "--key", key)
	require.Equal(t, exitOK, code, errOut)

	out, errOut, code := c.run("erase", "--user", "usr_0", "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: would pseudonymise 3 rows")
	require.Contains(t, out, "clickhouse: would pseudonymise 3 rows")
	require.Contains(t, out, "postgres: 1 rows name the user as their target")

	out, errOut, code = c.run("erase", "--user", "usr_0", "--operator", "dpo_bob")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: pseudonymised 3 rows (seal salts dropped: 3)")
	require.Contains(t, out, "clickhouse: pseudonymised 3 rows")
	pseudonym := regexp.MustCompile(`erased user as (erased_[0-9a-f]{16})`).FindStringSubmatch(out)
	require.Len(t, pseudonym, 2, out)

	// No personal value of the user is left in either store.
	personal := []string{"usr_0", "Ada Lovelace", "198.51.100.77", "AdaBrowser/1", "ada_session"}
	var pgText string
	require.NoError(t, c.pg.QueryRow(testCtx(t), `SELECT string_agg(concat_ws('|', user_id, user_name, host(ip_address), user_agent, session_id), E'\n')
		FROM audit_logs WHERE NOT coalesce(resource = 'user' AND resource_id = 'usr_0', false)`).Scan(&pgText))
	chRows, err := c.ch.Query(testCtx(t), "SELECT user_id, user_name, client_ip, user_agent, session_id FROM audit_logs WHERE NOT (resource_type = 'user' AND resource_id = 'usr_0')")
	require.NoError(t, err)
	var chText strings.Builder
	for chRows.Next() {
		var a, b, cc, d, e string
		require.NoError(t, chRows.Scan(&a, &b, &cc, &d, &e))
		chText.WriteString(strings.Join([]string{a, b, cc, d, e}, "|") + "\n")
	}
	require.NoError(t, chRows.Err())
	chRows.Close()
	for _, v := range personal {
		require.NotContains(t, pgText, v, "postgres")
		require.NotContains(t, chText.String(), v, "clickhouse")
	}
	require.Equal(t, 3, strings.Count(pgText, pseudonym[1]), pgText)
	require.Equal(t, 3, strings.Count(chText.String(), pseudonym[1]+"||||"), chText.String())

	// The trail still verifies, with the erased rows checked through their
	// commitments.
	out, errOut, code = c.run("verify", "--public-key", key+".pub")
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, ", 3 erased, ")

	// Recorded, under the pseudonym.
	var actor, rid string
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT user_id, resource_id FROM audit_logs WHERE action = 'data_delete_completed'").Scan(&actor, &rid))
	require.Equal(t, "dpo_bob", actor)
	require.Equal(t, pseudonym[1], rid)

	_, errOut, code = c.run("erase")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--user is required")
}
