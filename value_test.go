package otelaudit_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
)

type plan struct {
	Name  string `json:"name"`
	Seats int    `json:"seats"`
	Trial bool   `json:"trial,omitempty"`
}

type nilStringer struct{ s *string }

func (n *nilStringer) String() string { return *n.s }

func TestValue(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		in   any
		want attribute.Value
	}{
		{"nil", nil, attribute.Value{}},
		{"bool", true, attribute.BoolValue(true)},
		{"int", 7, attribute.Int64Value(7)},
		{"uint64 overflow", uint64(math.MaxUint64), attribute.StringValue("18446744073709551615")},
		{"float", 0.5, attribute.Float64Value(0.5)},
		{"string", "x", attribute.StringValue("x")},
		{"bytes", []byte{1}, attribute.ByteSliceValue([]byte{1})},
		{"time", at, attribute.StringValue("2026-01-02T03:04:05.000000006Z")},
		{"duration", time.Second, attribute.StringValue("1s")},
		{"error", errors.New("boom"), attribute.StringValue("boom")},
		{"map sorted", map[string]any{"b": 1, "a": "x"}, attribute.MapValue(attribute.String("a", "x"), attribute.Int64("b", 1))},
		{"map of strings", map[string]string{"k": "v"}, attribute.MapValue(attribute.String("k", "v"))},
		{"slice", []any{1, "two"}, attribute.SliceValue(attribute.Int64Value(1), attribute.StringValue("two"))},
		{"typed slice", []int{1, 2}, attribute.SliceValue(attribute.Int64Value(1), attribute.Int64Value(2))},
		{"typed map", map[string]int{"n": 1}, attribute.MapValue(attribute.Int64("n", 1))},
		{"struct through json tags", plan{Name: "pro", Seats: 5}, attribute.MapValue(attribute.String("name", "pro"), attribute.Int64("seats", 5))},
		{"pointer to struct", &plan{Name: "pro", Seats: 5, Trial: true}, attribute.MapValue(attribute.String("name", "pro"), attribute.Int64("seats", 5), attribute.Bool("trial", true))},
		{"nil pointer", (*plan)(nil), attribute.Value{}},
		{"panicking stringer", &nilStringer{}, attribute.StringValue("[otelaudit: panic in String: runtime error: invalid memory address or nil pointer dereference]")},
		{"unsupported by json", map[int]chan int{1: nil}, attribute.StringValue("map[1:<nil>]")},
		{"attribute value as is", attribute.Int64Value(3), attribute.Int64Value(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want.Emit(), otelaudit.Value(tt.in).Emit())
			assert.Equal(t, tt.want.Type(), otelaudit.Value(tt.in).Type())
		})
	}
}

func TestValueCycleAndDepth(t *testing.T) {
	self := map[string]any{}
	self["self"] = self
	v := otelaudit.Value(self)
	depth := 0
	for v.Type() == attribute.MAP {
		v = v.AsMap()[0].Value
		depth++
	}
	assert.Equal(t, otelaudit.MaxValueDepth+1, depth)
	assert.Equal(t, otelaudit.DepthLimitMarker, v.AsString())
}
