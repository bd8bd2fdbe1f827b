package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
	"github.com/otelaudit/otelaudit/trail"
)

// Environment variables read for the connections.
const (
	envPostgres   = "OTELAUDIT_POSTGRES_DSN"
	envClickHouse = "OTELAUDIT_CLICKHOUSE_DSN"
)

// conn holds the connection flags every command shares.
type conn struct {
	pgDSN, chDSN      string
	pgSchema, pgTable string
	chDatabase        string
	chTable           string

	closers []func()
}

func newFlagSet(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("otelaudit "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func (c *conn) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&c.pgDSN, "postgres", e.getenv(envPostgres), "Postgres connection string (default $"+envPostgres+")")
	fs.StringVar(&c.chDSN, "clickhouse", e.getenv(envClickHouse), "ClickHouse connection string, clickhouse://user:password@host:9000/database (default $"+envClickHouse+")")
	fs.StringVar(&c.pgSchema, "pg-schema", pgschema.DefaultSchema, "Postgres schema of the audit table")
	fs.StringVar(&c.pgTable, "pg-table", pgschema.DefaultTable, "Postgres audit table")
	fs.StringVar(&c.chDatabase, "ch-database", "", "ClickHouse database of the audit table (default: the connection string's)")
	fs.StringVar(&c.chTable, "ch-table", chschema.DefaultTable, "ClickHouse audit table")
}

// parse parses args; -h is errHelp, any other mistake a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err.Error()}
	}
	return nil
}

func (c *conn) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

func (c *conn) pgOptions() pgschema.Options {
	return pgschema.Options{Schema: c.pgSchema, Table: c.pgTable}
}

func (c *conn) postgres(ctx context.Context) (*pgxpool.Pool, error) {
	if c.pgDSN == "" {
		return nil, usagef("no Postgres connection: set --postgres or %s", envPostgres)
	}
	cfg, err := pgxpool.ParseConfig(c.pgDSN)
	if err != nil {
		return nil, usagef("--postgres: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	c.closers = append(c.closers, pool.Close)
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	return pool, nil
}

func (c *conn) clickhouse(ctx context.Context) (driver.Conn, chschema.Options, error) {
	if c.chDSN == "" {
		return nil, chschema.Options{}, usagef("no ClickHouse connection: set --clickhouse or %s", envClickHouse)
	}
	opt, err := clickhouse.ParseDSN(c.chDSN)
	if err != nil {
		return nil, chschema.Options{}, usagef("--clickhouse: %v", err)
	}
	o := chschema.Options{Database: c.chDatabase, Table: c.chTable}
	if o.Database == "" {
		o.Database = opt.Auth.Database
	}
	ch, err := clickhouse.Open(opt)
	if err != nil {
		return nil, o, fmt.Errorf("connect to ClickHouse: %w", err)
	}
	c.closers = append(c.closers, func() { _ = ch.Close() })
	if err := ch.Ping(ctx); err != nil {
		return nil, o, fmt.Errorf("connect to ClickHouse: %w", err)
	}
	return ch, o, nil
}

// searcher opens the reader of one store: "postgres", "clickhouse", or ""
// for Postgres when it is configured, else ClickHouse.
func (c *conn) searcher(ctx context.Context, store string) (interface {
	Search(context.Context, trail.Filter, trail.Page) (trail.Result, error)
}, error) {
	if store == "" {
		store = "postgres"
		if c.pgDSN == "" && c.chDSN != "" {
			store = "clickhouse"
		}
	}
	switch store {
	case "postgres":
		pool, err := c.postgres(ctx)
		if err != nil {
			return nil, err
		}
		return trail.NewPostgres(pool, trail.WithPostgresTable(c.pgSchema, c.pgTable))
	case "clickhouse":
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return nil, err
		}
		return trail.NewClickHouse(ch, trail.WithClickHouseSchema(o))
	}
	return nil, usagef("--store %q: postgres or clickhouse", store)
}

// parseTime reads a time flag: RFC 3339 ("2024-06-01T12:00:00Z"), a date
// ("2024-06-01", midnight UTC), "2024-06-01 12:00:00" (UTC), Unix seconds,
// "now", or a duration before now ("90m", "24h", "30d").
func parseTime(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if s == "now" {
		return now, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--%s %q: not a time (2024-06-01, 2024-06-01T12:00:00Z, Unix seconds, now, 24h, 30d)", name, s)
}

// progress draws a counter on a terminal.
type progress struct {
	w    io.Writer
	on   bool
	what string
	last time.Time
}

func newProgress(e env, what string) *progress {
	return &progress{w: e.stderr, on: e.terminal, what: what}
}

func (p *progress) update(n int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r%s: %d", p.what, n)
}

func (p *progress) done(n int64) {
	if p.on {
		fmt.Fprintf(p.w, "\r%s: %d, done\n", p.what, n)
	}
}
