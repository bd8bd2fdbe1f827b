package clickhouselog

import (
	"bytes"
	"testing"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/stretchr/testify/require"
)

// TestStringColumnsReused pins what presize relies on in the driver: its
// String column keeps its rows in a ch-go ColStr field. If a driver
// upgrade changes that, this test fails (the exporter still works, with
// the driver's own growing buffers). It then checks that the rows a column
// receives land in the memory presize gave it, exactly sized, that the
// encoded block holds them, and that the next INSERT reuses that memory.
func TestStringColumnsReused(t *testing.T) {
	require.True(t, strColOK, "clickhouse-go's column.String no longer has a ch-go ColStr field named col")

	newBlock := func() *proto.Block {
		b := &proto.Block{}
		require.NoError(t, b.AddColumn("s", "String"))
		require.NoError(t, b.AddColumn("n", "UInt32"))
		require.NoError(t, b.AddColumn("a", "Array(String)"))
		return b
	}
	mem := &strBuffers{}

	rows := []string{"ab", "", "cdé"}
	b := newBlock()
	vals := []any{rows, []uint32{1, 2, 3}, [][]string{{"x"}, nil, {"y", "z"}}}
	sized := presize(b.Columns, vals, mem)
	require.Len(t, sized, 3)
	require.Nil(t, sized[1], "a UInt32 column is not sized")
	require.Nil(t, sized[2], "an Array column is not sized")
	cs := sized[0]
	require.Same(t, driverColStr(b.Columns[0]), cs)
	require.Equal(t, 6, cap(cs.Buf), "exact size of the rows' bytes")
	require.Equal(t, 3, cap(cs.Pos))
	first := &cs.Buf[:1][0]

	require.NoError(t, b.Append(rows[0], uint32(1), []string{"x"}))
	require.NoError(t, b.Append(rows[1], uint32(2), []string(nil)))
	require.NoError(t, b.Append(rows[2], uint32(3), []string{"y", "z"}))
	require.Same(t, first, &cs.Buf[0], "the rows were appended into the given memory, which did not grow")
	require.Equal(t, 6, cap(cs.Buf))

	// What the block sends holds the rows.
	var enc chproto.Buffer
	require.NoError(t, b.Encode(&enc, 0))
	got := decodeStrings(t, enc.Buf, len(rows))
	require.Equal(t, rows, got)

	reclaim(sized, mem)
	require.Nil(t, cs.Buf, "the batch keeps no reference to reclaimed memory")
	require.Equal(t, 6, cap(mem.buf[0]))

	// The next INSERT, with fewer bytes, gets the same memory.
	b2 := newBlock()
	sized2 := presize(b2.Columns, []any{[]string{"q"}, []uint32{9}, [][]string{nil}}, mem)
	require.Same(t, first, &sized2[0].Buf[:1][0])
	require.Equal(t, 0, len(sized2[0].Buf))
	require.Nil(t, mem.buf[0], "memory in use is not handed out twice")

	// A column that already holds rows is left alone.
	b3 := newBlock()
	require.NoError(t, b3.Append("kept", uint32(1), []string(nil)))
	require.Nil(t, presize(b3.Columns, []any{[]string{"more"}, []uint32{2}, [][]string{nil}}, &strBuffers{}))
}

// decodeStrings reads the first column of a Native block encoded by
// proto.Block.Encode at revision 0: column count, row count, then the
// column's name, type and n length-prefixed strings.
func decodeStrings(t *testing.T, b []byte, n int) []string {
	t.Helper()
	r := chproto.NewReader(bytes.NewReader(b))
	_, err := r.UVarInt() // columns
	require.NoError(t, err)
	rows, err := r.UVarInt()
	require.NoError(t, err)
	require.EqualValues(t, n, rows)
	for range 2 { // name, type
		_, err := r.Str()
		require.NoError(t, err)
	}
	var col chproto.ColStr
	require.NoError(t, col.DecodeColumn(r, n))
	out := make([]string, n)
	for i := range n {
		out[i] = col.Row(i)
	}
	return out
}
