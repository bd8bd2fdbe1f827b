package chschema_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestMostActiveUsersCopiesLive checks most_active_users where rows and
// distinct events rank the users differently: "copier" has 3 events,
// each stored 4 times (12 rows, merges stopped), "steady" 5 events,
// "third" 4 and "fourth" 1. The query counts exactly only the users with
// at least as many rows as the fewest distinct events among the @limit
// users with the most rows; a floor taken from rows (12) instead, or a
// list taken by rows, would put copier first or leave steady out.
func TestMostActiveUsersCopiesLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	require.NoError(t, conn.Exec(ctxT(t), "SYSTEM STOP MERGES audit_logs"))

	events := func(user string, n int, first time.Time) []otelaudit.Event {
		var out []otelaudit.Event
		for i := range n {
			action := otelaudit.ActionLogin
			if i%2 == 1 {
				action = otelaudit.ActionLogout
			}
			out = append(out, otelaudit.Event{Time: first.Add(time.Duration(i) * time.Minute), Action: action,
				Actor: otelaudit.Actor{WorkspaceID: "ws_c", UserID: user}})
		}
		return out
	}
	copier := events("copier", 3, at(day1, "09:00"))
	for range 4 {
		emit(t, exp, copier, 100) // the same ids each time
	}
	emit(t, exp, events("steady", 5, at(day1, "10:00")), 200)
	emit(t, exp, events("third", 4, at(day1, "11:00")), 300)
	emit(t, exp, events("fourth", 1, at(day2, "08:00")), 400)
	require.EqualValues(t, 12+5+4+1, count(t, conn, "SELECT count() FROM audit_logs"), "copier's copies are unmerged")

	q, err := chschema.QueryByName(layout, opts, "most_active_users")
	require.NoError(t, err)
	all := []string{
		"steady|5|2|2024-06-01 10:04:00",
		"third|4|2|2024-06-01 11:03:00",
		"copier|3|2|2024-06-01 09:02:00",
		"fourth|1|1|2024-06-02 08:00:00",
	}
	for limit := 1; limit <= 5; limit++ {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			args := []any{chschema.TimeArg(layout, "from", day1), chschema.TimeArg(layout, "to", day3)}
			args = append(args, named("workspace", "ws_c", "limit", limit)...)
			require.Equal(t, all[:min(limit, len(all))], queryRows(t, conn, q.SQL, args))
		})
	}
}
