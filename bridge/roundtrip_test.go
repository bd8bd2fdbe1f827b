package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// storedRow is what the round trip reads back of a row, the same from
// both stores: JSON columns decoded (nil when absent), the attributes as
// the stores' string form (strings as they are, other values as JSON text).
type storedRow struct {
	Action, Outcome, ErrorType     string
	ResourceType, ResourceID       string
	ClientIP                       string
	Details, Previous, New         any
	Attributes                     map[string]string
	AttributesJSON                 any // Postgres only: the typed JSON object
	UserAgent, SessionID, UserName string
}

// Go values of the kinds the typed calls take.
type exportRequest struct {
	Format string   `json:"format"`
	Tables []string `json:"tables,omitempty"`
	secret string
}

type plan struct {
	Name       string `json:"name"`
	Seats      int    `json:"seats"`
	PriceCents int64  `json:"price_cents"`
	Trial      bool   `json:"trial,omitempty"`
}

// TestRoundTripStores emits every typed call with Go values, a Record with
// extra attributes and a slog record through the bridge and one SDK
// LoggerProvider into the Postgres and ClickHouse exporters, then reads the
// rows back from both databases: the values' JSON, and the attributes
// column.
func TestRoundTripStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pool := testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
	conn, db := testenv.ClickHouse(t)
	schema := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, schema)
	require.NoError(t, err)

	var (
		mu   sync.Mutex
		errs []error
	)
	onError := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	pgExp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(onError))
	require.NoError(t, err)
	chExp, err := clickhouselog.New(conn, clickhouselog.WithSchema(schema), clickhouselog.WithLayout(layout),
		clickhouselog.WithErrorHandler(onError))
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(pgExp)),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(chExp)),
	)
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(onError))

	setting := func(id string) otelaudit.Resource { return otelaudit.Resource{Type: "setting", ID: id} }
	target := otelaudit.Resource{Type: "user", ID: "u_99"}
	export := func(id string) (string, string) { return bridge.ResourceTypeDataExport, id }
	deletion := func(id string) (string, string) { return bridge.ResourceTypeDataDeletion, id }
	sub := func(id string) (string, string) { return bridge.ResourceTypeSubscription, id }
	oauth := func(id string) (string, string) { return bridge.ResourceTypeOAuthProvider, id }
	res := func(typ, id string) (string, string) { return typ, id }
	pair := func(typ, id string) [2]string { return [2]string{typ, id} }

	cases := []struct {
		name     string
		call     func(ctx context.Context, actor otelaudit.Actor)
		action   string
		errType  string // "" for success
		resource [2]string
		details  any
		previous any
		new      any
	}{
		{
			name: "Login", call: func(ctx context.Context, u otelaudit.Actor) { a.Login(ctx, u) },
			action: "login",
		},
		{
			name: "LoginFailed", call: func(ctx context.Context, u otelaudit.Actor) { a.LoginFailed(ctx, u, "invalid_password") },
			action: "login", errType: "invalid_password",
		},
		{
			name: "Logout", call: func(ctx context.Context, u otelaudit.Actor) { a.Logout(ctx, u) },
			action: "logout",
		},
		{
			name: "DataExportRequested",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataExportRequested(ctx, u, "exp_1", exportRequest{Format: "csv", Tables: []string{"invoices", "users"}, secret: "x"})
			},
			action: "data_export_requested", resource: pair(export("exp_1")),
			details: map[string]any{"format": "csv", "tables": []any{"invoices", "users"}},
		},
		{
			name: "DataExportRequestFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataExportRequestFailed(ctx, u, "", "rate_limited", map[string]any{"retry_after_s": 3600})
			},
			action: "data_export_requested", errType: "rate_limited", resource: pair(export("")),
			details: map[string]any{"retry_after_s": 3600.0},
		},
		{
			name: "DataExportCompleted",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataExportCompleted(ctx, u, "exp_1", map[string]any{"bytes": int64(1 << 20), "ratio": 0.25, "parts": []int{1, 2}})
			},
			action: "data_export_completed", resource: pair(export("exp_1")),
			details: map[string]any{"bytes": float64(1 << 20), "ratio": 0.25, "parts": []any{1.0, 2.0}},
		},
		{
			name: "DataExportFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataExportFailed(ctx, u, "exp_1", "storage_unavailable", nil)
			},
			action: "data_export_completed", errType: "storage_unavailable", resource: pair(export("exp_1")),
		},
		{
			name: "DataDeleteRequested",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataDeleteRequested(ctx, u, "del_1", map[string]string{"scope": "account"})
			},
			action: "data_delete_requested", resource: pair(deletion("del_1")),
			details: map[string]any{"scope": "account"},
		},
		{
			name: "DataDeleteRequestFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataDeleteRequestFailed(ctx, u, "del_1", "legal_hold", "case 7")
			},
			action: "data_delete_requested", errType: "legal_hold", resource: pair(deletion("del_1")),
			details: "case 7",
		},
		{
			name: "DataDeleteCompleted",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataDeleteCompleted(ctx, u, "del_1", []string{"profile", "invoices"})
			},
			action: "data_delete_completed", resource: pair(deletion("del_1")),
			details: []any{"profile", "invoices"},
		},
		{
			name: "DataDeleteFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.DataDeleteFailed(ctx, u, "del_1", "partial", map[string]any{"left": []string{"backups"}, "retry": true})
			},
			action: "data_delete_completed", errType: "partial", resource: pair(deletion("del_1")),
			details: map[string]any{"left": []any{"backups"}, "retry": true},
		},
		{
			name: "SettingsChanged strings",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SettingsChanged(ctx, u, setting("theme"), "light", "dark")
			},
			action: "settings_changed", resource: pair(res("setting", "theme")),
			previous: "light", new: "dark",
		},
		{
			name: "SettingsChanged from nothing to a struct",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SettingsChanged(ctx, u, setting("mfa"), nil, &struct {
					Required bool     `json:"required"`
					Methods  []string `json:"methods"`
				}{true, []string{"totp", "webauthn"}})
			},
			action: "settings_changed", resource: pair(res("setting", "mfa")),
			new: map[string]any{"required": true, "methods": []any{"totp", "webauthn"}},
		},
		{
			name: "SettingsChangeFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SettingsChangeFailed(ctx, u, setting("retention_days"), "permission_denied", 365, uint8(30))
			},
			action: "settings_changed", errType: "permission_denied", resource: pair(res("setting", "retention_days")),
			previous: 365.0, new: 30.0,
		},
		{
			name: "OAuthConnected",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.OAuthConnected(ctx, u, "github", map[string][]string{"scopes": {"repo", "read:org"}})
			},
			action: "oauth_connected", resource: pair(oauth("github")),
			details: map[string]any{"scopes": []any{"repo", "read:org"}},
		},
		{
			name: "OAuthConnectFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.OAuthConnectFailed(ctx, u, "github", "consent_denied", nil)
			},
			action: "oauth_connected", errType: "consent_denied", resource: pair(oauth("github")),
		},
		{
			name:   "OAuthDisconnected",
			call:   func(ctx context.Context, u otelaudit.Actor) { a.OAuthDisconnected(ctx, u, "github", nil) },
			action: "oauth_disconnected", resource: pair(oauth("github")),
		},
		{
			name: "OAuthDisconnectFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.OAuthDisconnectFailed(ctx, u, "github", "revoke_failed", map[string]any{"status": 502})
			},
			action: "oauth_disconnected", errType: "revoke_failed", resource: pair(oauth("github")),
			details: map[string]any{"status": 502.0},
		},
		{
			name: "SubscriptionCreated",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SubscriptionCreated(ctx, u, "sub_1", plan{Name: "team", Seats: 5, PriceCents: 4900})
			},
			action: "subscription_created", resource: pair(sub("sub_1")),
			details: map[string]any{"name": "team", "seats": 5.0, "price_cents": 4900.0},
		},
		{
			name: "SubscriptionCreateFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SubscriptionCreateFailed(ctx, u, "", "card_declined", &plan{Name: "pro", Seats: 1, Trial: true})
			},
			action: "subscription_created", errType: "card_declined", resource: pair(sub("")),
			details: map[string]any{"name": "pro", "seats": 1.0, "price_cents": 0.0, "trial": true},
		},
		{
			name: "SubscriptionCancelled",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SubscriptionCancelled(ctx, u, "sub_1", map[string]any{"reason": "too expensive", "at_period_end": true})
			},
			action: "subscription_cancelled", resource: pair(sub("sub_1")),
			details: map[string]any{"reason": "too expensive", "at_period_end": true},
		},
		{
			name: "SubscriptionCancelFailed",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.SubscriptionCancelFailed(ctx, u, "sub_1", "already_cancelled", nil)
			},
			action: "subscription_cancelled", errType: "already_cancelled", resource: pair(sub("sub_1")),
		},
		{
			name: "AdminAction",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.AdminAction(ctx, u, target, map[string]any{"op": "suspend", "ticket": "SUP-1", "until": time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
			},
			action: "admin_action", resource: pair(res("user", "u_99")),
			details: map[string]any{"op": "suspend", "ticket": "SUP-1", "until": "2026-12-01T00:00:00Z"},
		},
		{
			name: "AdminActionFailed with an attribute.Value",
			call: func(ctx context.Context, u otelaudit.Actor) {
				a.AdminActionFailed(ctx, u, target, "permission_denied",
					attribute.MapValue(attribute.String("op", "delete"), attribute.Int64Slice("ids", []int64{7, 8})))
			},
			action: "admin_action", errType: "permission_denied", resource: pair(res("user", "u_99")),
			details: map[string]any{"op": "delete", "ids": []any{7.0, 8.0}},
		},
	}

	client := otelaudit.Client{IP: "203.0.113.7", UserAgent: "roundtrip/1.0", SessionID: "sess_1"}
	ctxc := bridge.ContextWithClient(ctx, client)
	actor := func(i int) otelaudit.Actor {
		return otelaudit.Actor{UserID: fmt.Sprintf("u_%02d", i), WorkspaceID: "ws_rt", Name: "Ada"}
	}
	for i, c := range cases {
		c.call(ctxc, actor(i))
	}

	// Record with extra attributes, one of them reserved.
	recordUser := len(cases)
	a.Record(ctxc, otelaudit.Event{
		Action:   "invoice.refunded",
		Actor:    actor(recordUser),
		Resource: otelaudit.Resource{Type: "invoice", ID: "inv_7"},
		Details:  otelaudit.Value(map[string]any{"amount_cents": 1250, "currency": "EUR"}),
		Attributes: []attribute.KeyValue{
			attribute.String("request.id", "req_1"),
			attribute.Int("http.status", 200),
			attribute.StringSlice("flags", []string{"a", "b"}),
			attribute.Bool("dry_run", false),
		},
	})
	// The same with a reserved key among them: it is left out.
	droppedUser := recordUser + 1
	a.Record(ctxc, otelaudit.Event{
		Action: "invoice.voided",
		Actor:  actor(droppedUser),
		Attributes: []attribute.KeyValue{
			attribute.String(otelaudit.KeyUserID, "intruder"),
			attribute.String("request.id", "req_2"),
		},
	})
	// A slog record in lax mode, with habitual keys.
	slogUser := droppedUser + 1
	slog.New(bridge.NewSlogHandler(a, bridge.WithLaxMessages())).InfoContext(ctx, "user exported their data",
		"user_id", actor(slogUser).UserID, "workspace_id", "ws_rt", "client_ip", "198.51.100.4",
		"resource", "data_export", "resource_id", "exp_9", "format", "zip")

	require.NoError(t, lp.Shutdown(ctx))
	total := uint64(len(cases) + 3)
	require.Equal(t, total, a.Stats().Emitted)
	for name, s := range map[string]uint64{"postgres": pgExp.Stats().Written, "clickhouse": chExp.Stats().Written} {
		require.Equal(t, total, s, "%s rows written", name)
	}
	mu.Lock()
	require.Len(t, errs, 1, "%v", errs) // the reserved extra attribute
	require.ErrorIs(t, errs[0], bridge.ErrAttributeDropped)
	mu.Unlock()

	want := map[string]storedRow{}
	for i, c := range cases {
		outcome := otelaudit.OutcomeSuccess
		if c.errType != "" {
			outcome = otelaudit.OutcomeFailure
		}
		want[actor(i).UserID] = storedRow{
			Action: c.action, Outcome: outcome, ErrorType: c.errType,
			ResourceType: c.resource[0], ResourceID: c.resource[1], ClientIP: client.IP,
			Details: c.details, Previous: c.previous, New: c.new,
			UserAgent: client.UserAgent, SessionID: client.SessionID, UserName: "Ada",
		}
	}
	want[actor(recordUser).UserID] = storedRow{
		Action: "invoice.refunded", Outcome: otelaudit.OutcomeSuccess,
		ResourceType: "invoice", ResourceID: "inv_7", ClientIP: client.IP,
		Details: map[string]any{"amount_cents": 1250.0, "currency": "EUR"},
		Attributes: map[string]string{
			"request.id": "req_1", "http.status": "200", "flags": `["a","b"]`, "dry_run": "false",
		},
		AttributesJSON: map[string]any{"request.id": "req_1", "http.status": 200.0, "flags": []any{"a", "b"}, "dry_run": false},
		UserAgent:      client.UserAgent, SessionID: client.SessionID, UserName: "Ada",
	}
	want[actor(droppedUser).UserID] = storedRow{
		Action: "invoice.voided", Outcome: otelaudit.OutcomeSuccess, ClientIP: client.IP,
		Attributes:     map[string]string{"request.id": "req_2"},
		AttributesJSON: map[string]any{"request.id": "req_2"},
		UserAgent:      client.UserAgent, SessionID: client.SessionID, UserName: "Ada",
	}
	want[actor(slogUser).UserID] = storedRow{
		Action: "log", Outcome: otelaudit.OutcomeSuccess,
		ResourceType: "data_export", ResourceID: "exp_9", ClientIP: "198.51.100.4",
		Details: map[string]any{"msg": "user exported their data", "format": "zip"},
	}

	pgRows := readPostgres(ctx, t, pool)
	chRows := readClickHouse(ctx, t, conn, db, layout)
	for _, store := range []struct {
		name string
		rows map[string]storedRow
	}{{"postgres", pgRows}, {"clickhouse", chRows}} {
		require.Len(t, store.rows, len(want), store.name)
		for i, c := range cases {
			u := actor(i).UserID
			require.Equal(t, want[u], store.rows[u], "%s: %s (%s)", store.name, c.name, u)
		}
		for _, u := range []string{actor(recordUser).UserID, actor(droppedUser).UserID, actor(slogUser).UserID} {
			w := want[u]
			if store.name == "clickhouse" {
				w.AttributesJSON = nil // ClickHouse keeps the string form only
			}
			require.Equal(t, w, store.rows[u], "%s: %s", store.name, u)
		}
	}
}

// readPostgres reads the audit rows of ws_rt by user id.
func readPostgres(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]storedRow {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT user_id, action, outcome, coalesce(error_type, ''),
		coalesce(resource, ''), coalesce(resource_id, ''), coalesce(host(ip_address), ''),
		coalesce(details::text, ''), coalesce(previous_value::text, ''), coalesce(new_value::text, ''),
		coalesce(attributes::text, ''), coalesce(user_agent, ''), coalesce(session_id, ''), coalesce(user_name, '')
		FROM audit_logs WHERE workspace_id = 'ws_rt'`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]storedRow{}
	for rows.Next() {
		var (
			user                         string
			r                            storedRow
			details, prev, next, attrsJS string
		)
		require.NoError(t, rows.Scan(&user, &r.Action, &r.Outcome, &r.ErrorType, &r.ResourceType, &r.ResourceID, &r.ClientIP,
			&details, &prev, &next, &attrsJS, &r.UserAgent, &r.SessionID, &r.UserName))
		r.Details, r.Previous, r.New = decodeJSON(t, details), decodeJSON(t, prev), decodeJSON(t, next)
		if attrsJS != "" {
			r.AttributesJSON = decodeJSON(t, attrsJS)
			r.Attributes = map[string]string{}
			for k, v := range r.AttributesJSON.(map[string]any) {
				if s, ok := v.(string); ok {
					r.Attributes[k] = s
					continue
				}
				b, err := json.Marshal(v)
				require.NoError(t, err)
				r.Attributes[k] = string(b)
			}
		}
		out[user] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// readClickHouse reads the audit rows of ws_rt by user id, the attributes
// from the layout's column (arrays on the compat layout, a Map on the
// modern one).
func readClickHouse(ctx context.Context, t *testing.T, conn driver.Conn, db string, layout chschema.Layout) map[string]storedRow {
	t.Helper()
	attrs := "arrayMap((k, v) -> concat(k, '=', v), attr_keys, attr_values)"
	if layout == chschema.LayoutModern {
		attrs = "arrayMap((k, v) -> concat(k, '=', v), mapKeys(attributes), mapValues(attributes))"
	}
	rows, err := conn.Query(ctx, `SELECT user_id, action, outcome, error_type, resource_type, resource_id,
		client_ip, details, previous_value, new_value, `+attrs+`, user_agent, session_id, user_name
		FROM `+"`"+db+"`"+`.audit_logs WHERE workspace_id = 'ws_rt'`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]storedRow{}
	for rows.Next() {
		var (
			user                string
			r                   storedRow
			details, prev, next string
			kvs                 []string
		)
		require.NoError(t, rows.Scan(&user, &r.Action, &r.Outcome, &r.ErrorType, &r.ResourceType, &r.ResourceID, &r.ClientIP,
			&details, &prev, &next, &kvs, &r.UserAgent, &r.SessionID, &r.UserName))
		r.Details, r.Previous, r.New = decodeJSON(t, details), decodeJSON(t, prev), decodeJSON(t, next)
		if len(kvs) > 0 {
			r.Attributes = map[string]string{}
			for _, kv := range kvs {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, kv)
				r.Attributes[k] = v
			}
		}
		out[user] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// decodeJSON decodes a JSON column, "" meaning none.
func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}
