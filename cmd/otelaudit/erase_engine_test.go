package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The ClickHouse side of erase on the engine the test environment gives:
// ClickHouse 18.16 (compat layout), and 26.5 through chDB (modern layout:
// DateTime64, Map, LowCardinality and bloom-filter indexes on the columns
// the mutations change) under make test-chdb. The user's own rows, the
// rows naming the user as target and the JSON values are rewritten; rows
// in keep keep their resource id and JSON values; other rows are left.
func TestEraseClickHouseOnEngine(t *testing.T) {
	ctx := testCtx(t)
	conn, db := testenv.ClickHouse(t)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	if testenv.ClickHouseEngine() == testenv.EngineChDB {
		require.Equal(t, chschema.LayoutModern, layout)
	}
	at := time.Now().UTC().Add(-time.Hour)
	ev := func(actor, target string, details map[string]any) otelaudit.Event {
		e := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: at, Action: otelaudit.ActionAdminAction,
			Actor:   otelaudit.Actor{UserID: actor, Name: actor + " Name", WorkspaceID: "ws_1"},
			Client:  otelaudit.Client{IP: "192.0.2.7", UserAgent: "ua/1", SessionID: "sess_" + actor},
			Details: otelaudit.Value(details)}
		if target != "" {
			e.Resource = otelaudit.Resource{Type: "user", ID: target}
		}
		return e
	}
	own := ev("usr_9", "", map[string]any{"me": "usr_9", "mail": "nine@example.com"})
	target := ev("admin_1", "usr_9", map[string]any{"email": "nine@example.com", "reason": "ticket"})
	kept := ev("admin_1", "usr_9", map[string]any{"email": "nine@example.com"})
	other := ev("usr_8", "usr_7", map[string]any{"email": "eight@example.com", "ref": "usr_9"})
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	require.NoError(t, exp.Export(ctx, captureRecords(t, []otelaudit.Event{own, target, kept, other})))
	require.NoError(t, exp.Shutdown(context.Background()))

	req := eraseRequest{user: "usr_9", pseudonym: "erased_9", also: []string{"nine@example.com"}, keys: defaultEraseKeys, keep: []uuid.UUID{kept.ID}}
	prog := &progress{}
	req.dry = true
	n, err := eraseClickHouse(ctx, conn, opts, req, prog)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	req.dry = false
	n, err = eraseClickHouse(ctx, conn, opts, req, prog)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	var mutations uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT uniqExact(mutation_id) FROM system.mutations WHERE database = ? AND table = 'audit_logs'", db).Scan(&mutations))
	require.EqualValues(t, 1, mutations, "one ALTER: one mutation, one rewrite of the parts")

	row := func(id uuid.UUID) []string {
		var uid, name, ip, ua, sess, rid, details string
		require.NoError(t, conn.QueryRow(ctx, "SELECT user_id, user_name, toString(client_ip), toString(user_agent), session_id, resource_id, details FROM "+
			db+".audit_logs WHERE event_id = ?", id).Scan(&uid, &name, &ip, &ua, &sess, &rid, &details))
		return []string{uid, name, ip, ua, sess, rid, details}
	}
	got := row(own.ID)
	require.Equal(t, []string{"erased_9", "", "", "", ""}, got[:5])
	require.JSONEq(t, `{"me": "erased_9", "mail": "[erased]"}`, got[6])
	got = row(target.ID)
	require.Equal(t, []string{"admin_1", "admin_1 Name", "192.0.2.7", "ua/1", "sess_admin_1", "erased_9"}, got[:6])
	require.JSONEq(t, `{"email": "[erased]", "reason": "ticket"}`, got[6])
	got = row(kept.ID)
	require.Equal(t, "usr_9", got[5], "a kept row keeps its resource id")
	require.JSONEq(t, `{"email": "nine@example.com"}`, got[6])
	got = row(other.ID)
	require.Equal(t, []string{"usr_8", "usr_8 Name", "192.0.2.7", "ua/1", "sess_usr_8", "usr_7"}, got[:6])
	require.JSONEq(t, `{"email": "eight@example.com", "ref": "usr_9"}`, got[6])
}

// More new JSON than one query may carry: the rewrite is cut into several
// mutations, and every row is rewritten.
func TestEraseClickHouseManyEdits(t *testing.T) {
	ctx := testCtx(t)
	conn, db := testenv.ClickHouse(t)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	at := time.Now().UTC().Add(-time.Hour)
	filler := strings.Repeat("x", 8<<10)
	var evs []otelaudit.Event
	for i := range 60 {
		evs = append(evs, otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: at.Add(time.Duration(i) * time.Millisecond), Action: "profile_updated",
			Actor:   otelaudit.Actor{UserID: "usr_many", WorkspaceID: "ws_1"},
			Details: otelaudit.Value(map[string]any{"contact": "many@example.com", "filler": filler, "i": i})})
	}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	require.NoError(t, exp.Export(ctx, captureRecords(t, evs)))
	require.NoError(t, exp.Shutdown(context.Background()))

	req := eraseRequest{user: "usr_many", pseudonym: "erased_many", also: []string{"many@example.com"}, keys: defaultEraseKeys}
	n, err := eraseClickHouse(ctx, conn, opts, req, &progress{})
	require.NoError(t, err)
	require.EqualValues(t, len(evs), n)
	var mutations, left, rewritten uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT uniqExact(mutation_id) FROM system.mutations WHERE database = ? AND table = 'audit_logs'", db).Scan(&mutations))
	require.GreaterOrEqual(t, mutations, uint64(3), "60 rows of 8 KiB need several queries")
	require.NoError(t, conn.QueryRow(ctx, "SELECT countIf(position(details, 'many@example.com') > 0 OR user_id = 'usr_many'), countIf(position(details, '\"contact\":\"[erased]\"') > 0 AND user_id = 'erased_many') FROM "+db+".audit_logs").Scan(&left, &rewritten))
	require.Zero(t, left)
	require.EqualValues(t, len(evs), rewritten)
}

// Copies of an event that ClickHouse has not merged yet, and that differ
// (a forged copy, say), are each rewritten from their own values: they
// still differ afterwards, as verification would report, and neither
// keeps a personal value.
//
// Only on a ClickHouse server: the test holds merges back until the
// erasure's mutation is queued, and chDB runs one statement at a time, so
// it cannot restart merges while the erasure waits on that mutation.
func TestEraseClickHouseKeepsCopiesApart(t *testing.T) {
	if testenv.ClickHouseEngine() == testenv.EngineChDB {
		t.Skip("chDB runs one statement at a time; this test needs a server (make test runs it on 18.16)")
	}
	ctx := testCtx(t)
	conn, db := testenv.ClickHouse(t)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	require.NoError(t, conn.Exec(ctx, "SYSTEM STOP MERGES "+db+".audit_logs"))
	ev := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: time.Now().UTC().Add(-time.Hour), Action: "profile_updated",
		Actor:   otelaudit.Actor{UserID: "usr_c", WorkspaceID: "ws_1"},
		Details: otelaudit.Value(map[string]any{"who": "usr_c", "v": 1})}
	forged := ev
	forged.Details = otelaudit.Value(map[string]any{"who": "usr_c", "v": 2})
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	require.NoError(t, exp.Export(ctx, captureRecords(t, []otelaudit.Event{ev})))
	// In another second: the compat layout's ingest_version counts
	// seconds, by the server's coarse clock (a little past the boundary).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 100*time.Millisecond)))
	require.NoError(t, exp.Export(ctx, captureRecords(t, []otelaudit.Event{forged})))
	require.NoError(t, exp.Shutdown(context.Background()))

	var versions uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT uniqExact(ingest_version) FROM "+db+".audit_logs").Scan(&versions))
	require.EqualValues(t, 2, versions, "two copies, stored in different seconds")
	// Mutations run in the merge pool: merges restart once the erasure's
	// mutation is queued, which the pool then takes before merging the
	// two parts.
	type result struct {
		n   uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := eraseClickHouse(ctx, conn, opts, eraseRequest{user: "usr_c", pseudonym: "erased_c", keys: defaultEraseKeys}, &progress{})
		done <- result{n, err}
	}()
	require.Eventually(t, func() bool {
		var queued uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = 'audit_logs' AND is_done = 0", db).Scan(&queued)
		return err == nil && queued > 0
	}, time.Minute, 10*time.Millisecond)
	require.NoError(t, conn.Exec(ctx, "SYSTEM START MERGES "+db+".audit_logs"))
	r := <-done
	require.NoError(t, r.err)
	require.EqualValues(t, 1, r.n)
	rows, err := conn.Query(ctx, "SELECT user_id, details FROM "+db+".audit_logs WHERE event_id = ? ORDER BY details", ev.ID)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var uid, d string
		require.NoError(t, rows.Scan(&uid, &d))
		got = append(got, uid+" "+d)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, []string{`erased_c {"v":1,"who":"erased_c"}`, `erased_c {"v":2,"who":"erased_c"}`}, got)
}
