package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
)

// events returns n events from base on, a minute apart, with their ids:
// logins of usr_0..usr_2 in ws_0/ws_1, every third one failed, every
// fourth a settings change with values.
func events(n int, base time.Time) []otelaudit.Event {
	out := make([]otelaudit.Event, n)
	for i := range n {
		ev := otelaudit.Event{
			ID:     uuid.Must(uuid.NewV7()),
			Time:   base.Add(time.Duration(i) * time.Minute),
			Action: otelaudit.ActionLogin,
			Actor:  otelaudit.Actor{UserID: fmt.Sprintf("usr_%d", i%3), WorkspaceID: fmt.Sprintf("ws_%d", i%2)},
			Client: otelaudit.Client{IP: "203.0.113.9", UserAgent: "curl/8", SessionID: fmt.Sprintf("s%d", i)},
		}
		if i%3 == 2 {
			ev.Outcome = otelaudit.Failure("invalid_password")
		}
		if i%4 == 3 {
			ev.Action = otelaudit.ActionSettingsChanged
			ev.Resource = otelaudit.Resource{Type: "settings", ID: "security"}
			ev.Previous = otelaudit.Value(map[string]any{"mfa": false})
			ev.New = otelaudit.Value(map[string]any{"mfa": true})
		}
		out[i] = ev
	}
	return out
}

func TestSearchCommand(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	evs := events(12, base)
	c.write(evs...)
	var want []string // ws_0, newest first
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Actor.WorkspaceID == "ws_0" {
			want = append(want, evs[i].ID.String())
		}
	}

	for _, store := range []string{"postgres", "clickhouse"} {
		t.Run(store, func(t *testing.T) {
			out, errOut, code := c.run("search", "--store", store, "--workspace", "ws_0", "--output", "jsonl")
			require.Equal(t, exitOK, code, errOut)
			var got []string
			for _, l := range lines(out) {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &m))
				got = append(got, m["event_id"].(string))
				require.Equal(t, "ws_0", m["workspace_id"])
				if m["action"] == "settings_changed" {
					require.Equal(t, map[string]any{"mfa": true}, m["new_value"], "values keep their structure")
				}
			}
			require.Equal(t, want, got)

			out, errOut, code = c.run("search", "--store", store, "--workspace", "ws_0", "--output", "json")
			require.Equal(t, exitOK, code, errOut)
			var arr []map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &arr))
			require.Len(t, arr, len(want))

			out, errOut, code = c.run("search", "--store", store, "--workspace", "ws_0", "--outcome", "failure", "--output", "csv")
			require.Equal(t, exitOK, code, errOut)
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Equal(t, csvColumns, recs[0])
			for _, r := range recs[1:] {
				require.Equal(t, "failure", r[3])
				require.Equal(t, "invalid_password", r[4])
				require.Equal(t, "ws_0", r[5])
			}
			require.Len(t, recs[1:], 2, "failures 2 and 8 are in ws_0")

			// Pages: the first, then the rest from the printed cursor.
			out, errOut, code = c.run("search", "--store", store, "--workspace", "ws_0", "--limit", "4")
			require.Equal(t, exitOK, code, errOut)
			require.Equal(t, "TIME", strings.Fields(lines(out)[0])[0])
			require.Len(t, lines(out), 5, out)
			for i, l := range lines(out)[1:] {
				require.True(t, strings.HasSuffix(l, want[i]), l)
			}
			cursor, ok := strings.CutPrefix(strings.TrimSpace(errOut), "more: --after ")
			require.True(t, ok, errOut)
			out, errOut, code = c.run("search", "--store", store, "--workspace", "ws_0", "--limit", "4", "--after", cursor, "--output", "jsonl")
			require.Equal(t, exitOK, code, errOut)
			require.Len(t, lines(out), 2)
			require.Contains(t, lines(out)[0], want[4])
			require.Contains(t, lines(out)[1], want[5])

			out, errOut, code = c.run("search", "--store", store, "--workspace", "ws_0", "--limit", "4", "--all", "--oldest-first", "--output", "jsonl")
			require.Equal(t, exitOK, code, errOut)
			require.Len(t, lines(out), 6)
			require.Contains(t, lines(out)[0], want[5])
		})
	}
}

// The command reads with the reader role, and cannot record with it.
func TestReaderRoleCommand(t *testing.T) {
	c := newCLI(t, true)
	reader := c.role("reader")
	_, errOut, code := c.run("migrate", "--reader-role", reader)
	require.Equal(t, exitOK, code, errOut)
	evs := events(3, time.Now().UTC().Add(-time.Hour))
	c.write(evs...)
	c.vars[envPostgres] = c.loginAs(reader)
	delete(c.vars, envClickHouse)
	out, errOut, code := c.run("search", "--output", "jsonl")
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, lines(out), 3)

	out, errOut, code = c.run("export", "--user", "usr_0")
	require.Equal(t, exitError, code, "the export is written, recording it needs INSERT")
	require.Len(t, lines(out), 1)
	require.Contains(t, errOut, "could not be recorded")
	require.Contains(t, errOut, "permission denied")
}
