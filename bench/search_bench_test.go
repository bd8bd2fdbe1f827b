package bench

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit/trail"
)

// searchUser is a user of workspace ws_7 (its users are u_350..u_399).
const (
	searchWorkspace = "ws_7"
	searchUser      = "u_350"
	searchPage      = 50
)

type searcher interface {
	Search(context.Context, trail.Filter, trail.Page) (trail.Result, error)
}

// BenchmarkSearch reads the first page (50 events, newest first) of a
// workspace-and-user search (200 events of the user at 10M rows) on each
// store, one search per operation. deep_page_ns is the median time of the
// last full page of the workspace's search (its 10,000 events at 10M
// rows: page 200), reached with its cursor, which makes a deep page a seek
// rather than an offset. "rows" is the size of the seeded table
// (OTELAUDIT_SEARCH_ROWS).
func BenchmarkSearch(b *testing.B) {
	rows := searchRows(b)
	pool := searchPostgres(b, rows)
	conn, opts := searchClickHouse(b, rows)
	pg, err := trail.NewPostgres(pool)
	if err != nil {
		b.Fatal(err)
	}
	ch, err := trail.NewClickHouse(conn, trail.WithClickHouseSchema(opts))
	if err != nil {
		b.Fatal(err)
	}
	user := trail.Filter{Workspace: searchWorkspace, Actor: searchUser}
	ws := trail.Filter{Workspace: searchWorkspace}
	for _, sc := range []struct {
		name string
		s    searcher
	}{{"postgres", pg}, {"clickhouse", ch}} {
		b.Run(sc.name, func(b *testing.B) {
			ctx := context.Background()
			deep, pages := deepCursor(b, sc.s, ws)
			var n int
			for b.Loop() {
				res, err := sc.s.Search(ctx, user, trail.Page{Limit: searchPage})
				if err != nil {
					b.Fatal(err)
				}
				n = len(res.Records)
			}
			if want := min(searchPage, rows/50_000); n < want {
				b.Fatalf("first page: %d events, want %d", n, want)
			}
			var times []float64
			for range 11 {
				start := time.Now()
				res, err := sc.s.Search(ctx, ws, trail.Page{Limit: searchPage, After: deep})
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, float64(time.Since(start).Nanoseconds()))
				if len(res.Records) != searchPage {
					b.Fatalf("deep page: %d events", len(res.Records))
				}
			}
			sort.Float64s(times)
			b.ReportMetric(times[len(times)/2], "deep_page_ns")
			b.ReportMetric(float64(pages), "deep_page")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// deepCursor returns the cursor before the last full page of f's search
// (newest first), and that page's number.
func deepCursor(b *testing.B, s searcher, f trail.Filter) (string, int) {
	b.Helper()
	var last []string // the cursors of the newest records read, at most searchPage+1
	total := 0
	p := trail.Page{Limit: 1000}
	for {
		res, err := s.Search(context.Background(), f, p)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res.Records {
			last = append(last, r.Cursor())
			if len(last) > searchPage+1 {
				last = last[1:]
			}
		}
		total += len(res.Records)
		if res.Next == "" {
			break
		}
		p.After = res.Next
	}
	if total < 2*searchPage+1 {
		b.Fatalf("the workspace has %d events: too few for a deep page", total)
	}
	return last[0], (total - 1) / searchPage
}

// BenchmarkExport reads every event of u_export (a thousandth of the
// table, as actor, and its events as target) from Postgres, oldest first,
// and writes them as JSON lines, as `otelaudit export --user` does; one
// export per operation.
func BenchmarkExport(b *testing.B) {
	rows := searchRows(b)
	pool := searchPostgres(b, rows)
	pg, err := trail.NewPostgres(pool)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("user", func(b *testing.B) {
		ctx := context.Background()
		var n int
		for b.Loop() {
			n = 0
			enc := json.NewEncoder(io.Discard)
			p := trail.Page{Limit: trail.MaxLimit, Order: trail.OldestFirst}
			for {
				res, err := pg.Search(ctx, trail.Filter{Subject: "u_export"}, p)
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
		if n < rows/1000 {
			b.Fatalf("exported %d events, want at least %d", n, rows/1000)
		}
		b.ReportMetric(float64(n), "events")
		b.ReportMetric(float64(rows), "rows")
	})
}
