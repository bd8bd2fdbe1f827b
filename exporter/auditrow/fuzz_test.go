package auditrow_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// valueFromBytes builds a nested attribute value from fuzz bytes, so that
// the fuzzer explores every kind and depth.
func valueFromBytes(b []byte, depth int) (attribute.Value, []byte) {
	if len(b) == 0 || depth > 40 {
		return attribute.StringValue(string(b)), nil
	}
	op, b := b[0], b[1:]
	switch op % 9 {
	case 0:
		return attribute.BoolValue(op&16 != 0), b
	case 1:
		return attribute.Int64Value(int64(op) << 40), b
	case 2:
		return attribute.Float64Value([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0.1, -0, 1e308}[int(op)%6]), b
	case 3:
		n := min(len(b), int(op%32))
		return attribute.StringValue(string(b[:n])), b[n:]
	case 4:
		n := min(len(b), int(op%16))
		return attribute.ByteSliceValue(b[:n]), b[n:]
	case 5, 6:
		var kvs []attribute.KeyValue
		for i := 0; i < int(op%4) && len(b) > 0; i++ {
			var v attribute.Value
			key := string(b[:min(len(b), 3)])
			v, b = valueFromBytes(b[min(len(b), 3):], depth+1)
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(key), Value: v})
		}
		return attribute.MapValue(kvs...), b
	case 7:
		var vals []attribute.Value
		for i := 0; i < int(op%4) && len(b) > 0; i++ {
			var v attribute.Value
			v, b = valueFromBytes(b, depth+1)
			vals = append(vals, v)
		}
		return attribute.SliceValue(vals...), b
	default:
		return attribute.StringSliceValue([]string{string(b)}), nil
	}
}

func clean(s string, limit int) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00") && len(s) <= limit
}

// FuzzEventToRow drives event -> record (bridge, real SDK) -> row and checks
// that every row is storable and that clean input comes back unchanged.
func FuzzEventToRow(f *testing.F) {
	f.Add("login", "u_1", "ws_1", "203.0.113.1", "Mozilla/5.0", "invoice", "inv_1", "", []byte{5, 'a', 'b', 'c', 3, 'x', 'y'})
	f.Add("settings_changed", "u\xff", "w\x00", "::1", "", "", "", "denied", []byte{6, 6, 6, 6, 6, 6, 6, 6})
	f.Add("custom.thing_done", "", "", "not-an-ip", strings.Repeat("é", 700), "", "", "x", []byte{2, 2, 2, 8})
	f.Add("Bad Action", "", "", "", "", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, action, user, ws, ip, ua, resType, resID, errType string, details []byte) {
		var rejected []error
		dv, _ := valueFromBytes(details, 0)
		ev := otelaudit.Event{
			Action: otelaudit.Action(action), Actor: otelaudit.Actor{UserID: user, WorkspaceID: ws},
			Client: otelaudit.Client{IP: ip, UserAgent: ua}, Resource: otelaudit.Resource{Type: resType, ID: resID},
			Details: dv,
		}
		if errType != "" {
			ev.Outcome = otelaudit.Failure(errType)
		}
		var a *bridge.Auditor
		recs := emit(t, func(x *bridge.Auditor) { a = x; a.Record(context.Background(), ev) },
			bridge.WithErrorHandler(func(err error) { rejected = append(rejected, err) }))
		if otelaudit.Action(action).Validate() != nil {
			require.Empty(t, recs, "invalid action must not be emitted")
			require.Equal(t, uint64(1), a.Stats().Rejected["invalid_action"])
			require.Len(t, rejected, 1)
			require.ErrorIs(t, rejected[0], bridge.ErrRejected)
			return
		}
		require.Empty(t, rejected)
		require.Len(t, recs, 1)
		row, err := auditrow.NewMapper(auditrow.Options{}).MapRecord(&recs[0])
		require.NoError(t, err)
		assertStorable(t, row)
		assert.Equal(t, action, row.Action)
		for _, c := range []struct{ in, out string }{{user, row.UserID}, {ws, row.WorkspaceID}, {resType, row.ResourceType}, {resID, row.ResourceID}, {errType, row.ErrorType}} {
			if clean(c.in, auditrow.DefaultMaxFieldBytes) {
				assert.Equal(t, c.in, c.out)
			}
		}
		if clean(ua, auditrow.DefaultMaxUserAgentBytes) {
			assert.Equal(t, ua, row.UserAgent)
		}
		if errType != "" {
			assert.Equal(t, "failure", row.Outcome)
		}
	})
}
