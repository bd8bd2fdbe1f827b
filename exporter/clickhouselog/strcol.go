package clickhouselog

import (
	"reflect"
	"sync"
	"unsafe"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// The driver's String columns (clickhouse-go's column.String, v2.51.0)
// keep their rows in a ch-go proto.ColStr: one byte buffer and one
// position per row, both grown by append. An INSERT of a few MiB of text
// then allocates several times its size while the buffers grow, and a new
// INSERT starts from empty buffers again: for a million typical rows, about
// 1.8 GB of garbage. So before the rows are appended, each String column's
// buffers are set to memory of the exact size, kept from an earlier INSERT
// when there is one; after Send, the memory is taken back.
//
// The buffers are an unexported field of the driver's column. Its offset
// is looked up by reflection once, with its type checked; with another
// driver version whose column differs, strColOK is false and the
// columns grow as the driver makes them (correct, only slower).
// TestStringColumnsReused fails loudly in that case.
var strColOffset, strColOK = func() (uintptr, bool) {
	f, found := reflect.TypeOf(column.String{}).FieldByName("col")
	if !found || f.Type != reflect.TypeOf(chproto.ColStr{}) {
		return 0, false
	}
	return f.Offset, true
}()

// driverColStr returns the buffers of a driver String column, or nil for
// any other column.
func driverColStr(c column.Interface) *chproto.ColStr {
	s, ok := c.(*column.String)
	if !ok || !strColOK || s == nil {
		return nil
	}
	return (*chproto.ColStr)(unsafe.Add(unsafe.Pointer(s), strColOffset))
}

// strBuffers is the memory of one INSERT's String columns, by column
// index.
type strBuffers struct {
	buf [][]byte
	pos [][]chproto.Position
}

// strPool keeps the memory of finished INSERTs for the next ones. A pool
// (not a field of the Exporter) because the memory is only worth keeping
// while INSERTs follow each other: the garbage collector may drop it.
var strPool = sync.Pool{New: func() any { return new(strBuffers) }}

// presize gives every empty driver String column of cols (a batch's
// columns), whose rows are the string slices of vals (by column index),
// buffers of the exact size those rows need, from s. It returns the
// columns it sized, by index.
func presize(cols []column.Interface, vals []any, s *strBuffers) []*chproto.ColStr {
	if len(s.buf) < len(cols) {
		s.buf = append(s.buf, make([][]byte, len(cols)-len(s.buf))...)
		s.pos = append(s.pos, make([][]chproto.Position, len(cols)-len(s.pos))...)
	}
	var sized []*chproto.ColStr
	for i, c := range cols {
		if i >= len(vals) {
			break
		}
		rows, ok := vals[i].([]string)
		if !ok {
			continue
		}
		cs := driverColStr(c)
		if cs == nil || len(cs.Pos) != 0 {
			continue
		}
		n := 0
		for _, r := range rows {
			n += len(r)
		}
		buf, pos := s.buf[i], s.pos[i]
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		if cap(pos) < len(rows) {
			pos = make([]chproto.Position, 0, len(rows))
		}
		cs.Buf, cs.Pos = buf[:0], pos[:0]
		s.buf[i], s.pos[i] = nil, nil
		if sized == nil {
			sized = make([]*chproto.ColStr, len(cols))
		}
		sized[i] = cs
	}
	return sized
}

// reclaim takes the buffers of the columns presize sized back into s,
// once the batch that used them is done with them (sent or closed).
func reclaim(sized []*chproto.ColStr, s *strBuffers) {
	for i, cs := range sized {
		if cs == nil {
			continue
		}
		s.buf[i], s.pos[i] = cs.Buf[:0], cs.Pos[:0]
		cs.Buf, cs.Pos = nil, nil
	}
}
