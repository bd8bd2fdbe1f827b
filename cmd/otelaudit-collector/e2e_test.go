package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// emitWorkload records audit events of every kind through a, n rounds,
// and returns how many it recorded. Details, previous and new values
// carry maps, slices and every scalar type.
func emitWorkload(ctx context.Context, a *bridge.Auditor, n int, tag string) int {
	count := 0
	base := time.Now().UTC().Add(-10 * time.Minute)
	for i := range n {
		actor := otelaudit.Actor{UserID: fmt.Sprintf("u_%s_%d", tag, i%7), WorkspaceID: fmt.Sprintf("ws_%d", i%3), Name: "Ada Lovelace"}
		client := otelaudit.Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (e2e)", SessionID: "s_" + tag}
		if i%4 == 1 {
			client.IP = "2001:db8::" + fmt.Sprint(i%9+1)
		}
		details := attribute.MapValue(
			attribute.String("plan", "pro"), attribute.Int("seats", i), attribute.Float64("ratio", 0.25),
			attribute.Bool("trial", i%2 == 0), attribute.ByteSlice("nonce", []byte{byte(i), 0, 255}),
			attribute.KeyValue{Key: "tags", Value: attribute.SliceValue(attribute.StringValue("a"), attribute.IntValue(2), attribute.BoolValue(true))},
			attribute.KeyValue{Key: "nested", Value: attribute.MapValue(attribute.String("k", "v"), attribute.Int64("n", -1))},
		)
		events := []otelaudit.Event{
			{Action: otelaudit.ActionLogin, Actor: actor, Client: client},
			{Action: otelaudit.ActionLogin, Actor: actor, Client: client, Outcome: otelaudit.Failure("invalid_password")},
			{Action: otelaudit.ActionSettingsChanged, Actor: actor, Client: client,
				Resource: otelaudit.Resource{Type: "settings", ID: "notifications"},
				Previous: attribute.MapValue(attribute.Bool("email", true)), New: attribute.MapValue(attribute.Bool("email", false))},
			{Action: otelaudit.ActionDataExportRequested, Actor: actor, Client: client,
				Resource: otelaudit.Resource{Type: "data_export", ID: fmt.Sprintf("exp_%s_%d", tag, i)}, Details: details,
				Attributes: []attribute.KeyValue{attribute.String("http.route", "/exports"), attribute.Int("attempt", 2)}},
			{Action: otelaudit.ActionAdminAction, Actor: actor, Client: client,
				Resource: otelaudit.Resource{Type: "user", ID: "u_victim"}, Details: details},
		}
		for k, e := range events {
			e.ID = uuid.Must(uuid.NewV7())
			e.Time = base.Add(time.Duration(i*len(events)+k) * time.Millisecond)
			a.Record(ctx, e)
			count++
		}
	}
	return count
}

// TestCollectorStoresWhatTheInProcessPathStores sends audit events over
// OTLP/HTTP and OTLP/gRPC into the distribution and, from the same SDK
// records, straight into a second pair of databases through the
// in-process exporters. Every row the collector stored must equal, field
// by field, the row the in-process path stored (one mapping for both
// inputs); the severity the OTLP path adds is the only difference.
func TestCollectorStoresWhatTheInProcessPathStores(t *testing.T) {
	ctx := ctxT(t)
	pgViaCollector := testenv.PostgresDSN(t)
	chViaCollector, _ := testenv.ClickHouseDSN(t)
	c := newCollectorPorts(t)
	runInProcess(t, c, writeConfig(t, c.configYAML(pgViaCollector, chViaCollector, "memory", "drop")))

	// The in-process path: the library's exporters on their own databases.
	pgDirect := testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, pgDirect, pgschema.Options{})
	require.NoError(t, err)
	pgExp, err := postgreslog.New(pgDirect)
	require.NoError(t, err)
	chDirect, chDB := testenv.ClickHouse(t)
	layout, err := chschema.Migrate(ctx, chDirect, chschema.Options{Database: chDB})
	require.NoError(t, err)
	chExp, err := clickhouselog.New(chDirect, clickhouselog.WithSchema(chschema.Options{Database: chDB}), clickhouselog.WithLayout(layout))
	require.NoError(t, err)

	httpExp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", c.http)), otlploghttp.WithInsecure())
	require.NoError(t, err)
	grpcExp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", c.grpc)), otlploggrpc.WithInsecure())
	require.NoError(t, err)
	total := 0
	for i, exp := range []sdklog.Exporter{httpExp, grpcExp} {
		res := resource.NewSchemaless(attribute.String("service.name", []string{"webportal", "backend"}[i]))
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
			sdklog.WithProcessor(sdklog.NewSimpleProcessor(keepOpen{pgExp})),
			sdklog.WithProcessor(sdklog.NewSimpleProcessor(keepOpen{chExp})))
		total += emitWorkload(ctx, bridge.New(bridge.WithLoggerProvider(lp)), 20, []string{"http", "grpc"}[i])
		// An ordinary log in the same pipeline: dropped, as configured.
		var r log.Record
		r.SetEventName("http.request")
		r.SetBody(attribute.StringValue("GET /health"))
		lp.Logger("app").Emit(ctx, r)
		require.NoError(t, lp.Shutdown(ctx))
	}
	require.NoError(t, pgExp.Shutdown(ctx))
	require.NoError(t, chExp.Shutdown(ctx))
	require.Equal(t, uint64(total), pgExp.Stats().Written)

	pool := pgPool(t, pgViaCollector)
	conn := chConn(t, chViaCollector)
	require.Eventually(t, func() bool {
		var pgN int
		var chN uint64
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs`).Scan(&pgN)
		_ = conn.QueryRow(ctx, `SELECT count() FROM audit_logs`).Scan(&chN)
		return pgN >= total && chN >= uint64(total)
	}, 2*time.Minute, 100*time.Millisecond)

	rows, dups := pgCount(t, pool)
	assert.Equal(t, total, rows, "every event once, the ordinary logs not at all")
	assert.Zero(t, dups)
	chN, chDups := chCount(t, conn)
	assert.Equal(t, uint64(total), chN)
	assert.Zero(t, chDups)

	want, got := pgRows(t, pgDirect), pgRows(t, pool)
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "postgres row %d, event %v", i, want[i][0])
	}
	wantCH, gotCH := chRows(t, chDirect), chRows(t, conn)
	require.Len(t, gotCH, len(wantCH))
	for i := range wantCH {
		require.Equal(t, wantCH[i], gotCH[i], "clickhouse row %d, event %v", i, wantCH[i][0])
	}

	// And what the rows hold, for one event: structure and types kept.
	var details, attrs, svc string
	require.NoError(t, pool.QueryRow(ctx, `SELECT details::text, attributes::text, service_name FROM audit_logs
		WHERE action = 'data_export_requested' AND resource_id = 'exp_grpc_3'`).Scan(&details, &attrs, &svc))
	assert.JSONEq(t, `{"plan":"pro","seats":3,"ratio":0.25,"trial":false,"nonce":"AwD/","tags":["a",2,true],
		"nested":{"k":"v","n":-1}}`, details)
	assert.JSONEq(t, `{"http.route":"/exports","attempt":2,"log.severity_number":9}`, attrs)
	assert.Equal(t, "backend", svc)
}

// keepOpen is an exporter shared by several LoggerProviders: their
// Shutdown leaves it open.
type keepOpen struct{ sdklog.Exporter }

func (keepOpen) Shutdown(context.Context) error { return nil }
