package clickhouselog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestColumnsMatchTheSchema checks, for both layouts, that the exporter
// builds one slice per column of chschema.Columns, each with one value per
// row, and that the modern layout (not run against a live server here)
// gets its nanosecond time and attribute map.
func TestColumnsMatchTheSchema(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	src := auditrow.Row{
		EventID: uuid.New(), Time: at, Action: "login", Outcome: "failure",
		ClientIP: netip.MustParseAddr("192.0.2.1"),
		Attrs:    []auditrow.Attr{{Key: "plan", Value: "pro"}, {Key: "seats", Value: "3", JSON: true}},
	}
	for _, l := range []chschema.Layout{chschema.LayoutCompat, chschema.LayoutModern} {
		t.Run(l.String(), func(t *testing.T) {
			var c columns
			c.reset(l)
			require.False(t, c.add(&src))
			require.False(t, c.add(&auditrow.Row{EventID: uuid.New(), Time: at}))
			vals := c.values()
			require.Len(t, vals, len(chschema.Columns(l)))
			for i, v := range vals {
				require.Equal(t, 2, reflect.ValueOf(v).Len(), "column %s", chschema.Columns(l)[i])
			}
			require.Equal(t, []int8{enumFailure, enumSuccess}, c.outcomes)
			require.Equal(t, []string{"192.0.2.1", ""}, c.ips)
			if l == chschema.LayoutModern {
				require.Equal(t, []map[string]string{{"plan": "pro", "seats": "3"}, {}}, c.attrMaps)
				require.Empty(t, c.nanos)
			} else {
				require.Equal(t, []uint32{6, 6}, c.nanos)
				require.Equal(t, [][]string{{"plan", "seats"}, {}}, c.attrKeys)
				require.Equal(t, [][]string{{"pro", "3"}, {}}, c.attrValues)
			}

			// Sub-slices and filtered copies keep the columns aligned.
			second := c.slice(1, 2)
			require.Equal(t, c.ids[1:], second.ids)
			require.Len(t, second.values(), len(vals))
			rest := c.without(func(i int) bool { return i == 0 })
			require.Equal(t, second.values(), rest.values())
			all := c.without(func(int) bool { return false })
			require.Equal(t, vals, all.values(), "a copy keeping every row")
			none := c.without(func(int) bool { return true })
			require.Zero(t, none.len())

			c.reset(l)
			require.Zero(t, c.len())
			for _, v := range c.values() {
				require.Zero(t, reflect.ValueOf(v).Len())
			}
		})
	}
}

func TestTimeClamping(t *testing.T) {
	for _, tc := range []struct {
		layout chschema.Layout
		in     time.Time
		want   time.Time
	}{
		{chschema.LayoutCompat, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), compatMinTime},
		{chschema.LayoutCompat, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), compatMaxTime},
		{chschema.LayoutModern, time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), modernMinTime},
		{chschema.LayoutModern, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
		{chschema.LayoutModern, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), modernMaxTime},
		{chschema.LayoutCompat, compatMaxTime, compatMaxTime},
		{chschema.LayoutModern, modernMinTime, modernMinTime},
	} {
		var c columns
		c.reset(tc.layout)
		require.True(t, c.add(&auditrow.Row{Time: tc.in, Sanitized: []string{"x:y"}}))
		require.Equal(t, tc.want, c.times[0], "%v %v", tc.layout, tc.in)
		if tc.want.Equal(tc.in) {
			require.Equal(t, []string{"x:y"}, c.sanitized[0])
		} else {
			require.Equal(t, []string{"x:y", "time:" + ChangeTimeOutOfRange}, c.sanitized[0])
		}
	}
}

func TestClassify(t *testing.T) {
	ex := func(code int32, msg string) error {
		return fmt.Errorf("send: %w", &clickhouse.Exception{Code: code, Message: msg})
	}
	for _, tc := range []struct {
		name string
		err  error
		want errorClass
	}{
		{"nil", nil, classPermanent},
		{"unknown table", ex(60, "Table x doesn't exist"), classPermanent},
		{"throwIf", ex(codeThrowIf, "Value passed to 'throwIf' function is non zero"), classData},
		{"too many partitions", ex(codeTooManyParts, "Too many partitions for single INSERT block (more than 100)"), classData},
		{"too many parts", ex(codeTooManyParts, "Too many parts (300). Merges are processing significantly slower than inserts"), classTransient},
		{"memory limit", ex(codeMemoryLimitExceeded, "Memory limit (for query) exceeded"), classMemory},
		{"cannot allocate", ex(codeCannotAllocateMemory, "Cannot allocate memory"), classMemory},
		{"timeout", ex(codeTimeoutExceeded, "Timeout exceeded"), classTransient},
		{"a shard of the Distributed table unreachable", ex(codeAllConnectionTries, "All connection tries failed. Log: Connection refused"), classTransient},
		{"unexpected EOF", io.ErrUnexpectedEOF, classTransient},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, classTransient},
		{"connection reset while writing a block", fmt.Errorf("send data: failed to flush partial block: %w", &net.OpError{Op: "write", Err: syscall.ECONNRESET}), classMemory},
		{"broken pipe while writing a block", &net.OpError{Op: "write", Err: syscall.EPIPE}, classMemory},
		{"deadline", context.DeadlineExceeded, classTransient},
		{"acquire timeout", clickhouse.ErrAcquireConnTimeout, classTransient},
		{"other", errors.New("something"), classPermanent},
	} {
		require.Equal(t, tc.want, classify(tc.err), tc.name)
	}
}

// TestColumnsCountBytes: a row costs rowOverhead, the bytes of each of its
// values, and 16 more per attribute and per marker; that sum is what
// WithMaxInsertBytes bounds. Every value has a size of its own (powers of
// two), so that leaving one out, or counting it negatively, shows.
func TestColumnsCountBytes(t *testing.T) {
	s := func(n int) string { return string(make([]byte, n)) }
	b := func(n int) []byte { return make([]byte, n) }
	r := auditrow.Row{
		EventID: uuid.New(), Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Action: s(1), WorkspaceID: s(2), UserID: s(4), UserName: s(8),
		ClientIP:  netip.MustParseAddr("192.0.2.10"), // 10 bytes as text
		UserAgent: s(32), SessionID: s(64), ResourceType: s(128), ResourceID: s(256),
		Outcome: "failure", ErrorType: s(512), Details: b(1024), Previous: b(2048), New: b(4096),
		TraceID:     [16]byte{1}, // 32 hex digits
		SpanID:      [8]byte{1},  // 16
		ServiceName: s(8192),
		Attrs:       []auditrow.Attr{{Key: s(1 << 14), Value: s(1 << 15)}},
		Sanitized:   []string{s(1 << 16)},
	}
	want := rowOverhead + 1 + 2 + 4 + 8 + 10 + 32 + 64 + 128 + 256 + 512 + 1024 + 2048 + 4096 + 32 + 16 + 8192 +
		(1<<14 + 1<<15 + 16) + (1<<16 + 16)
	for _, l := range []chschema.Layout{chschema.LayoutCompat, chschema.LayoutModern} {
		var c columns
		c.reset(l)
		require.True(t, c.add(&r))
		require.Equal(t, want, c.bytes, "%v", l)
		require.True(t, c.add(&r))
		require.Equal(t, 2*want, c.bytes, "%v: rows add up", l)
	}
}

// TestTextStringsStayValid: the strings text makes are the bytes they were
// made from, whatever is made after them (new blocks included), and after
// the source buffer is reused; reset drops the blocks without changing the
// strings made before.
func TestTextStringsStayValid(t *testing.T) {
	var tx text
	src := make([]byte, 0, 64)
	var got, want []string
	for i := range 5000 {
		src = append(src[:0], fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", i%40))...)
		got = append(got, tx.copy(src))
		want = append(want, string(src))
	}
	big := []byte(strings.Repeat("y", 3*textBlock)) // larger than a block
	got, want = append(got, tx.copy(big)), append(want, string(big))
	got, want = append(got, tx.hex([]byte{0x0a, 0xff, 0x10})), append(want, "0aff10")
	got, want = append(got, tx.copy(nil), tx.hex(nil)), append(want, "", "")
	tx = text{}
	got, want = append(got, tx.copy([]byte("after reset"))), append(want, "after reset")
	require.Equal(t, want, got)
}
