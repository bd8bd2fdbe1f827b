package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// chEvent is one event of the ClickHouse insert benchmarks: the caller's
// data, generated before the clock starts. Its strings come from small
// pools, as in a real service (many events per user, workspace, agent).
type chEvent struct {
	action                     otelaudit.Action
	workspace, user, ip, agent string
	resourceType, resourceID   string
	failed                     bool
	details, previous, next    attribute.Value
}

var (
	chActions = []otelaudit.Action{
		otelaudit.ActionLogin, otelaudit.ActionLogin, otelaudit.ActionLogin, otelaudit.ActionLogin,
		otelaudit.ActionLogout, otelaudit.ActionLogout, otelaudit.ActionSettingsChanged,
		otelaudit.ActionAdminAction, otelaudit.ActionDataExportRequested, otelaudit.ActionOAuthConnected,
	}
	chAgents = []string{
		fixture.userAgent,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"curl/8.5.0",
		"okhttp/4.12.0",
	}
)

// chPools are the strings events are made of.
type chPools struct {
	workspaces, users, ips []string
}

func newChPools() *chPools {
	p := &chPools{workspaces: numbered("ws_", 200), users: numbered("usr_", 5000), ips: make([]string, 10000)}
	for i := range p.ips {
		p.ips[i] = fmt.Sprintf("203.0.%d.%d", i/256%256, i%256)
	}
	return p
}

// at returns event i, a function of i alone. The benchmarks make each
// event when they need it rather than holding a million of them, so that
// the garbage collector does not scan the benchmark's own data.
func (p *chPools) at(i int) chEvent {
	h := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(i)>>7
	e := chEvent{
		action:    chActions[h%uint64(len(chActions))],
		workspace: p.workspaces[h>>8%uint64(len(p.workspaces))],
		user:      p.users[h>>16%uint64(len(p.users))],
		ip:        p.ips[h>>24%uint64(len(p.ips))],
		agent:     chAgents[h>>40%uint64(len(chAgents))],
	}
	switch e.action {
	case otelaudit.ActionLogin:
		e.failed = h>>48%20 == 0
	case otelaudit.ActionSettingsChanged:
		e.resourceType, e.resourceID = fixture.resType, fixture.resID
		e.details, e.previous, e.next = fixture.details, fixture.previous, fixture.next
	case otelaudit.ActionAdminAction:
		e.resourceType, e.resourceID = "user", e.user
		e.details = fixture.details
	case otelaudit.ActionDataExportRequested:
		e.resourceType, e.resourceID = "data_export", "exp_"+strconv.Itoa(i)
	case otelaudit.ActionOAuthConnected:
		e.resourceType, e.resourceID = "oauth_provider", "google"
	}
	return e
}

// event returns e as an otelaudit.Event for the bridge.
func (e *chEvent) event() otelaudit.Event {
	ev := otelaudit.Event{
		Action:   e.action,
		Actor:    otelaudit.Actor{UserID: e.user, WorkspaceID: e.workspace},
		Client:   otelaudit.Client{IP: e.ip, UserAgent: e.agent},
		Resource: otelaudit.Resource{Type: e.resourceType, ID: e.resourceID},
		Details:  e.details, Previous: e.previous, New: e.next,
	}
	if e.failed {
		ev.Outcome = otelaudit.Failure("invalid_password")
	}
	return ev
}

// source adapts a chEvent, with an id and a time, to auditrow.Source, so
// that the ceiling's rows come from the same mapping as the exporter's.
type source struct {
	e    *chEvent
	id   string
	time time.Time
}

func (s source) EventName() string            { return s.e.action.EventName() }
func (s source) Timestamp() time.Time         { return s.time }
func (s source) ObservedTimestamp() time.Time { return s.time }
func (s source) Body() attribute.Value        { return attribute.Value{} }
func (s source) TraceID() trace.TraceID       { return trace.TraceID{} }
func (s source) SpanID() trace.SpanID         { return trace.SpanID{} }
func (s source) WalkAttributes(f func(attribute.KeyValue) bool) {
	e := s.e
	kvs := []attribute.KeyValue{
		attribute.String(otelaudit.KeyEventID, s.id),
		attribute.String(otelaudit.KeyUserID, e.user),
		attribute.String(otelaudit.KeyWorkspaceID, e.workspace),
		attribute.String(otelaudit.KeyClientAddress, e.ip),
		attribute.String(otelaudit.KeyUserAgent, e.agent),
	}
	if e.resourceType != "" {
		kvs = append(kvs, attribute.String(otelaudit.KeyResourceType, e.resourceType), attribute.String(otelaudit.KeyResourceID, e.resourceID))
	}
	outcome := otelaudit.OutcomeSuccess
	if e.failed {
		outcome = otelaudit.OutcomeFailure
		kvs = append(kvs, attribute.String(otelaudit.KeyErrorType, "invalid_password"))
	}
	kvs = append(kvs, attribute.String(otelaudit.KeyOutcome, outcome))
	for _, kv := range []attribute.KeyValue{{Key: otelaudit.KeyDetails, Value: e.details}, {Key: otelaudit.KeyPrevious, Value: e.previous}, {Key: otelaudit.KeyNew, Value: e.next}} {
		if kv.Value.Type() != attribute.EMPTY {
			kvs = append(kvs, kv)
		}
	}
	for _, kv := range kvs {
		if !f(kv) {
			return
		}
	}
}

// compatTSVColumns are the columns writeTSV writes, those of the compat
// layout (chschema.Columns(LayoutCompat)).
const compatTSVColumns = "event_id, time, time_ns, action, workspace_id, user_id, user_name, client_ip, user_agent, session_id, " +
	"resource_type, resource_id, outcome, error_type, details, previous_value, new_value, attr_keys, attr_values, " +
	"trace_id, span_id, service_name, sanitized"

// writeTSV writes the rows the exporter would write for events 0 to n-1,
// mapped by auditrow, with fresh UUIDv7 ids, as TabSeparated for the
// compat layout's columns.
func writeTSV(w io.Writer, p *chPools, n int, at time.Time, service string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	m := auditrow.NewMapper(auditrow.Options{})
	var line []byte
	for i := range n {
		e := p.at(i)
		r, err := m.Map(source{e: &e, id: uuid.Must(uuid.NewV7()).String(), time: at.Add(time.Duration(i))}, service)
		if err != nil {
			return err
		}
		ip := ""
		if r.ClientIP.IsValid() {
			ip = r.ClientIP.String()
		}
		line = line[:0]
		for j, f := range []string{
			r.EventID.String(), r.Time.UTC().Format("2006-01-02 15:04:05"), strconv.Itoa(r.Time.Nanosecond()),
			r.Action, r.WorkspaceID, r.UserID, r.UserName, ip, r.UserAgent, r.SessionID,
			r.ResourceType, r.ResourceID, r.Outcome, r.ErrorType,
			string(r.Details), string(r.Previous), string(r.New),
		} {
			if j > 0 {
				line = append(line, '\t')
			}
			line = appendTSV(line, f)
		}
		line = append(line, "\t[]\t[]\t\t\t"...) // no other attributes, no trace
		line = appendTSV(line, r.ServiceName)
		line = append(line, "\t[]\n"...)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendTSV appends s escaped for TabSeparated.
func appendTSV(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, "\t\n\\") {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\\':
			dst = append(dst, '\\', '\\')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
