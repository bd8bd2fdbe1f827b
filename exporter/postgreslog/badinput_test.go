package postgreslog_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// postgresCases are bad inputs beyond the shared corpus: what only a
// Postgres store has to decide.
func postgresCases() []corpus.Case {
	rec := func(ts time.Time, id string, attrs ...attribute.KeyValue) log.Record {
		var r log.Record
		r.SetEventName("audit.login")
		r.SetTimestamp(ts)
		r.AddAttributes(attribute.String(otelaudit.KeyEventID, id))
		r.AddAttributes(attrs...)
		return r
	}
	observedYear10000 := rec(corpus.Time, "01900000-0000-7000-8000-0000000000a6")
	observedYear10000.SetObservedTimestamp(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	return []corpus.Case{
		{Name: "observed time in year 10000", Stored: true, Record: observedYear10000,
			Markers: []string{"observed_time:out_of_range"}},
		{Name: "10 MiB details", Stored: true,
			Record: rec(corpus.Time, "01900000-0000-7000-8000-0000000000a1",
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("blob", strings.Repeat("\x00x", 5<<20)))}),
			Markers: []string{"audit.details:nul_byte", "audit.details:too_large"}},
		{Name: "year 10000", Reason: auditrow.ReasonTimeOutOfRange,
			Record: rec(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "01900000-0000-7000-8000-0000000000a2")},
		{Name: "year 0", Reason: auditrow.ReasonTimeOutOfRange,
			Record: rec(time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), "01900000-0000-7000-8000-0000000000a3")},
		{Name: "year 1", Stored: true, // (0001-01-01T00:00Z is the zero time: no timestamp)
			Record: rec(time.Date(1, 2, 3, 0, 0, 0, 0, time.UTC), "01900000-0000-7000-8000-0000000000a4")},
		{Name: "IPv4-mapped IPv6 with a port", Stored: true,
			Record:  rec(corpus.Time, "01900000-0000-7000-8000-0000000000a5", attribute.String(otelaudit.KeyClientAddress, "[::ffff:192.0.2.1]:443")),
			Markers: []string{"client.address:port_or_zone"}},
	}
}

func TestBadInputCorpus(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool)

	cases := append(corpus.Cases(), postgresCases()...)
	records := corpus.Records(cases)
	require.Len(t, records, len(cases))
	require.NoError(t, e.Export(ctx, records), "bad records never fail the batch")

	byID := map[string]dbRow{}
	for _, r := range readRows(t, pool) {
		byID[r.EventID.String()] = r
	}
	mapper := auditrow.NewMapper(auditrow.Options{})
	wantRejected := map[string]uint64{}
	stored := 0
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if !c.Stored {
				wantRejected[c.Reason]++
				return
			}
			stored++
			row, err := mapper.MapRecord(&records[i])
			require.NoError(t, err)
			got, ok := byID[row.EventID.String()]
			require.True(t, ok, "row %s stored", row.EventID)
			if c.Markers == nil {
				require.Nil(t, got.Sanitized)
			} else {
				require.Equal(t, c.Markers, got.Sanitized)
			}
		})
	}
	rows, _ := count(t, pool)
	require.Equal(t, stored, rows, "every stored case, nothing else")

	s := e.Stats()
	for _, reason := range []string{auditrow.ReasonNonAudit, auditrow.ReasonInvalidAction, auditrow.ReasonTimeOutOfRange, auditrow.ReasonRefusedByServer} {
		require.Equal(t, wantRejected[reason], s.Rejected[reason], reason)
	}
	require.Equal(t, uint64(stored), s.Written)
	require.Zero(t, s.Failed)

	// Everything rejected but the non-audit records reaches the handler.
	errs := h.All()
	require.Len(t, errs, int(wantRejected[auditrow.ReasonInvalidAction]+wantRejected[auditrow.ReasonTimeOutOfRange]))
	for _, err := range errs {
		require.ErrorIs(t, err, postgreslog.ErrRejected)
	}

	t.Run("values", func(t *testing.T) {
		get := func(id string) dbRow { t.Helper(); r, ok := byID[id]; require.True(t, ok, id); return r }
		nul := get("01900000-0000-7000-8000-000000000002")
		require.Equal(t, "u\uFFFDser", *nul.UserID)
		require.JSONEq(t, `{"k":"v\uFFFD"}`, string(nul.Details))

		utf := get("01900000-0000-7000-8000-000000000003")
		require.Equal(t, "ws\uFFFD", *utf.WorkspaceID) // one replacement per run of bad bytes

		huge := get("01900000-0000-7000-8000-000000000004")
		var truncated bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT (details->>'otelaudit.truncated')::boolean FROM audit_logs WHERE event_id = $1`, huge.EventID).Scan(&truncated))
		require.True(t, truncated)
		require.LessOrEqual(t, len(huge.Details), 2*auditrow.TruncatedPrefixBytes)

		tenMiB := get("01900000-0000-7000-8000-0000000000a1")
		require.Contains(t, string(tenMiB.Details), `"original_bytes":`)

		deep := get("01900000-0000-7000-8000-000000000006")
		require.Contains(t, string(deep.Details), "[otelaudit: depth limit]")

		types := get("01900000-0000-7000-8000-000000000007")
		require.JSONEq(t, `{"a.bool":true,"a.int":-42,"a.float":1.5,"a.string":"s","a.bools":[true,false],"a.ints":[1,2],
			"a.floats":[0.5],"a.strings":["x","y"],"a.bytes":"AAEC","a.map":{"n":1},"a.slice":["e",3]}`, string(types.Attributes))
		require.JSONEq(t, `[false,2.25]`, string(types.Details))

		nan := get("01900000-0000-7000-8000-000000000008")
		require.JSONEq(t, `["NaN","Infinity","-Infinity"]`, string(nan.NewValue))

		ip := get("01900000-0000-7000-8000-000000000009")
		require.Nil(t, ip.IPAddress)
		require.JSONEq(t, `{"client.address":"not-an-ip"}`, string(ip.Attributes))

		others := get(corpus.OtherAttributesID)
		var keys, values []string
		require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(key ORDER BY key), array_agg(value ORDER BY key)
			FROM audit_logs, jsonb_each_text(attributes) WHERE event_id = $1`, others.EventID).Scan(&keys, &values))
		want := map[string]string{}
		for i, k := range corpus.OtherAttributeKeys {
			want[k] = corpus.OtherAttributeValues[i]
		}
		got := map[string]string{}
		for i, k := range keys {
			got[k] = values[i]
		}
		require.Equal(t, want, got, "attributes outside the contract, sanitized")
		require.JSONEq(t, `{"note":"a\uFFFDb","plan":"x\uFFFDy","k\uFFFDey":"v","n":7}`, string(others.Attributes))

		for id, ip := range map[string][2]string{corpus.ZoneID: {"fe80::1", "fe80::1%eth0"}, corpus.ZonePortID: {"fe80::2", "[fe80::2%eth0]:443"}} {
			var text string
			require.NoError(t, pool.QueryRow(ctx, `SELECT host(ip_address) FROM audit_logs WHERE event_id = $1`, id).Scan(&text))
			require.Equal(t, ip[0], text, "the zone is dropped from the address")
			require.JSONEq(t, `{"client.address":"`+ip[1]+`"}`, string(get(id).Attributes), "the raw value is kept")
		}

		mapped := get("01900000-0000-7000-8000-0000000000a5")
		require.Equal(t, "192.0.2.1", mapped.IPAddress.String())

		wrong := get("01900000-0000-7000-8000-00000000000a")
		require.Equal(t, "1234", *wrong.UserID)

		observed := get("01900000-0000-7000-8000-0000000000a6")
		require.Nil(t, observed.ObservedAt, "an observed time out of range is stored as NULL")
		require.True(t, corpus.Time.Truncate(time.Microsecond).Equal(observed.CreatedAt), "the event time is kept")

		year1 := get("01900000-0000-7000-8000-0000000000a4")
		require.Equal(t, "audit_logs_p000102", year1.Partition)
	})
}

// randomText returns n bytes of base64 text that does not compress.
func randomText(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)[:n]
}

// loginsWithHugeUsers returns n logins, a millisecond apart; those in bad
// have a 12000-byte user id that does not compress, too large for a btree
// index entry.
func loginsWithHugeUsers(t *testing.T, n int, bad map[int]bool) []sdklog.Record {
	return auditRecords(func(a *bridge.Auditor) {
		for i := range n {
			user := "usr_" + itoa(i)
			if bad[i] {
				user = randomText(t, 12000)
			}
			a.Record(context.Background(), otelaudit.Event{
				Time: batchTime.Add(time.Duration(i) * time.Millisecond), Action: otelaudit.ActionLogin,
				Actor: otelaudit.Actor{UserID: user, WorkspaceID: "ws_" + itoa(i%13)},
			})
		}
	})
}

func TestRefusedByPostgresIsolated(t *testing.T) {
	// With mapping limits above what a btree index entry can hold, a huge
	// user id passes the mapping and Postgres refuses the row (SQLSTATE
	// 54000, index row size exceeds the maximum): the exporter bisects the
	// batch, writes every other row and rejects only those.
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool, postgreslog.WithMapping(auditrow.Options{MaxFieldBytes: 64 << 10}))

	const n = 2000
	bad := map[int]bool{3: true, 1234: true, 1999: true}
	records := loginsWithHugeUsers(t, n, bad)
	require.NoError(t, e.Export(ctx, records))

	rows, _ := count(t, pool)
	require.Equal(t, n-len(bad), rows)
	s := e.Stats()
	require.Equal(t, uint64(len(bad)), s.Rejected[auditrow.ReasonRefusedByServer])
	require.Equal(t, uint64(n-len(bad)), s.Written)
	errs := h.All()
	require.Len(t, errs, len(bad))
	for _, err := range errs {
		var re *postgreslog.RejectError
		require.ErrorAs(t, err, &re)
		require.Equal(t, auditrow.ReasonRefusedByServer, re.Reason)
		require.NotZero(t, re.EventID)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%v", err)
		require.Equal(t, "54000", pgErr.Code)
	}
}

func TestRefusedRowsAmongDuplicatesInSmallChunks(t *testing.T) {
	// Everything at once: a batch written in many COPY statements
	// (64 KiB chunks), exported twice (the second time through the staging
	// table), with rows Postgres refuses in it. Each good row is stored
	// once, each bad row rejected each time, nothing fails.
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool,
		postgreslog.WithMapping(auditrow.Options{MaxFieldBytes: 64 << 10}),
		postgreslog.WithMaxCopyBytes(64<<10))

	const n = 3000
	bad := map[int]bool{0: true, 1500: true, 2999: true}
	records := loginsWithHugeUsers(t, n, bad)
	require.NoError(t, e.Export(ctx, records))
	require.NoError(t, e.Export(ctx, records))

	rows, ids := count(t, pool)
	require.Equal(t, n-len(bad), rows)
	require.Equal(t, n-len(bad), ids)
	s := e.Stats()
	require.Equal(t, uint64(n-len(bad)), s.Written)
	require.Equal(t, uint64(n-len(bad)), s.AlreadyStored)
	require.Equal(t, uint64(2*len(bad)), s.Rejected[auditrow.ReasonRefusedByServer])
	require.Zero(t, s.Failed)
	require.Len(t, h.All(), 2*len(bad))
}
