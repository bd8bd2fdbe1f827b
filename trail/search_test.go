package trail_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/trail"
)

type searcher interface {
	Search(ctx context.Context, f trail.Filter, p trail.Page) (trail.Result, error)
}

// matches is the Filter's meaning, written out in Go: what each store
// must return.
func matches(f trail.Filter, ev otelaudit.Event) bool {
	switch {
	case f.Workspace != "" && ev.Actor.WorkspaceID != f.Workspace,
		f.Actor != "" && ev.Actor.UserID != f.Actor,
		f.Subject != "" && ev.Actor.UserID != f.Subject && !(ev.Resource.Type == trail.UserResourceType && ev.Resource.ID == f.Subject),
		f.ResourceType != "" && ev.Resource.Type != f.ResourceType,
		f.ResourceID != "" && ev.Resource.ID != f.ResourceID,
		f.Outcome != "" && ev.Outcome.String() != f.Outcome,
		f.ClientIP != "" && ev.Client.IP != f.ClientIP,
		!f.Since.IsZero() && ev.Time.Before(f.Since),
		!f.Until.IsZero() && !ev.Time.Before(f.Until):
		return false
	}
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		return strings.HasPrefix(string(ev.Action), p)
	}
	return f.Action == "" || string(ev.Action) == f.Action
}

// readAll pages through a search, limit records at a time.
func readAll(t *testing.T, s searcher, f trail.Filter, limit int, order trail.Order) []trail.Record {
	t.Helper()
	var out []trail.Record
	p := trail.Page{Limit: limit, Order: order}
	for range 1000 {
		res, err := s.Search(testCtx(t), f, p)
		require.NoError(t, err)
		require.LessOrEqual(t, len(res.Records), limit)
		out = append(out, res.Records...)
		if res.Next == "" {
			return out
		}
		require.Len(t, res.Records, limit, "a page with a next cursor is full")
		require.Equal(t, res.Records[len(res.Records)-1].Cursor(), res.Next)
		p.After = res.Next
	}
	t.Fatal("search does not end")
	return nil
}

func ids(recs []trail.Record) []uuid.UUID {
	if len(recs) == 0 {
		return nil
	}
	out := make([]uuid.UUID, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestSearchBothStoresAgree(t *testing.T) {
	s := newStores(t)
	base := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	evs := corpus(60, base)
	s.write(evs)

	filters := map[string]trail.Filter{
		"everything":              {},
		"workspace":               {Workspace: "ws_1"},
		"workspace and actor":     {Workspace: "ws_2", Actor: "usr_2"},
		"subject actor or target": {Subject: "usr_3"},
		"target resource":         {ResourceType: "oauth_app", ResourceID: "github"},
		"resource id alone":       {ResourceID: "google"},
		"action":                  {Action: "login"},
		"action prefix":           {Action: "oauth.*"},
		"action wider prefix":     {Action: "oauth*"},
		"every action":            {Action: "*"},
		"failures":                {Outcome: otelaudit.OutcomeFailure},
		"ipv4":                    {ClientIP: "203.0.113.2"},
		"ipv6, other spelling":    {ClientIP: "2001:0db8:0:0:0:0:0:7"},
		"time range":              {Since: evs[10].Time, Until: evs[20].Time},
		"everything at once":      {Workspace: "ws_0", Action: "login", Outcome: "success", Since: evs[5].Time},
		"nothing":                 {Workspace: "ws_none"},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			var want []uuid.UUID
			norm := f
			if f.ClientIP == "2001:0db8:0:0:0:0:0:7" {
				norm.ClientIP = "2001:db8::7"
			}
			for _, ev := range evs {
				if matches(norm, ev) {
					want = append(want, ev.ID)
				}
			}
			if name != "nothing" {
				require.NotEmpty(t, want, "the corpus has matches")
			}
			for _, order := range []trail.Order{trail.NewestFirst, trail.OldestFirst} {
				pg := readAll(t, s.pgR, f, 7, order)
				ch := readAll(t, s.chR, f, 7, order)
				w := slices.Clone(want)
				if order == trail.NewestFirst {
					slices.Reverse(w)
				}
				require.Equal(t, w, ids(pg), "postgres, order %d", order)
				require.Equal(t, w, ids(ch), "clickhouse, order %d", order)
				for i := range pg {
					require.False(t, pg[i].IngestedAt.IsZero())
					pg[i].IngestedAt = time.Time{}
				}
				require.Equal(t, pg, ch, "the stores give the same records")
			}
		})
	}
}

func TestSearchRecordsKeepTheirStructure(t *testing.T) {
	s := newStores(t)
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	evs := corpus(6, base)
	s.write(evs)
	for name, r := range map[string]searcher{"postgres": s.pgR, "clickhouse": s.chR} {
		t.Run(name, func(t *testing.T) {
			res, err := r.Search(testCtx(t), trail.Filter{Action: "settings_changed"}, trail.Page{})
			require.NoError(t, err)
			require.Len(t, res.Records, 1)
			got, want := res.Records[0], evs[2]
			require.Equal(t, want.ID, got.ID)
			require.True(t, want.Time.Equal(got.Time), "%v %v", want.Time, got.Time)
			require.Equal(t, want.Actor, got.Actor)
			require.Equal(t, want.Client, got.Client)
			require.Equal(t, want.Resource, got.Resource)
			require.Equal(t, attribute.MAP, got.Details.Type())
			require.Equal(t, want.Details.String(), got.Details.String())
			require.Equal(t, want.Previous.String(), got.Previous.String())
			require.Equal(t, want.New.String(), got.New.String())
			require.Equal(t, "billing", got.ServiceName)
			var count attribute.Value
			for _, kv := range got.Details.AsMap() {
				if kv.Key == "count" {
					count = kv.Value
				}
			}
			require.Equal(t, attribute.INT64, count.Type())
			require.Equal(t, int64(100), count.AsInt64())

			res, err = r.Search(testCtx(t), trail.Filter{Outcome: "failure"}, trail.Page{})
			require.NoError(t, err)
			require.Len(t, res.Records, 1)
			require.Equal(t, otelaudit.Failure("invalid_password"), res.Records[0].Outcome)
		})
	}
}

// A cursor from one store continues the search on the other, and stays
// valid when rows arrive before it.
func TestSearchCursorIsStable(t *testing.T) {
	s := newStores(t)
	base := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	evs := corpus(30, base)
	s.write(evs)
	f := trail.Filter{Workspace: "ws_0"}
	first, err := s.pgR.Search(s.ctx, f, trail.Page{Limit: 4})
	require.NoError(t, err)
	require.NotEmpty(t, first.Next)

	// Newer rows arrive: they are before the cursor (newest first), so
	// the next page does not shift.
	s.write(corpus(5, base.Add(20*time.Hour)))

	pg, err := s.pgR.Search(s.ctx, f, trail.Page{Limit: 4, After: first.Next})
	require.NoError(t, err)
	ch, err := s.chR.Search(s.ctx, f, trail.Page{Limit: 4, After: first.Next})
	require.NoError(t, err)
	require.Equal(t, ids(pg.Records), ids(ch.Records))
	var want []uuid.UUID
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Actor.WorkspaceID == "ws_0" {
			want = append(want, evs[i].ID)
		}
	}
	require.Equal(t, want[4:8], ids(pg.Records))
}

func TestSearchRefusesBadInput(t *testing.T) {
	s := newStores(t)
	for name, r := range map[string]searcher{"postgres": s.pgR, "clickhouse": s.chR} {
		t.Run(name, func(t *testing.T) {
			for _, f := range []trail.Filter{
				{Outcome: "maybe"},
				{Action: "Login"},
				{Action: "oauth'; DROP TABLE audit_logs; --"},
				{ClientIP: "not-an-ip"},
				{Since: time.Now(), Until: time.Now().Add(-time.Hour)},
			} {
				_, err := r.Search(testCtx(t), f, trail.Page{})
				require.ErrorIs(t, err, trail.ErrInvalidFilter, "%+v", f)
			}
			for _, c := range []string{"x", "12.not-a-uuid", "t1.2.3"} {
				_, err := r.Search(testCtx(t), trail.Filter{}, trail.Page{After: c})
				require.ErrorIs(t, err, trail.ErrInvalidCursor, c)
			}
		})
	}
}

func TestSearchMissingTable(t *testing.T) {
	pool := testenv.Postgres(t)
	ch, db := testenv.ClickHouse(t)
	pgR, err := trail.NewPostgres(pool)
	require.NoError(t, err)
	_, err = pgR.Search(testCtx(t), trail.Filter{}, trail.Page{})
	require.ErrorIs(t, err, trail.ErrNotMigrated)
	require.Contains(t, err.Error(), "otelaudit migrate")

	chR, err := trail.NewClickHouse(ch, trail.WithClickHouseSchema(chschemaOptions(db)))
	require.NoError(t, err)
	_, err = chR.Search(testCtx(t), trail.Filter{}, trail.Page{})
	require.ErrorIs(t, err, trail.ErrNotMigrated)

	_, err = trail.NewPostgres(nil)
	require.ErrorIs(t, err, trail.ErrInvalidOptions)
	_, err = trail.NewPostgres(pool, trail.WithPostgresTable("Bad", ""))
	require.ErrorIs(t, err, trail.ErrInvalidOptions)
}

// TestSearchSubjectActorAndTargetMerged checks the subject search's two
// paths (the user as actor, as target) merged page by page: an event
// where the user acts on its own account comes once, an event on another
// kind of resource that has the user's id is not the user's, and small
// pages cut through runs of both kinds in both orders.
func TestSearchSubjectActorAndTargetMerged(t *testing.T) {
	s := newStores(t)
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	evs := corpus(40, base)
	for i := range evs {
		switch i % 4 {
		case 0: // the user on its own account
			evs[i].Actor.UserID = "usr_self"
			evs[i].Resource = otelaudit.Resource{Type: trail.UserResourceType, ID: "usr_self"}
		case 1: // someone else on the user's account
			evs[i].Resource = otelaudit.Resource{Type: trail.UserResourceType, ID: "usr_self"}
		case 2: // the user's id as another kind of resource
			evs[i].Resource = otelaudit.Resource{Type: "team", ID: "usr_self"}
		}
	}
	// Two events at the same microsecond: the cursor orders them by id.
	evs[9].Time = evs[8].Time
	s.write(evs)
	f := trail.Filter{Subject: "usr_self"}
	var want []uuid.UUID
	for _, ev := range evs {
		if matches(f, ev) {
			want = append(want, ev.ID)
		}
	}
	slices.SortFunc(want, func(a, b uuid.UUID) int {
		ta, tb := evTime(evs, a), evTime(evs, b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return slices.Compare(a[:], b[:])
	})
	require.Len(t, want, 20, "ten events as actor and target, ten as target")
	for _, order := range []trail.Order{trail.NewestFirst, trail.OldestFirst} {
		w := slices.Clone(want)
		if order == trail.NewestFirst {
			slices.Reverse(w)
		}
		for _, limit := range []int{1, 3, 50} {
			require.Equal(t, w, ids(readAll(t, s.pgR, f, limit, order)), "postgres, order %d, pages of %d", order, limit)
			require.Equal(t, w, ids(readAll(t, s.chR, f, limit, order)), "clickhouse, order %d, pages of %d", order, limit)
		}
	}
}

func evTime(evs []otelaudit.Event, id uuid.UUID) time.Time {
	for _, ev := range evs {
		if ev.ID == id {
			return ev.Time
		}
	}
	return time.Time{}
}

// TestSearchSpreadOverMonthsWithCopies checks a newest-first search over
// events months apart (the ClickHouse reader looks at the last day, week
// and month before everything), one of them ahead of the clock, with
// copies of some events in ClickHouse, stored later with other details:
// every page, of any size, holds the events in order, each once, the
// first stored copy, the same as Postgres.
func TestSearchSpreadOverMonthsWithCopies(t *testing.T) {
	s := newStores(t)
	now := time.Now().UTC()
	ago := []time.Duration{-2 * time.Hour, time.Hour, 5 * time.Hour, 30 * time.Hour, 3 * 24 * time.Hour, 10 * 24 * time.Hour,
		20 * 24 * time.Hour, 45 * 24 * time.Hour, 46 * 24 * time.Hour, 100 * 24 * time.Hour}
	evs := corpus(len(ago), now)
	for i := range evs {
		evs[i].Time = now.Add(-ago[i]).Truncate(time.Microsecond)
		evs[i].Actor.WorkspaceID = "ws_spread"
		evs[i].Details = otelaudit.Value(map[string]any{"copy": "original"})
	}
	s.write(evs)
	// The copies: same id and time (the same sort key), other details,
	// stored a second later than the originals, so that the originals
	// have the higher ingest_version.
	time.Sleep(1100 * time.Millisecond)
	copies := []otelaudit.Event{evs[1], evs[4], evs[8]}
	for i := range copies {
		copies[i].Details = otelaudit.Value(map[string]any{"copy": "later"})
	}
	recs := capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		for _, ev := range copies {
			a.Record(context.Background(), ev)
		}
	})
	require.NoError(t, s.chExp.Export(s.ctx, recs))
	var stored uint64
	require.NoError(t, s.ch.QueryRow(s.ctx, "SELECT count() FROM `"+s.chOpts.Database+"`.audit_logs").Scan(&stored))
	require.Equal(t, uint64(len(evs)+len(copies)), stored, "the copies are stored beside the originals")

	want := ids(nil)
	for _, ev := range evs { // newest first: the order of ago
		want = append(want, ev.ID)
	}
	f := trail.Filter{Workspace: "ws_spread"}
	for _, limit := range []int{1, 2, 3, 4, 50} {
		pg := readAll(t, s.pgR, f, limit, trail.NewestFirst)
		ch := readAll(t, s.chR, f, limit, trail.NewestFirst)
		require.Equal(t, want, ids(pg), "postgres, pages of %d", limit)
		require.Equal(t, want, ids(ch), "clickhouse, pages of %d", limit)
		for i := range ch {
			require.Equal(t, otelaudit.Value(map[string]any{"copy": "original"}), ch[i].Details, "clickhouse, pages of %d, event %d", limit, i)
		}
	}
	// A time range that ends before the last month: the windows start
	// from Until.
	f.Until = now.Add(-15 * 24 * time.Hour)
	require.Equal(t, want[6:], ids(readAll(t, s.chR, f, 2, trail.NewestFirst)))
	require.Equal(t, want[6:], ids(readAll(t, s.pgR, f, 2, trail.NewestFirst)))
}
