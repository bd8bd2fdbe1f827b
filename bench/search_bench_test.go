package bench

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/trail"
)

const searchPage = 50

type searcher interface {
	Search(context.Context, trail.Filter, trail.Page) (trail.Result, error)
}

// BenchmarkSearch reads the first page (50 events, newest first) of a
// workspace-and-user search on each store, one search per operation:
// searchUser's own events in searchWorkspace (9,000 of 10M rows), in a
// tenant of some 7% of the table. deep_page_ns is the median time of the
// last full page of the same search (page 180 at 10M rows), reached with
// its cursor, which makes a deep page a seek rather than an offset.
//
// Each store's answer is checked against an independent count
// (count(*) in Postgres, uniqExact(event_id) in ClickHouse), which must
// be the dataset's figure: the whole search, read in pages of 1,000, must
// return exactly those events, each once, newest first, all of the user
// in the workspace; the first page and the deep page must be the events
// at their positions in it. "rows" is the size of the seeded table
// (OTELAUDIT_SEARCH_ROWS), "matches" the search's events.
func BenchmarkSearch(b *testing.B) {
	rows := searchRows(b)
	pool := searchPostgres(b, rows, "", false)
	conn, opts := searchClickHouse(b, rows, "", false)
	pg, err := trail.NewPostgres(pool)
	if err != nil {
		b.Fatal(err)
	}
	ch, err := trail.NewClickHouse(conn, trail.WithClickHouseSchema(opts))
	if err != nil {
		b.Fatal(err)
	}
	f := trail.Filter{Workspace: searchWorkspace, Actor: searchUser}
	want := searchUserEvents(rows) - rows/10_000 // less the administrator's actions on it
	count := func(name string) int {
		ctx := context.Background()
		switch name {
		case "postgres":
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE workspace_id = $1 AND user_id = $2",
				f.Workspace, f.Actor).Scan(&n); err != nil {
				b.Fatal(err)
			}
			return n
		default:
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM "+opts.Database+".audit_logs WHERE workspace_id = ? AND user_id = ?",
				f.Workspace, f.Actor).Scan(&n); err != nil {
				b.Fatal(err)
			}
			return int(n)
		}
	}
	for _, sc := range []struct {
		name string
		s    searcher
	}{{"postgres", pg}, {"clickhouse", ch}} {
		b.Run(sc.name, func(b *testing.B) {
			ctx := context.Background()
			if n := count(sc.name); n != want {
				b.Fatalf("the table holds %d events of %s in %s, want %d", n, f.Actor, f.Workspace, want)
			}
			all := searchAll(b, sc.s, f, trail.Page{Limit: 1000})
			if len(all) != want {
				b.Fatalf("the search returned %d events, the table holds %d", len(all), want)
			}
			for _, r := range all {
				if r.Actor.UserID != f.Actor || r.Actor.WorkspaceID != f.Workspace {
					b.Fatalf("event %s of %s in %s", r.ID, r.Actor.UserID, r.Actor.WorkspaceID)
				}
			}
			pages := (want - 1) / searchPage // the last full page, counted from 0
			deep := all[pages*searchPage-1].Cursor()
			var first []trail.Record
			for b.Loop() {
				res, err := sc.s.Search(ctx, f, trail.Page{Limit: searchPage})
				if err != nil {
					b.Fatal(err)
				}
				first = res.Records
			}
			sameEvents(b, "first page", first, all[:searchPage])
			var times []float64
			for range 11 {
				start := time.Now()
				res, err := sc.s.Search(ctx, f, trail.Page{Limit: searchPage, After: deep})
				times = append(times, float64(time.Since(start).Nanoseconds()))
				if err != nil {
					b.Fatal(err)
				}
				sameEvents(b, "deep page", res.Records, all[pages*searchPage:min(len(all), (pages+1)*searchPage)])
			}
			sort.Float64s(times)
			b.ReportMetric(times[len(times)/2], "deep_page_ns")
			b.ReportMetric(float64(pages+1), "deep_page")
			b.ReportMetric(float64(want), "matches")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// searchAll reads every page of f's search and checks the order: each
// event once, by (time, id) descending (ascending for OldestFirst).
func searchAll(b *testing.B, s searcher, f trail.Filter, p trail.Page) []trail.Record {
	b.Helper()
	var all []trail.Record
	for {
		res, err := s.Search(context.Background(), f, p)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, res.Records...)
		if res.Next == "" {
			break
		}
		p.After = res.Next
	}
	seen := make(map[uuid.UUID]bool, len(all))
	for i, r := range all {
		if seen[r.ID] {
			b.Fatalf("event %s returned twice", r.ID)
		}
		seen[r.ID] = true
		if i == 0 {
			continue
		}
		prev := all[i-1]
		c := prev.Time.Compare(r.Time)
		if c == 0 {
			c = slices.Compare(prev.ID[:], r.ID[:])
		}
		if (p.Order == trail.OldestFirst) != (c < 0) {
			b.Fatalf("events %d and %d out of order: %s %s, %s %s", i-1, i, prev.Time, prev.ID, r.Time, r.ID)
		}
	}
	return all
}

// sameEvents fails unless got holds the events of want, in order.
func sameEvents(b *testing.B, what string, got, want []trail.Record) {
	b.Helper()
	if len(got) != len(want) {
		b.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			b.Fatalf("%s: event %d is %s, want %s", what, i, got[i].ID, want[i].ID)
		}
	}
}

// BenchmarkExport reads every event of searchUser (10,000 of 10M rows:
// 9,000 as the actor and 1,000 as the target of an administrator's
// action) from Postgres, oldest first, in pages of trail.MaxLimit, and
// writes them as JSON lines, as `otelaudit export --user` does; one
// export per operation. The table's own count of the user's events as
// actor or target must be the dataset's figure, and every export must
// return that many events, each once, in order.
func BenchmarkExport(b *testing.B) {
	rows := searchRows(b)
	pool := searchPostgres(b, rows, "", false)
	pg, err := trail.NewPostgres(pool)
	if err != nil {
		b.Fatal(err)
	}
	f := trail.Filter{Subject: searchUser}
	want := searchUserEvents(rows)
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_logs WHERE user_id = $1 OR (resource = 'user' AND resource_id = $1)",
		searchUser).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("the table holds %d events of %s as actor or target, want %d", n, searchUser, want)
	}
	b.Run("user", func(b *testing.B) {
		ctx := context.Background()
		var n int
		for b.Loop() {
			n = 0
			enc := json.NewEncoder(io.Discard)
			p := trail.Page{Limit: trail.MaxLimit, Order: trail.OldestFirst}
			for {
				res, err := pg.Search(ctx, f, p)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res.Records {
					if err := enc.Encode(r); err != nil {
						b.Fatal(err)
					}
				}
				n += len(res.Records)
				if res.Next == "" {
					break
				}
				p.After = res.Next
			}
		}
		if n != want {
			b.Fatalf("exported %d events, want %d", n, want)
		}
		all := searchAll(b, pg, f, trail.Page{Limit: trail.MaxLimit, Order: trail.OldestFirst})
		if len(all) != want {
			b.Fatalf("the export's pages hold %d distinct events, want %d", len(all), want)
		}
		b.ReportMetric(float64(n), "events")
		b.ReportMetric(float64(rows), "rows")
	})
}
