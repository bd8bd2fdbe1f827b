package trail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// ClickHouse reads the ClickHouse audit table of schema/chschema, in
// either layout.
type ClickHouse struct {
	conn   driver.Conn
	opts   chschema.Options
	target string
	lag    time.Duration
}

// NewClickHouse returns a reader of the audit table named by
// [WithClickHouseSchema]. Reading needs SELECT on the table only (a
// readonly user: chschema.ReaderUsersXML, chschema.ReaderGrants). It never
// closes conn.
func NewClickHouse(conn driver.Conn, opts ...Option) (*ClickHouse, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrInvalidOptions)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	target, err := chschema.InsertTarget(c.ch)
	if err != nil {
		return nil, err
	}
	return &ClickHouse{conn: conn, opts: c.ch, target: target, lag: c.lag}, nil
}

// Search returns one page of the events that match f, in page.Order of
// (time, event id), like [Postgres.Search]: the same filter gives the same
// events. Times are read at microsecond precision (what Postgres keeps),
// so that cursors and answers agree between the stores. Copies of one
// event that the table has not merged yet are returned once: the first
// stored one.
//
// A page is read in two steps. The first finds the page's event ids and
// times from the few narrow columns the filters and the order need; the
// second reads the whole rows of those ids, within the page's time span,
// so that the wide columns (details, values, user agent) are read for
// the page, not for every row that matches. The sort key puts the action
// before the time, so a time bound lets the primary key skip, within
// each action, the granules outside it: newest first, on the compat
// layout, the first step looks at the last day before the cursor (or
// Until, or now) first, then the last week, month, and everything, until
// the page is full. The newer rows are a prefix of the order, so a full
// page from a window is the page.
func (c *ClickHouse) Search(ctx context.Context, f Filter, page Page) (Result, error) {
	f, err := f.normalized()
	if err != nil {
		return Result{}, err
	}
	d, layout, err := c.layoutData(ctx, newTmplData(c.target, f, page.After != "", page.Order))
	if err != nil {
		return Result{}, err
	}
	// Time bounds in seconds (toDateTime) are exact on the compat
	// layout's DateTime column only.
	d.Bounds = layout == chschema.LayoutCompat
	vals := chFilterArgs(f)
	anchor := time.Now()
	if !f.Until.IsZero() {
		anchor = f.Until
	}
	if page.After != "" {
		pos, err := parsePosition(page.After)
		if err != nil {
			return Result{}, err
		}
		vals["after_us"], vals["after_id"] = pos.micros, pos.id.String()
		vals["after_s"] = pos.time().Unix()
		anchor = pos.time()
	}
	limit := page.limit()
	vals["limit"] = limit
	windows := []time.Duration{0} // 0: no window
	if d.Bounds && page.Order == NewestFirst {
		windows = searchWindows
	}
	var ids []any
	var lo, hi int64
	for _, w := range windows {
		from := anchor.Add(-w)
		d.Window = w > 0 && (f.Since.IsZero() || from.After(f.Since))
		vals["window_s"] = from.Unix()
		q, err := render(chTemplates, "page_ids", d)
		if err != nil {
			return Result{}, err
		}
		ids, lo, hi, err = c.pageIDs(ctx, q, vals)
		if err != nil {
			return Result{}, err
		}
		if len(ids) >= limit || !d.Window {
			break
		}
	}
	if len(ids) == 0 {
		return Result{}, nil
	}
	vals["ids"] = clickhouse.GroupSet{Value: ids}
	vals["lo_s"], vals["hi_s"] = time.UnixMicro(lo).Unix(), time.UnixMicro(hi).Unix()
	d.Window = false
	q, err := render(chTemplates, "search", d)
	if err != nil {
		return Result{}, err
	}
	rows, err := c.conn.Query(ctx, q, namedArgs(vals)...)
	if err != nil {
		return Result{}, c.wrap(err)
	}
	var out []Record
	if err := scanClickHouse(rows, false, func(r Record, _ uint64) {
		r.cursor = position{micros: r.Time.UnixMicro(), id: r.ID}.String()
		out = append(out, r)
	}); err != nil {
		return Result{}, c.wrap(err)
	}
	if len(out) != len(ids) {
		return Result{}, fmt.Errorf("trail: search %s: %d of the page's %d events read back (rows dropped meanwhile?)", strings.ReplaceAll(c.target, "`", ""), len(out), len(ids))
	}
	return pageResult(out, limit), nil
}

// searchWindows are the time windows, before the anchor, of a
// newest-first ClickHouse search; the last (0) is unbounded.
var searchWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 31 * 24 * time.Hour, 0}

// pageIDs runs the first step of a search: the page's event ids, and the
// smallest and largest of their times (Unix microseconds).
func (c *ClickHouse) pageIDs(ctx context.Context, q string, vals map[string]any) (ids []any, lo, hi int64, err error) {
	rows, err := c.conn.Query(ctx, q, namedArgs(vals)...)
	if err != nil {
		return nil, 0, 0, c.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var t int64
		if err := rows.Scan(&id, &t); err != nil {
			return nil, 0, 0, c.wrap(err)
		}
		if len(ids) == 0 || t < lo {
			lo = t
		}
		if len(ids) == 0 || t > hi {
			hi = t
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, c.wrap(err)
	}
	return ids, lo, hi, nil
}

// chFilterArgs returns the query parameters of f: its filters, and its
// time bounds in seconds and in microseconds.
func chFilterArgs(f Filter) map[string]any {
	vals := filterArgs(f)
	if !f.Since.IsZero() {
		vals["since_s"], vals["since_us"] = f.Since.Unix(), f.Since.UnixMicro()
	}
	if !f.Until.IsZero() {
		vals["until_s"], vals["until_us"] = f.Until.Unix(), f.Until.UnixMicro()
	}
	return vals
}

// namedArgs returns vals as the driver's named parameters.
func namedArgs(vals map[string]any) []any {
	args := make([]any, 0, len(vals))
	for k, v := range vals {
		args = append(args, clickhouse.Named(k, v))
	}
	return args
}

// wrap adds context and marks a missing table or database as
// [ErrNotMigrated].
func (c *ClickHouse) wrap(err error) error {
	var ex *proto.Exception
	if errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81) {
		return fmt.Errorf("%w: search %s: %w", ErrNotMigrated, strings.ReplaceAll(c.target, "`", ""), err)
	}
	return fmt.Errorf("trail: search %s: %w", strings.ReplaceAll(c.target, "`", ""), err)
}

// scanClickHouse reads rows of the search shape (preceded by the arrival
// when withArrival) and closes them.
func scanClickHouse(rows driver.Rows, withArrival bool, fn func(Record, uint64)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			arrival                                                                 uint64
			id, action, ws, user, userName, ip, ua, sess, rt, rid, outcome, errType string
			details, prev, next, trace, span, svc                                   string
			micros                                                                  uint64
			keys, values, sanitized                                                 []string
		)
		dst := []any{&id, &micros, &action, &ws, &user, &userName, &ip, &ua, &sess, &rt, &rid, &outcome,
			&errType, &details, &prev, &next, &keys, &values, &trace, &span, &svc, &sanitized}
		if withArrival {
			dst = append([]any{&arrival}, dst...)
		}
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return fmt.Errorf("event id %q: %w", id, err)
		}
		r := Record{
			Event: otelaudit.Event{
				ID:       u,
				Time:     time.UnixMicro(int64(micros)).UTC(),
				Action:   otelaudit.Action(action),
				Actor:    otelaudit.Actor{UserID: user, WorkspaceID: ws, Name: userName},
				Client:   otelaudit.Client{IP: ip, UserAgent: ua, SessionID: sess},
				Resource: otelaudit.Resource{Type: rt, ID: rid},
				Outcome:  otelaudit.Outcome{Failed: outcome == otelaudit.OutcomeFailure, ErrorType: errType},
				Details:  decodeJSON([]byte(details)),
				Previous: decodeJSON([]byte(prev)),
				New:      decodeJSON([]byte(next)),
			},
			TraceID: trace, SpanID: span, ServiceName: svc,
		}
		r.Attributes = attributesOf(keys, values)
		if len(sanitized) > 0 {
			r.Sanitized = sanitized
		}
		fn(r, arrival)
	}
	return rows.Err()
}

// layoutData fills the layout-dependent expressions of the templates.
func (c *ClickHouse) layoutData(ctx context.Context, d tmplData) (tmplData, chschema.Layout, error) {
	layout, err := chschema.TableLayout(ctx, c.conn, c.opts)
	if err != nil {
		return d, layout, fmt.Errorf("%w: %w", ErrNotMigrated, err)
	}
	d.Micros, d.Attrs = "toUInt64(time) * 1000000 + intDiv(time_ns, 1000)", "attr_keys, attr_values"
	d.Arrival, d.Now = "toUInt64(4294967295 - ingest_version)", "toUInt32(now())"
	if layout == chschema.LayoutModern {
		d.Micros, d.Attrs = "toUInt64(toUnixTimestamp64Micro(time))", "mapKeys(attributes), mapValues(attributes)"
		d.Arrival, d.Now = "toUInt64(4102444800000000000 - ingest_version)", "toUnixTimestamp64Nano(now64(9))"
	}
	return d, layout, nil
}

// arrivalUnit is the unit of the arrival of a layout: seconds (compat),
// nanoseconds (modern).
func arrivalUnit(l chschema.Layout) time.Duration {
	if l == chschema.LayoutModern {
		return time.Nanosecond
	}
	return time.Second
}

// TailStart returns a tail cursor at the present (less the follow lag):
// [ClickHouse.Follow] with it delivers the rows inserted from then on.
func (c *ClickHouse) TailStart(ctx context.Context) (string, error) {
	d, layout, err := c.layoutData(ctx, tmplData{})
	if err != nil {
		return "", err
	}
	h, err := c.horizon(ctx, d, layout)
	if err != nil {
		return "", err
	}
	return "c" + tailPosition{arrival: h - 1, position: maxPosition}.String()[1:], nil
}

func (c *ClickHouse) horizon(ctx context.Context, d tmplData, layout chschema.Layout) (uint64, error) {
	q, err := render(chTemplates, "horizon", d)
	if err != nil {
		return 0, err
	}
	var now uint64
	if err := c.conn.QueryRow(ctx, q).Scan(&now); err != nil {
		return 0, c.wrap(err)
	}
	lag := uint64(c.lag / arrivalUnit(layout))
	if now <= lag+1 {
		return 0, fmt.Errorf("trail: server time %d is before the follow lag", now)
	}
	return now - lag, nil
}

// Follow returns, in arrival order, up to limit (DefaultLimit when 0) rows
// that match f and come after the tail cursor after ("" for the oldest
// row), and the cursor to pass next time, like [Postgres.Follow].
//
// ClickHouse keeps no transaction ids: the arrival is the insert's start
// by the server's clock, from ingest_version (seconds in the compat
// layout, nanoseconds in the modern one). A row is delivered once it
// arrived more than the follow lag ago ([WithFollowLag], default
// [DefaultFollowLag]), so each row is delivered once provided that no
// insert takes longer than the lag from its start to its end; a longer
// one's rows are missed. Every poll reads the table without an index on
// the arrival (ClickHouse has none), partition by partition. Copies of an
// event re-sent later are delivered again, each as it arrived. For a
// follower that must not miss a row, follow Postgres.
func (c *ClickHouse) Follow(ctx context.Context, f Filter, after string, limit int) ([]Record, string, error) {
	f, err := f.normalized()
	if err != nil {
		return nil, after, err
	}
	cur := tailPosition{}
	if after != "" {
		rest, ok := strings.CutPrefix(after, "c")
		if !ok {
			return nil, after, fmt.Errorf("%w: %q is not a ClickHouse tail cursor", ErrInvalidCursor, after)
		}
		if cur, err = parseTailPosition("t" + rest); err != nil {
			return nil, after, err
		}
	}
	limit = Page{Limit: limit}.limit()
	d, layout, err := c.layoutData(ctx, newTmplData(c.target, f, true, OldestFirst))
	if err != nil {
		return nil, after, err
	}
	horizon, err := c.horizon(ctx, d, layout)
	if err != nil {
		return nil, after, err
	}
	q, err := render(chTemplates, "follow", d)
	if err != nil {
		return nil, after, err
	}
	vals := chFilterArgs(f)
	vals["horizon"], vals["after_arrival"] = horizon, cur.arrival
	vals["after_us"], vals["after_id"] = cur.micros, cur.id.String()
	vals["limit"] = limit
	rows, err := c.conn.Query(ctx, q, namedArgs(vals)...)
	if err != nil {
		return nil, after, c.wrap(err)
	}
	var out []Record
	next := cur
	if err := scanClickHouse(rows, true, func(r Record, a uint64) {
		next = tailPosition{arrival: a, position: position{micros: r.Time.UnixMicro(), id: r.ID}}
		r.cursor = "c" + next.String()[1:]
		out = append(out, r)
	}); err != nil {
		return nil, after, c.wrap(err)
	}
	if len(out) < limit {
		if done := (tailPosition{arrival: horizon - 1, position: maxPosition}); done.arrival > next.arrival ||
			done.arrival == next.arrival && next.position != maxPosition {
			next = done
		}
	}
	return out, "c" + next.String()[1:], nil
}

// Tail calls fn with every new row that matches f, in arrival order, as
// [Postgres.Tail] does, through [ClickHouse.Follow] and its lag.
func (c *ClickHouse) Tail(ctx context.Context, f Filter, after string, interval time.Duration, fn func(Record) error) error {
	return tail(ctx, c, f, after, interval, fn)
}
