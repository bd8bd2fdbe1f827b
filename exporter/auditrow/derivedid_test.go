package auditrow_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// TestDerivedIDDependsOnEveryMappedField: a record without an event id
// gets a UUIDv5 of its mapped content. Two records that differ in any one
// mapped field, details and attributes outside the contract included, are
// two events and get two ids; the same record always gets the same id.
func TestDerivedIDDependsOnEveryMappedField(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	base := func(extra ...attribute.KeyValue) *fakeSource {
		attrs := []attribute.KeyValue{
			attribute.String(otelaudit.KeyUserID, "u_1"),
			attribute.String(otelaudit.KeyWorkspaceID, "ws_1"),
			attribute.String(otelaudit.KeyResourceType, "document"),
			attribute.String(otelaudit.KeyResourceID, "doc_1"),
			attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("reason", "cleanup"))},
			attribute.KeyValue{Key: otelaudit.KeyPrevious, Value: attribute.MapValue(attribute.Int("size", 1))},
			attribute.KeyValue{Key: otelaudit.KeyNew, Value: attribute.MapValue(attribute.Int("size", 2))},
			attribute.String("http.route", "/documents/{id}"),
			attribute.Int("attempt", 1),
		}
		// A later value of a key replaces the earlier one (the SDK keeps
		// the last, and so does the mapping for contract keys): put the
		// variant in place instead of appending it.
		for _, kv := range extra {
			replaced := false
			for i := range attrs {
				if attrs[i].Key == kv.Key {
					attrs[i], replaced = kv, true
				}
			}
			if !replaced {
				attrs = append(attrs, kv)
			}
		}
		return &fakeSource{name: "audit.data_deletion_completed", ts: at, attrs: attrs}
	}
	variants := map[string]*fakeSource{
		"base":               base(),
		"details":            base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("reason", "request"))}),
		"details type":       base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.StringValue("cleanup")}),
		"previous value":     base(attribute.KeyValue{Key: otelaudit.KeyPrevious, Value: attribute.MapValue(attribute.Int("size", 3))}),
		"new value":          base(attribute.KeyValue{Key: otelaudit.KeyNew, Value: attribute.MapValue(attribute.Int("size", 3))}),
		"other attribute":    base(attribute.String("http.route", "/documents")),
		"other int":          base(attribute.Int("attempt", 2)),
		"one more attribute": base(attribute.String("tenant.region", "eu")),
		"user":               base(attribute.String(otelaudit.KeyUserID, "u_2")),
		"workspace":          base(attribute.String(otelaudit.KeyWorkspaceID, "ws_2")),
		"resource id":        base(attribute.String(otelaudit.KeyResourceID, "doc_2")),
		"session":            base(attribute.String(otelaudit.KeySessionID, "s_1")),
		"client address":     base(attribute.String(otelaudit.KeyClientAddress, "192.0.2.1")),
		"outcome":            base(attribute.String(otelaudit.KeyOutcome, "failure")),
	}
	later := base()
	later.ts = at.Add(time.Nanosecond)
	variants["time, one nanosecond later"] = later
	other := base()
	other.name = "audit.data_deletion_requested"
	variants["action"] = other

	m := auditrow.NewMapper(auditrow.Options{})
	names := map[uuid.UUID]string{}
	for name, src := range variants {
		row, err := m.Map(src, "svc")
		require.NoError(t, err, name)
		require.Equal(t, []string{"log.record.uid:generated_id"}, row.Sanitized, name)
		require.Equal(t, uuid.Version(5), row.EventID.Version(), name)
		require.NotContains(t, names, row.EventID, "%q has the id of %q", name, names[row.EventID])
		names[row.EventID] = name

		again, err := auditrow.NewMapper(auditrow.Options{}).Map(src, "svc")
		require.NoError(t, err)
		require.Equal(t, row.EventID, again.EventID, "%s: stable across retries", name)
	}
}
