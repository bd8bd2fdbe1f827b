package seal

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// Source reads the audit rows of a time range from one store. The package
// has one for each store: [PostgresSource] and [ClickHouseSource].
type Source interface {
	// Name names the store in findings ("postgres", "clickhouse").
	Name() string
	// Rows calls fn with every row whose time is in [from, to), in any
	// order, and stops at the first error fn returns. fn may keep the row.
	Rows(ctx context.Context, from, to time.Time, fn func(*Row) error) error
}

// PostgresSource reads the Postgres audit table of schema/pgschema.
type PostgresSource struct {
	pool *pgxpool.Pool
	st   *statements
	name string
}

var _ Source = (*PostgresSource)(nil)

// NewPostgresSource returns a source over the audit table named by
// [WithSchema] and [WithAuditTable] in the database of pool. It never
// closes pool.
func NewPostgresSource(pool *pgxpool.Pool, opts ...Option) (*PostgresSource, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOptions)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	st, err := newStatements(c)
	if err != nil {
		return nil, err
	}
	return &PostgresSource{pool: pool, st: st, name: "postgres"}, nil
}

// Name returns "postgres".
func (s *PostgresSource) Name() string { return s.name }

// Rows implements [Source].
func (s *PostgresSource) Rows(ctx context.Context, from, to time.Time, fn func(*Row) error) error {
	rows, err := s.pool.Query(ctx, s.st.rows, from, to)
	if err != nil {
		return fmt.Errorf("seal: read postgres rows [%v, %v): %w", from, to, err)
	}
	if err := scanPostgresRows(rows, fn); err != nil {
		return fmt.Errorf("seal: read postgres rows [%v, %v): %w", from, to, err)
	}
	return nil
}

// scanPostgresRows reads rows of the "rows" query shape and closes them.
func scanPostgresRows(rows pgx.Rows, fn func(*Row) error) error {
	defer rows.Close()
	var (
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
	for rows.Next() {
		details, prev, next, attrs, sanitized = nil, nil, nil, nil, nil
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		r := &Row{
			Time:         created.UTC(),
			EventID:      uuid.UUID(id.Bytes),
			Action:       action,
			Outcome:      outcome,
			ErrorType:    errType.String,
			WorkspaceID:  ws.String,
			ResourceType: rt.String,
			ResourceID:   rid.String,
			Details:      details,
			Previous:     prev,
			New:          next,
			TraceID:      trace.String,
			SpanID:       span.String,
			ServiceName:  svc.String,
			Sanitized:    sanitized,
			Personal: Personal{
				UserID: user.String, UserName: userName.String, ClientIP: ip.String,
				UserAgent: ua.String, SessionID: sess.String,
			},
			IngestedAt: ingested.UTC(),
		}
		r.Attributes = jsonbAttributes(attrs)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// jsonbAttributes turns the attributes object (values typed) into string
// forms: a JSON string as its text, any other value as its JSON text. An
// attributes value that is not an object is kept whole under the empty key.
func jsonbAttributes(js []byte) []Attr {
	if js == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return []Attr{{Key: "", Value: string(js)}}
	}
	out := make([]Attr, 0, len(m))
	for k, raw := range m {
		v := string(raw)
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v = s
			}
		}
		out = append(out, Attr{Key: k, Value: v})
	}
	return out
}

// ClickHouseSource reads the ClickHouse audit table of schema/chschema,
// in either layout.
type ClickHouseSource struct {
	conn   driver.Conn
	opts   chschema.Options
	target string
}

var _ Source = (*ClickHouseSource)(nil)

// NewClickHouseSource returns a source over the audit table named by opts
// (database and table, as given to chschema.Migrate). It never closes
// conn.
func NewClickHouseSource(conn driver.Conn, opts chschema.Options) (*ClickHouseSource, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrInvalidOptions)
	}
	target, err := chschema.InsertTarget(opts)
	if err != nil {
		return nil, err
	}
	return &ClickHouseSource{conn: conn, opts: opts, target: target}, nil
}

// Name returns "clickhouse".
func (s *ClickHouseSource) Name() string { return "clickhouse" }

// Rows implements [Source]. It reads every copy of a row: copies that the
// ReplacingMergeTree has not merged yet are all compared with the seal.
func (s *ClickHouseSource) Rows(ctx context.Context, from, to time.Time, fn func(*Row) error) error {
	layout, err := chschema.TableLayout(ctx, s.conn, s.opts)
	if err != nil {
		return err
	}
	timeCols, attrCols := "time, time_ns", "attr_keys, attr_values"
	if layout == chschema.LayoutModern {
		timeCols, attrCols = "time, toUInt32(0)", "mapKeys(attributes), mapValues(attributes)"
	}
	q := "SELECT event_id, " + timeCols + ", action, workspace_id, user_id, user_name, client_ip, user_agent," +
		" session_id, resource_type, resource_id, toString(outcome), error_type, details, previous_value, new_value, " +
		attrCols + ", trace_id, span_id, service_name, sanitized FROM " + s.target
	// Exact on the modern layout; whole seconds on the compat layout,
	// filtered below.
	bounds, args := chschema.TimeRange(layout, from, to)
	rows, err := s.conn.Query(ctx, q+" WHERE "+bounds, args...)
	if err != nil {
		return fmt.Errorf("seal: read clickhouse rows [%v, %v): %w", from, to, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                       Row
			t                       time.Time
			ns                      uint32
			details, prev, next     string
			keys, values, sanitized []string
		)
		if err := rows.Scan(&r.EventID, &t, &ns, &r.Action, &r.WorkspaceID, &r.Personal.UserID, &r.Personal.UserName,
			&r.Personal.ClientIP, &r.Personal.UserAgent, &r.Personal.SessionID, &r.ResourceType, &r.ResourceID,
			&r.Outcome, &r.ErrorType, &details, &prev, &next, &keys, &values, &r.TraceID, &r.SpanID,
			&r.ServiceName, &sanitized); err != nil {
			return fmt.Errorf("seal: read clickhouse rows [%v, %v): %w", from, to, err)
		}
		r.Time = t.Add(time.Duration(ns)).UTC()
		if r.Time.Before(from) || !r.Time.Before(to) {
			continue
		}
		r.Details, r.Previous, r.New = jsonText(details), jsonText(prev), jsonText(next)
		if len(keys) > 0 {
			r.Attributes = make([]Attr, 0, len(keys))
			for i, k := range keys {
				v := ""
				if i < len(values) {
					v = values[i]
				}
				r.Attributes = append(r.Attributes, Attr{Key: k, Value: v})
			}
		}
		if len(sanitized) > 0 {
			r.Sanitized = sanitized
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seal: read clickhouse rows [%v, %v): %w", from, to, err)
	}
	return nil
}

// jsonText maps ClickHouse's "" (absent) to nil.
func jsonText(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
