package otelaudit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// MaxValueDepth is how deep [Value] descends into nested maps and slices.
// Deeper levels (and reference cycles) become the string [DepthLimitMarker].
const MaxValueDepth = 32

// DepthLimitMarker replaces values nested deeper than a depth limit.
const DepthLimitMarker = "[otelaudit: depth limit]"

// Value converts a Go value into an attribute.Value that keeps its structure,
// for [Event.Details], [Event.Previous] and [Event.New]:
//
//   - nil -> empty value
//   - bool, integers, floats, string, []byte -> the matching scalar
//     (unsigned integers above MaxInt64 become their decimal string)
//   - map[string]T -> map value with sorted keys
//   - []T, [N]T -> slice value
//   - time.Time -> RFC 3339 string with nanoseconds; time.Duration -> string
//   - attribute.Value, attribute.KeyValue, []attribute.KeyValue -> as is / map
//   - error, fmt.Stringer -> their string
//   - anything else (structs, pointers, maps with other keys) -> through
//     encoding/json, so json tags apply; a value json refuses becomes its
//     fmt "%v" string.
//
// Value never panics.
func Value(v any) attribute.Value { return valueOf(v, 0) }

func valueOf(v any, depth int) attribute.Value {
	if depth > MaxValueDepth {
		return attribute.StringValue(DepthLimitMarker)
	}
	switch x := v.(type) {
	case nil:
		return attribute.Value{}
	case attribute.Value:
		return x
	case attribute.KeyValue:
		return attribute.MapValue(x)
	case []attribute.KeyValue:
		return attribute.MapValue(x...)
	case bool:
		return attribute.BoolValue(x)
	case int:
		return attribute.IntValue(x)
	case int8:
		return attribute.Int64Value(int64(x))
	case int16:
		return attribute.Int64Value(int64(x))
	case int32:
		return attribute.Int64Value(int64(x))
	case int64:
		return attribute.Int64Value(x)
	case uint8:
		return attribute.Int64Value(int64(x))
	case uint16:
		return attribute.Int64Value(int64(x))
	case uint32:
		return attribute.Int64Value(int64(x))
	case uint:
		return uintValue(uint64(x))
	case uint64:
		return uintValue(x)
	case float32:
		return attribute.Float64Value(float64(x))
	case float64:
		return attribute.Float64Value(x)
	case string:
		return attribute.StringValue(x)
	case []byte:
		return attribute.ByteSliceValue(x)
	case time.Time:
		return attribute.StringValue(x.Format(time.RFC3339Nano))
	case time.Duration:
		return attribute.StringValue(x.String())
	case map[string]any:
		// attribute.MapValue sorts the entries by key.
		kvs := make([]attribute.KeyValue, 0, len(x))
		for k, e := range x {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: valueOf(e, depth+1)})
		}
		return attribute.MapValue(kvs...)
	case map[string]string:
		kvs := make([]attribute.KeyValue, 0, len(x))
		for k, e := range x {
			kvs = append(kvs, attribute.String(k, e))
		}
		return attribute.MapValue(kvs...)
	case []any:
		vals := make([]attribute.Value, len(x))
		for i, e := range x {
			vals[i] = valueOf(e, depth+1)
		}
		return attribute.SliceValue(vals...)
	case []string:
		return attribute.StringSliceValue(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return attribute.Int64Value(i)
		}
		if f, err := x.Float64(); err == nil {
			return attribute.Float64Value(f)
		}
		return attribute.StringValue(string(x))
	case error:
		return attribute.StringValue(safeString(x.Error))
	case fmt.Stringer:
		return attribute.StringValue(safeString(x.String))
	}
	return reflectValue(v, depth)
}

func uintValue(u uint64) attribute.Value {
	if u > math.MaxInt64 {
		return attribute.StringValue(strconv.FormatUint(u, 10))
	}
	return attribute.Int64Value(int64(u))
}

// safeString calls f, turning a panic (a nil pointer behind an interface,
// say) into a marker instead of crashing the caller.
func safeString(f func() string) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("[otelaudit: panic in String: %v]", r)
		}
	}()
	return f()
}

func reflectValue(v any, depth int) attribute.Value {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return attribute.Value{}
		}
		vals := make([]attribute.Value, rv.Len())
		for i := range vals {
			vals[i] = valueOf(rv.Index(i).Interface(), depth+1)
		}
		return attribute.SliceValue(vals...)
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			if rv.IsNil() {
				return attribute.Value{}
			}
			kvs := make([]attribute.KeyValue, 0, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(it.Key().String()), Value: valueOf(it.Value().Interface(), depth+1)})
			}
			return attribute.MapValue(kvs...) // sorted by key
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return attribute.Value{}
		}
	}
	// Structs and everything else: through encoding/json so json tags apply.
	b, err := json.Marshal(v)
	if err != nil {
		return attribute.StringValue(safeString(func() string { return fmt.Sprintf("%v", v) }))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return attribute.StringValue(string(b))
	}
	return valueOf(generic, depth)
}
