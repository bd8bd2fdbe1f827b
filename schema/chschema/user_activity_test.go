package chschema_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// user_activity returns everything a subject-access request needs: the
// client and session of the user's own events, details and values, and
// the events where the user is the target.
func TestUserActivityFieldsLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	at := time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC)
	emit(t, exp, []otelaudit.Event{
		{Time: at, Action: otelaudit.ActionSettingsChanged,
			Actor:    otelaudit.Actor{WorkspaceID: "ws_q", UserID: "u9", Name: "Grace"},
			Client:   otelaudit.Client{IP: "192.0.2.9", UserAgent: "Firefox/128", SessionID: "sess_9"},
			Resource: otelaudit.Resource{Type: "workspace_settings", ID: "ws_q/security"},
			Details:  attribute.MapValue(attribute.String("reason", "policy")),
			Previous: attribute.MapValue(attribute.Bool("mfa", false)), New: attribute.MapValue(attribute.Bool("mfa", true))},
		{Time: at.Add(time.Hour), Action: otelaudit.ActionAdminAction,
			Actor:    otelaudit.Actor{WorkspaceID: "ws_q", UserID: "admin9"},
			Resource: otelaudit.Resource{Type: "user", ID: "u9"}, Details: attribute.MapValue(attribute.String("op", "unlock"))},
		{Time: at.Add(2 * time.Hour), Action: otelaudit.ActionAdminAction, // u9 as another kind of resource: not the user
			Actor:    otelaudit.Actor{WorkspaceID: "ws_q", UserID: "admin9"},
			Resource: otelaudit.Resource{Type: "team", ID: "u9"}},
	}, 500000)
	q, err := chschema.QueryByName(layout, opts, "user_activity")
	require.NoError(t, err)
	got := queryRows(t, conn, q.SQL, named("user_id", "u9", "from", at, "to", at.Add(24*time.Hour)), "event_id")
	require.Equal(t, []string{
		"1717408800000000000|ws_q|settings_changed|actor|u9|Grace|workspace_settings|ws_q/security|success||192.0.2.9|Firefox/128|sess_9|" +
			`{"reason":"policy"}|{"mfa":false}|{"mfa":true}`,
		`1717412400000000000|ws_q|admin_action|target|admin9||user|u9|success|||||{"op":"unlock"}||`,
	}, got)
}
