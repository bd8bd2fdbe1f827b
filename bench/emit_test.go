package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
)

// TestEmitEquivalent checks that the scenarios of BenchmarkEmit emit
// equivalent records, so that the comparison is honest: bridge and direct
// build the same record (EventName, severity, scope, attribute keys and
// values; the ids differ and are UUIDv7s; the timestamps are the time of the
// call), and otelslog carries the same attributes with the action as its
// body. It checks them with the SDK's key deduplication on and off, and
// that the record is the same either way (the Auditor never emits a key
// twice, so the deduplication finds nothing to remove).
func TestEmitEquivalent(t *testing.T) {
	var direct [2]map[string]string
	for i, dedupOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup_off=%v", dedupOff), func(t *testing.T) {
			direct[i] = emitEquivalent(t, dedupOff)
		})
	}
	if direct[0] == nil || direct[1] == nil {
		return
	}
	if !maps.Equal(direct[0], direct[1]) {
		t.Errorf("direct's attributes with deduplication on\n%v\nand off\n%v", direct[0], direct[1])
	}
}

// emitEquivalent emits one event through every scenario into a provider
// with the key deduplication on or off, checks that the records are
// equivalent, and returns the attributes of direct's record.
func emitEquivalent(t *testing.T, dedupOff bool) map[string]string {
	got := make(map[string]sdklog.Record)
	for _, sc := range scenarios {
		exp := &captureExporter{}
		lp := newProvider(exp, dedupOff)
		em := sc.new(lp)
		before := time.Now()
		em.emit(context.Background())
		after := time.Now()
		if err := em.check(); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Fatalf("%s: shutdown: %v", sc.name, err)
		}
		recs := exp.take()
		if len(recs) != 1 {
			t.Fatalf("%s: exported %d records, want 1", sc.name, len(recs))
		}
		r := recs[0]
		if ts := r.Timestamp(); ts.Before(before) || ts.After(after) {
			t.Errorf("%s: timestamp %v not within the call [%v, %v]", sc.name, ts, before, after)
		}
		if s := r.InstrumentationScope(); s.Name != "github.com/otelaudit/otelaudit/bridge" || s.Version != otelaudit.Version {
			t.Errorf("%s: scope %+v", sc.name, s)
		}
		if r.DroppedAttributes() != 0 {
			t.Errorf("%s: %d attributes dropped", sc.name, r.DroppedAttributes())
		}
		got[sc.name] = r
	}

	want := attrs(t, "direct", got[ceiling])
	if len(want) != 11 {
		t.Errorf("direct: %d attributes, want 11: %v", len(want), slices.Sorted(maps.Keys(want)))
	}
	for _, name := range []string{"bridge", "bridge_any", "bridge_struct", "otelslog"} {
		have := attrs(t, name, got[name])
		if k1, k2 := slices.Sorted(maps.Keys(have)), slices.Sorted(maps.Keys(want)); !slices.Equal(k1, k2) {
			t.Errorf("%s: attribute keys\n%v\nwant (direct)\n%v", name, k1, k2)
			continue
		}
		for k, v := range want {
			if have[k] != v {
				t.Errorf("%s: %s = %s, want (direct) %s", name, k, have[k], v)
			}
		}
	}

	for _, name := range []string{"bridge_any", "bridge_struct"} {
		if r := got[name]; r.EventName() != fixture.eventName || r.Severity() != log.SeverityInfo || r.Body().Type() != attribute.EMPTY {
			t.Errorf("%s: EventName %q, severity %v, body %v", name, r.EventName(), r.Severity(), r.Body())
		}
	}

	bridged, direct, slogged := got["bridge"], got[ceiling], got["otelslog"]
	if bridged.EventName() != direct.EventName() || direct.EventName() != fixture.eventName {
		t.Errorf("EventName: bridge %q, direct %q, want %q", bridged.EventName(), direct.EventName(), fixture.eventName)
	}
	if bridged.Severity() != log.SeverityInfo || direct.Severity() != log.SeverityInfo || slogged.Severity() != log.SeverityInfo {
		t.Errorf("severity: bridge %v, direct %v, otelslog %v, want INFO", bridged.Severity(), direct.Severity(), slogged.Severity())
	}
	if bridged.Body().Type() != attribute.EMPTY || direct.Body().Type() != attribute.EMPTY {
		t.Errorf("body: bridge %v, direct %v, want empty", bridged.Body(), direct.Body())
	}
	// slog has no event name: the action is the message, so the body.
	if slogged.EventName() != "" || slogged.Body().AsString() != string(fixture.action) {
		t.Errorf("otelslog: EventName %q, body %v, want no EventName and body %q", slogged.EventName(), slogged.Body(), fixture.action)
	}
	return want
}

// attrs returns r's attributes as key -> "TYPE:value", with the event id
// checked (a UUIDv7) and replaced by a placeholder, since every record gets
// its own. Map entries are sorted by key: the order of a map's entries
// means nothing to the stores (JSON objects), and Go maps converted with
// otelaudit.Value come sorted.
func attrs(t *testing.T, name string, r sdklog.Record) map[string]string {
	t.Helper()
	m := make(map[string]string, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		k := string(kv.Key)
		if _, dup := m[k]; dup {
			t.Errorf("%s: duplicate attribute %s", name, k)
		}
		v := kv.Value.Type().String() + ":" + sortedMaps(kv.Value).String()
		if k == otelaudit.KeyEventID {
			id, err := uuid.Parse(kv.Value.AsString())
			if err != nil || id.Version() != 7 {
				t.Errorf("%s: event id %v is not a UUIDv7 (%v)", name, kv.Value, err)
			}
			v = "STRING:<uuidv7>"
		}
		m[k] = v
		return true
	})
	return m
}

// sortedMaps returns v with the entries of every map it holds sorted by key.
func sortedMaps(v attribute.Value) attribute.Value {
	switch v.Type() {
	case attribute.MAP:
		kvs := slices.Clone(v.AsMap())
		for i := range kvs {
			kvs[i].Value = sortedMaps(kvs[i].Value)
		}
		slices.SortStableFunc(kvs, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
		return attribute.MapValue(kvs...)
	case attribute.SLICE:
		vals := slices.Clone(v.AsSlice())
		for i := range vals {
			vals[i] = sortedMaps(vals[i])
		}
		return attribute.SliceValue(vals...)
	}
	return v
}
