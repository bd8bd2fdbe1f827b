package clickhouselog

import (
	"time"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	chschema "github.com/otelaudit/otelaudit/schema/clickhouse"
)

// ChangeTimeOutOfRange marks, as "time:out_of_range" in the sanitized
// column, an event time outside what the time column can hold (compat
// DateTime: 1970-01-01 to 2105-12-31; modern DateTime64(9): 1900-01-01 to
// 2262-04-11), clamped to the nearest end.
const ChangeTimeOutOfRange = "out_of_range"

var (
	compatMinTime = time.Unix(0, 0).UTC()
	compatMaxTime = time.Date(2105, 12, 31, 23, 59, 59, 999999999, time.UTC)
	modernMinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	modernMaxTime = time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC)
)

// outcome values of the Enum8 column.
const (
	enumSuccess int8 = 1
	enumFailure int8 = 2
)

// row is one mapped record, copied out of the Mapper's buffers: it stays
// valid for the whole Export, through retries and bisection.
type row struct {
	id                                uuid.UUID
	time                              time.Time
	action, workspace, user, userName string
	ip, userAgent, session            string
	resourceType, resourceID          string
	outcome                           int8
	errorType                         string
	details, previous, next           string
	attrKeys, attrValues              []string
	traceID, spanID, service          string
	sanitized                         []string
}

// newRow copies r, clamping its time to the layout's range.
func newRow(r *auditrow.Row, l chschema.Layout) row {
	out := row{
		id: r.EventID, time: r.Time.UTC(),
		action: r.Action, workspace: r.WorkspaceID, user: r.UserID, userName: r.UserName,
		userAgent: r.UserAgent, session: r.SessionID,
		resourceType: r.ResourceType, resourceID: r.ResourceID,
		outcome: enumSuccess, errorType: r.ErrorType,
		details: string(r.Details), previous: string(r.Previous), next: string(r.New),
		service: r.ServiceName,
	}
	if r.ClientIP.IsValid() {
		out.ip = r.ClientIP.String()
	}
	if r.Outcome == "failure" {
		out.outcome = enumFailure
	}
	if r.TraceID.IsValid() {
		out.traceID = r.TraceID.String()
	}
	if r.SpanID.IsValid() {
		out.spanID = r.SpanID.String()
	}
	if n := len(r.Attrs); n > 0 {
		out.attrKeys = make([]string, n)
		out.attrValues = make([]string, n)
		for i, a := range r.Attrs {
			out.attrKeys[i], out.attrValues[i] = a.Key, a.Value
		}
	}
	lo, hi := compatMinTime, compatMaxTime
	if l == chschema.LayoutModern {
		lo, hi = modernMinTime, modernMaxTime
	}
	sanitized := r.Sanitized
	switch {
	case out.time.Before(lo):
		out.time = lo
		sanitized = append(sanitized, "time:"+ChangeTimeOutOfRange)
	case out.time.After(hi):
		out.time = hi
		sanitized = append(sanitized, "time:"+ChangeTimeOutOfRange)
	}
	if len(sanitized) > 0 {
		out.sanitized = append([]string(nil), sanitized...)
	}
	return out
}

// columns holds one slice per table column; they are reused between sends.
type columns struct {
	ids                                                    []uuid.UUID
	times                                                  []time.Time
	nanos                                                  []uint32
	actions, workspaces, users, userNames, ips, userAgents []string
	sessions, resourceTypes, resourceIDs                   []string
	outcomes                                               []int8
	errorTypes, details, previous, next                    []string
	attrKeys, attrValues                                   [][]string
	attrMaps                                               []map[string]string
	traceIDs, spanIDs, services                            []string
	sanitized                                              [][]string
}

// fill rebuilds the columns from rows.
func (c *columns) fill(rows []row, l chschema.Layout) {
	*c = columns{
		ids: c.ids[:0], times: c.times[:0], nanos: c.nanos[:0],
		actions: c.actions[:0], workspaces: c.workspaces[:0], users: c.users[:0], userNames: c.userNames[:0],
		ips: c.ips[:0], userAgents: c.userAgents[:0], sessions: c.sessions[:0],
		resourceTypes: c.resourceTypes[:0], resourceIDs: c.resourceIDs[:0],
		outcomes: c.outcomes[:0], errorTypes: c.errorTypes[:0],
		details: c.details[:0], previous: c.previous[:0], next: c.next[:0],
		attrKeys: c.attrKeys[:0], attrValues: c.attrValues[:0], attrMaps: c.attrMaps[:0],
		traceIDs: c.traceIDs[:0], spanIDs: c.spanIDs[:0], services: c.services[:0],
		sanitized: c.sanitized[:0],
	}
	modern := l == chschema.LayoutModern
	for i := range rows {
		r := &rows[i]
		c.ids = append(c.ids, r.id)
		c.times = append(c.times, r.time)
		c.actions = append(c.actions, r.action)
		c.workspaces = append(c.workspaces, r.workspace)
		c.users = append(c.users, r.user)
		c.userNames = append(c.userNames, r.userName)
		c.ips = append(c.ips, r.ip)
		c.userAgents = append(c.userAgents, r.userAgent)
		c.sessions = append(c.sessions, r.session)
		c.resourceTypes = append(c.resourceTypes, r.resourceType)
		c.resourceIDs = append(c.resourceIDs, r.resourceID)
		c.outcomes = append(c.outcomes, r.outcome)
		c.errorTypes = append(c.errorTypes, r.errorType)
		c.details = append(c.details, r.details)
		c.previous = append(c.previous, r.previous)
		c.next = append(c.next, r.next)
		c.traceIDs = append(c.traceIDs, r.traceID)
		c.spanIDs = append(c.spanIDs, r.spanID)
		c.services = append(c.services, r.service)
		c.sanitized = append(c.sanitized, nonNil(r.sanitized))
		if modern {
			m := make(map[string]string, len(r.attrKeys))
			for j, k := range r.attrKeys {
				m[k] = r.attrValues[j] // a key given twice keeps its last value
			}
			c.attrMaps = append(c.attrMaps, m)
		} else {
			c.nanos = append(c.nanos, uint32(r.time.Nanosecond()))
			c.attrKeys = append(c.attrKeys, nonNil(r.attrKeys))
			c.attrValues = append(c.attrValues, nonNil(r.attrValues))
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return emptyStrings
	}
	return s
}

// values returns the column slices in the order of chschema.Columns(l).
func (c *columns) values(l chschema.Layout) []any {
	if l == chschema.LayoutModern {
		return []any{
			c.ids, c.times, c.actions, c.workspaces, c.users, c.userNames,
			c.ips, c.userAgents, c.sessions, c.resourceTypes, c.resourceIDs,
			c.outcomes, c.errorTypes, c.details, c.previous, c.next,
			c.attrMaps, c.traceIDs, c.spanIDs, c.services, c.sanitized,
		}
	}
	return []any{
		c.ids, c.times, c.nanos, c.actions, c.workspaces, c.users, c.userNames,
		c.ips, c.userAgents, c.sessions, c.resourceTypes, c.resourceIDs,
		c.outcomes, c.errorTypes, c.details, c.previous, c.next,
		c.attrKeys, c.attrValues, c.traceIDs, c.spanIDs, c.services, c.sanitized,
	}
}

// emptyStrings stands for an empty array; the driver only reads it.
var emptyStrings = []string{}
