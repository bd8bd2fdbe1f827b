package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit/trail"
)

// filterFlags are the filter flags of search and tail.
type filterFlags struct {
	workspace, actor, user, resourceType, resourceID string
	action, outcome, ip, since, until                string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.workspace, "workspace", "", "workspace (tenant) id")
	fs.StringVar(&f.actor, "actor", "", "user id of the actor")
	fs.StringVar(&f.user, "user", "", "user id, as the actor or as the target (resource type \"user\")")
	fs.StringVar(&f.resourceType, "resource-type", "", "target resource type")
	fs.StringVar(&f.resourceID, "resource-id", "", "target resource id")
	fs.StringVar(&f.action, "action", "", "action, or a prefix followed by * (\"oauth.*\")")
	fs.StringVar(&f.outcome, "outcome", "", "success or failure")
	fs.StringVar(&f.ip, "ip", "", "client IP address")
	fs.StringVar(&f.since, "since", "", "events at or after this time (2024-06-01, RFC 3339, 24h, 30d)")
	fs.StringVar(&f.until, "until", "", "events before this time")
}

func (f *filterFlags) filter(now time.Time) (trail.Filter, error) {
	since, err := parseTime("since", f.since, now)
	if err != nil {
		return trail.Filter{}, err
	}
	until, err := parseTime("until", f.until, now)
	if err != nil {
		return trail.Filter{}, err
	}
	flt := trail.Filter{
		Workspace: f.workspace, Actor: f.actor, Subject: f.user, ResourceType: f.resourceType, ResourceID: f.resourceID,
		Action: f.action, Outcome: f.outcome, ClientIP: f.ip, Since: since, Until: until,
	}
	if err := flt.Validate(); err != nil {
		return flt, usageError{err.Error()}
	}
	return flt, nil
}

func runSearch(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("search", e)
	var c conn
	c.register(fs, e)
	var ff filterFlags
	ff.register(fs)
	store := fs.String("store", "", "postgres or clickhouse (default postgres when configured)")
	output := fs.String("output", "table", "table, json, jsonl or csv")
	limit := fs.Int("limit", 50, "events per page")
	after := fs.String("after", "", "cursor to continue from (printed after a full page)")
	all := fs.Bool("all", false, "read every page, not only the first")
	oldest := fs.Bool("oldest-first", false, "oldest events first (default newest first)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := outputFormat(*output, "table", "json", "jsonl", "csv"); err != nil {
		return err
	}
	if *limit <= 0 || *limit > trail.MaxLimit {
		return usagef("--limit %d: between 1 and %d", *limit, trail.MaxLimit)
	}
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	defer c.close()
	s, err := c.searcher(ctx, *store)
	if err != nil {
		return err
	}
	page := trail.Page{Limit: *limit, After: *after}
	if *oldest {
		page.Order = trail.OldestFirst
	}
	w := newRecordWriter(e.stdout, *output)
	for {
		res, err := s.Search(ctx, f, page)
		if err != nil {
			return err
		}
		for _, r := range res.Records {
			if err := w.write(r); err != nil {
				return err
			}
		}
		if res.Next == "" {
			break
		}
		if !*all {
			if err := w.flush(); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "more: --after %s\n", res.Next)
			return nil
		}
		page.After = res.Next
	}
	return w.flush()
}

func runTail(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("tail", e)
	var c conn
	c.register(fs, e)
	var ff filterFlags
	ff.register(fs)
	follow := fs.Bool("f", false, "follow: print new events as they arrive, until interrupted")
	n := fs.Int("n", 10, "how many of the newest events to print first")
	output := fs.String("output", "table", "table, jsonl or csv")
	after := fs.String("after", "", "tail cursor to resume from (with --print-cursor, each event's)")
	printCursor := fs.Bool("print-cursor", false, "print each event's tail cursor on stderr")
	interval := fs.Duration("interval", time.Second, "how often to look for new events")
	store := fs.String("store", "postgres", "postgres (every event once, whatever the inserts do) or clickhouse (with --lag)")
	lag := fs.Duration("lag", trail.DefaultFollowLag, "clickhouse: deliver events inserted more than this long ago (longer than any insert takes)")
	retry := fs.Duration("retry", 2*time.Second, "with -f, how long to wait before reconnecting after a lost connection")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := outputFormat(*output, "table", "jsonl", "csv"); err != nil {
		return err
	}
	if *n < 0 || *n > trail.MaxLimit {
		return usagef("-n %d: between 0 and %d", *n, trail.MaxLimit)
	}
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	defer c.close()
	var r tailer
	switch *store {
	case "postgres":
		pool, err := c.postgres(ctx)
		if err != nil {
			return err
		}
		if r, err = trail.NewPostgres(pool, trail.WithPostgresTable(c.pgSchema, c.pgTable)); err != nil {
			return err
		}
	case "clickhouse":
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		if r, err = trail.NewClickHouse(ch, trail.WithClickHouseSchema(o), trail.WithFollowLag(*lag)); err != nil {
			return usageError{err.Error()}
		}
	default:
		return usagef("--store %q: postgres or clickhouse", *store)
	}
	// Take the follow cursor first, so that nothing falls between the
	// newest events printed and the first followed one twice or never:
	// rows below the cursor are printed from the search, the others are
	// followed.
	if *retry <= 0 {
		return usagef("--retry %v: more than zero", *retry)
	}
	start := *after
	if start == "" && *follow {
		if start, err = r.TailStart(ctx); err != nil {
			return err
		}
	}
	w := newRecordWriter(e.stdout, *output)
	table, _ := w.(*tableRecords)
	printed := map[[16]byte]bool{}
	if *after == "" && *n > 0 {
		res, err := r.Search(ctx, f, trail.Page{Limit: *n})
		if err != nil {
			return err
		}
		for i := len(res.Records) - 1; i >= 0; i-- {
			printed[res.Records[i].ID] = true
			if err := w.write(res.Records[i]); err != nil {
				return err
			}
		}
	}
	if !*follow {
		return w.flush()
	}
	if table != nil {
		if err := table.w.Flush(); err != nil {
			return err
		}
	}
	cursor := start
	for {
		err = r.Tail(ctx, f, cursor, *interval, func(rec trail.Record) error {
			cursor = rec.Cursor()
			if printed[rec.ID] {
				// Printed above already: its transaction ended after the
				// cursor was taken, before the search.
				return nil
			}
			if err := w.write(rec); err != nil {
				return err
			}
			if *printCursor {
				fmt.Fprintf(e.stderr, "cursor %s\n", rec.Cursor())
			}
			if table != nil {
				return table.w.Flush()
			}
			if cw, ok := w.(*csvRecords); ok {
				cw.w.Flush()
			}
			return nil
		})
		if ctx.Err() != nil || !connectionLost(err) {
			break
		}
		// The connection was lost: go on from the last event printed
		// once the server answers again.
		fmt.Fprintf(e.stderr, "otelaudit tail: %v; retrying in %v\n", err, *retry)
		select {
		case <-ctx.Done():
		case <-time.After(*retry):
		}
	}
	if ctx.Err() != nil {
		// Interrupted: the normal end of tail -f.
		_ = w.flush()
		return nil
	}
	return err
}

// tailer is a store tail follows.
type tailer interface {
	Search(context.Context, trail.Filter, trail.Page) (trail.Result, error)
	TailStart(context.Context) (string, error)
	Tail(ctx context.Context, f trail.Filter, after string, interval time.Duration, fn func(trail.Record) error) error
}
