package trail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit"
)

// ErrNotMigrated is returned (wrapped) when the audit table, or a column
// or index a read needs, does not exist: the store was not migrated, or
// not to this version. Run `otelaudit migrate` (or pgschema.Migrate and
// chschema.Migrate) as the owner.
var ErrNotMigrated = errors.New("trail: the audit table is missing or not migrated (run otelaudit migrate)")

// customPlan runs a statement as the unnamed prepared statement, which
// Postgres plans for the values bound each time. A named (cached)
// statement switches to a generic plan after five executions, and on a
// partitioned table with several indexes that plan can cost a hundred
// times more: for a workspace and a user it combines both indexes
// (BitmapAnd over every row of the workspace, half a second at 10
// million rows) where the values' plan reads the user's index backwards
// and stops after a page.
const customPlan = pgx.QueryExecModeCacheDescribe

// Postgres reads the Postgres audit table of schema/pgschema.
type Postgres struct {
	pool  *pgxpool.Pool
	table string // quoted, schema-qualified
	name  string // schema.table, for messages
}

// NewPostgres returns a reader of the audit table named by
// [WithPostgresTable] in the database of pool. Reading needs SELECT on the
// table only (pgschema.Options.ReaderRole). It never closes pool.
func NewPostgres(pool *pgxpool.Pool, opts ...Option) (*Postgres, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOptions)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Postgres{pool: pool, table: pgx.Identifier{c.schema, c.table}.Sanitize(), name: c.schema + "." + c.table}, nil
}

// Search returns one page of the events that match f, in page.Order of
// (time, event id). A cursor from either store continues the search.
func (p *Postgres) Search(ctx context.Context, f Filter, page Page) (Result, error) {
	f, err := f.normalized()
	if err != nil {
		return Result{}, err
	}
	args := pgx.NamedArgs(filterArgs(f))
	addTimeArgs(args, f)
	if page.After != "" {
		pos, err := parsePosition(page.After)
		if err != nil {
			return Result{}, err
		}
		args["after_time"], args["after_id"] = pos.time(), pos.id
	}
	limit := page.limit()
	args["limit"] = limit
	q, err := render(pgTemplates, "search", newTmplData(p.table, f, page.After != "", page.Order))
	if err != nil {
		return Result{}, err
	}
	rows, err := p.pool.Query(ctx, q, customPlan, args)
	if err != nil {
		return Result{}, p.wrap("search", err)
	}
	var out []Record
	err = scanPostgres(rows, false, func(r Record, _ uint64) {
		r.cursor = position{micros: r.Time.UnixMicro(), id: r.ID}.String()
		out = append(out, r)
	})
	if err != nil {
		return Result{}, p.wrap("search", err)
	}
	return pageResult(out, limit), nil
}

func addTimeArgs(args map[string]any, f Filter) {
	if !f.Since.IsZero() {
		args["since"] = f.Since
	}
	if !f.Until.IsZero() {
		args["until"] = f.Until
	}
}

func pageResult(out []Record, limit int) Result {
	res := Result{Records: out}
	if len(out) == limit && limit > 0 {
		res.Next = out[len(out)-1].cursor
	}
	return res
}

// wrap adds context to an error and marks a missing table or column as
// [ErrNotMigrated].
func (p *Postgres) wrap(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703" || pe.Code == "3F000") {
		return fmt.Errorf("%w: %s %s: %w", ErrNotMigrated, op, p.name, err)
	}
	return fmt.Errorf("trail: %s %s: %w", op, p.name, err)
}

// scanPostgres reads rows of the "columns" shape (preceded by the arrival
// as text when withArrival) and closes them.
func scanPostgres(rows pgx.Rows, withArrival bool, fn func(Record, uint64)) error {
	defer rows.Close()
	var (
		arrival                                            string
		created, ingested                                  time.Time
		id                                                 pgtype.UUID
		action, outcome                                    string
		errType, user, userName, ws, ip, ua, sess, rt, rid pgtype.Text
		trace, span, svc                                   pgtype.Text
		details, prev, next, attrs                         []byte
		sanitized                                          []string
	)
	dst := []any{&created, &id, &action, &outcome, &errType, &user, &userName, &ws,
		&ip, &ua, &sess, &rt, &rid, &details, &prev, &next, &attrs, &trace, &span, &svc,
		&sanitized, &ingested}
	if withArrival {
		dst = append([]any{&arrival}, dst...)
	}
	for rows.Next() {
		details, prev, next, attrs, sanitized = nil, nil, nil, nil, nil
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		r := Record{
			Event: otelaudit.Event{
				ID:       uuid.UUID(id.Bytes),
				Time:     created.UTC(),
				Action:   otelaudit.Action(action),
				Actor:    otelaudit.Actor{UserID: user.String, WorkspaceID: ws.String, Name: userName.String},
				Client:   otelaudit.Client{IP: ip.String, UserAgent: ua.String, SessionID: sess.String},
				Resource: otelaudit.Resource{Type: rt.String, ID: rid.String},
				Outcome:  otelaudit.Outcome{Failed: outcome == otelaudit.OutcomeFailure, ErrorType: errType.String},
				Details:  decodeJSON(details),
				Previous: decodeJSON(prev),
				New:      decodeJSON(next),
			},
			TraceID: trace.String, SpanID: span.String, ServiceName: svc.String,
			IngestedAt: ingested.UTC(),
		}
		if len(sanitized) > 0 {
			r.Sanitized = append([]string(nil), sanitized...)
		}
		r.Attributes = attributesOf(jsonbAttributes(attrs))
		var a uint64
		if withArrival {
			v, err := strconv.ParseUint(arrival, 10, 64)
			if err != nil {
				return fmt.Errorf("arrival %q: %w", arrival, err)
			}
			a = v
		}
		fn(r, a)
	}
	return rows.Err()
}

// maxPosition is after every (time, event id) the table can hold.
var maxPosition = position{micros: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(), id: uuid.Max}

// TailStart returns a tail cursor at the present: [Postgres.Follow] with
// it delivers every row of the transactions that had not ended when it was
// taken, and of later ones, and no row of a transaction that had ended.
// The cursor starts below the oldest transaction still running on the
// server (the snapshot's xmin) and lists the ranges of transaction ids
// above it that had ended, whose rows it skips; the list is bounded by the
// number of transactions running at once, and is dropped from the
// cursors as Follow passes it.
func (p *Postgres) TailStart(ctx context.Context) (string, error) {
	q, err := render(pgTemplates, "start", tmplData{})
	if err != nil {
		return "", err
	}
	var lo, hi string
	var running []string
	if err := p.pool.QueryRow(ctx, q).Scan(&lo, &hi, &running); err != nil {
		return "", p.wrap("tail start", err)
	}
	xmin, err1 := strconv.ParseUint(lo, 10, 64)
	xmax, err2 := strconv.ParseUint(hi, 10, 64)
	if err1 != nil || err2 != nil || xmin == 0 || xmax < xmin {
		return "", fmt.Errorf("trail: tail start: snapshot %s:%s", lo, hi)
	}
	// The transactions in [xmin, xmax) that are not running have ended:
	// their rows are before the start.
	start := tailPosition{arrival: xmin - 1, position: maxPosition}
	next := xmin
	for _, r := range running {
		x, err := strconv.ParseUint(r, 10, 64)
		if err != nil {
			return "", fmt.Errorf("trail: tail start: running transaction %q", r)
		}
		if x > next {
			start.skip = append(start.skip, xidRange{next, x - 1})
		}
		next = x + 1
	}
	if xmax > next {
		start.skip = append(start.skip, xidRange{next, xmax - 1})
	}
	return start.String(), nil
}

// Follow returns, in arrival order, up to limit (DefaultLimit when 0) rows
// that match f and come after the tail cursor after ("" for the oldest row
// that has an arrival), and the cursor to pass next time. Each row is
// delivered once across calls, whatever order the writing transactions
// commit in, as long as the caller passes back the cursor it got: a row
// becomes visible to Follow only once no transaction that started before
// its own is still running (the snapshot's xmin), so no row can appear
// later behind the cursor. A long transaction anywhere on the server
// therefore delays what Follow sees, never loses it. Rows written before
// migration 0005 have no arrival and are never followed.
//
// The cursor is a plain string: keep it (in a file, a table) to go on
// after a restart or a lost connection.
func (p *Postgres) Follow(ctx context.Context, f Filter, after string, limit int) ([]Record, string, error) {
	f, err := f.normalized()
	if err != nil {
		return nil, after, err
	}
	cur := tailPosition{}
	if after != "" {
		if cur, err = parseTailPosition(after); err != nil {
			return nil, after, err
		}
	}
	limit = Page{Limit: limit}.limit()
	horizonSQL, err := render(pgTemplates, "horizon", tmplData{})
	if err != nil {
		return nil, after, err
	}
	q, err := render(pgTemplates, "follow", newTmplData(p.table, f, true, OldestFirst))
	if err != nil {
		return nil, after, err
	}
	var out []Record
	next := cur
	next.skip = append([]xidRange(nil), cur.skip...)
	err = pgx.BeginTxFunc(ctx, p.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var h string
		if err := tx.QueryRow(ctx, horizonSQL).Scan(&h); err != nil {
			return err
		}
		horizon, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			return fmt.Errorf("snapshot xmin %q: %w", h, err)
		}
		args := pgx.NamedArgs(filterArgs(f))
		addTimeArgs(args, f)
		args["horizon"] = h
		args["after_arrival"] = strconv.FormatUint(cur.arrival, 10)
		args["after_time"], args["after_id"] = cur.time(), cur.id
		args["limit"] = limit
		rows, err := tx.Query(ctx, q, customPlan, args)
		if err != nil {
			return err
		}
		scanned := 0
		if err := scanPostgres(rows, true, func(r Record, a uint64) {
			scanned++
			next.arrival, next.position = a, position{micros: r.Time.UnixMicro(), id: r.ID}
			next.prune()
			if cur.skipped(a) {
				return // ended before the tail's start
			}
			r.cursor = next.String()
			out = append(out, r)
		}); err != nil {
			return err
		}
		if scanned < limit && horizon > 0 {
			// Every row below the horizon was looked at: skip past the
			// ones the filter left out, so they are not read again.
			if done := horizon - 1; done > next.arrival || done == next.arrival && next.position != maxPosition {
				next.arrival, next.position = done, maxPosition
				next.prune()
			}
		}
		return nil
	})
	if err != nil {
		return nil, after, p.wrap("follow", err)
	}
	return out, next.String(), nil
}

// DefaultPollInterval is how often [Postgres.Tail] polls when it found
// nothing new.
const DefaultPollInterval = time.Second

// Tail calls fn with every new row that matches f, in arrival order, from
// the tail cursor after ("" for now: [Postgres.TailStart]) until ctx ends
// or fn returns an error. It polls every interval (DefaultPollInterval
// when 0) while there is nothing new. fn gets each record with its
// cursor ([Record.Cursor]); to resume after a restart, pass the cursor of
// the last record fn handled. Tail returns ctx's error, or fn's.
func (p *Postgres) Tail(ctx context.Context, f Filter, after string, interval time.Duration, fn func(Record) error) error {
	return tail(ctx, p, f, after, interval, fn)
}

// follower is what tail polls.
type follower interface {
	TailStart(ctx context.Context) (string, error)
	Follow(ctx context.Context, f Filter, after string, limit int) ([]Record, string, error)
}

func tail(ctx context.Context, fl follower, f Filter, after string, interval time.Duration, fn func(Record) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidOptions)
	}
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if after == "" {
		var err error
		if after, err = fl.TailStart(ctx); err != nil {
			return err
		}
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		recs, next, err := fl.Follow(ctx, f, after, 0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		after = next
		wait := interval
		if len(recs) == DefaultLimit {
			wait = 0
		}
		t.Reset(wait)
	}
}
