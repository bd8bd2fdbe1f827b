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
	return &ClickHouse{conn: conn, opts: c.ch, target: target}, nil
}

// Search returns one page of the events that match f, in page.Order of
// (time, event id), like [Postgres.Search]: the same filter gives the same
// events. Times are read at microsecond precision (what Postgres keeps),
// so that cursors and answers agree between the stores. Copies of one
// event that the table has not merged yet are returned once: the first
// stored one.
func (c *ClickHouse) Search(ctx context.Context, f Filter, page Page) (Result, error) {
	f, err := f.normalized()
	if err != nil {
		return Result{}, err
	}
	layout, err := chschema.TableLayout(ctx, c.conn, c.opts)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrNotMigrated, err)
	}
	d := newTmplData(c.target, f, page.After != "", page.Order)
	d.Micros, d.Attrs = "toUInt64(time) * 1000000 + intDiv(time_ns, 1000)", "attr_keys, attr_values"
	if layout == chschema.LayoutModern {
		d.Micros, d.Attrs = "toUnixTimestamp64Micro(time)", "mapKeys(attributes), mapValues(attributes)"
	}
	q, err := render(chTemplates, "search", d)
	if err != nil {
		return Result{}, err
	}
	vals := filterArgs(f)
	if !f.Since.IsZero() {
		vals["since_s"], vals["since_us"] = f.Since.Unix(), f.Since.UnixMicro()
	}
	if !f.Until.IsZero() {
		vals["until_s"], vals["until_us"] = f.Until.Unix(), f.Until.UnixMicro()
	}
	if page.After != "" {
		pos, err := parsePosition(page.After)
		if err != nil {
			return Result{}, err
		}
		vals["after_us"], vals["after_id"] = pos.micros, pos.id.String()
	}
	limit := page.limit()
	vals["limit"] = limit
	args := make([]any, 0, len(vals))
	for k, v := range vals {
		args = append(args, clickhouse.Named(k, v))
	}
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return Result{}, c.wrap(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			id, action, ws, user, userName, ip, ua, sess, rt, rid, outcome, errType string
			details, prev, next, trace, span, svc                                   string
			micros                                                                  uint64
			keys, values, sanitized                                                 []string
		)
		if err := rows.Scan(&id, &micros, &action, &ws, &user, &userName, &ip, &ua, &sess, &rt, &rid, &outcome,
			&errType, &details, &prev, &next, &keys, &values, &trace, &span, &svc, &sanitized); err != nil {
			return Result{}, c.wrap(err)
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return Result{}, c.wrap(fmt.Errorf("event id %q: %w", id, err))
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
		r.cursor = position{micros: int64(micros), id: u}.String()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return Result{}, c.wrap(err)
	}
	return pageResult(out, limit), nil
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
