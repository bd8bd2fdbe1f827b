//go:build chdb

package chdbconn

import (
	"database/sql"
	"fmt"
	"io"
	"reflect"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// rows iterates over the decoded blocks of a result; Scan converts with
// the driver's column types (column.Interface.ScanRow), as clickhouse-go's
// own rows do.
type rows struct {
	blocks  []*proto.Block
	block   int // index in blocks
	row     int // 1-based row in blocks[block] after Next
	columns []string
	types   []column.Interface
	closed  bool
}

var _ driver.Rows = (*rows)(nil)

func newRows(blocks []*proto.Block) *rows {
	r := &rows{blocks: blocks}
	if len(blocks) > 0 {
		r.columns = blocks[0].ColumnsNames()
		r.types = blocks[0].Columns
	}
	return r
}

func (r *rows) Next() bool {
	if r.closed {
		return false
	}
	for r.block < len(r.blocks) {
		if r.row < r.blocks[r.block].Rows() {
			r.row++
			return true
		}
		r.block, r.row = r.block+1, 0
	}
	r.closed = true
	return false
}

func (r *rows) Scan(dest ...any) error {
	if r.block >= len(r.blocks) || r.row == 0 {
		return io.EOF
	}
	b := r.blocks[r.block]
	if len(dest) != len(b.Columns) {
		return fmt.Errorf("chdbconn: expected %d destination arguments in Scan, not %d", len(b.Columns), len(dest))
	}
	for i, d := range dest {
		if err := b.Columns[i].ScanRow(d, r.row-1); err != nil {
			return fmt.Errorf("chdbconn: column %s: %w", b.Columns[i].Name(), err)
		}
	}
	return nil
}

func (r *rows) ScanStruct(any) error { return fmt.Errorf("%w: ScanStruct", ErrUnsupported) }

func (r *rows) ColumnTypes() []driver.ColumnType {
	out := make([]driver.ColumnType, len(r.types))
	for i, c := range r.types {
		out[i] = columnType{c}
	}
	return out
}

func (r *rows) Totals(...any) error { return fmt.Errorf("%w: Totals", ErrUnsupported) }
func (r *rows) Columns() []string   { return r.columns }
func (r *rows) Close() error        { r.closed = true; return nil }
func (r *rows) Err() error          { return nil }
func (r *rows) HasData() bool       { return len(r.blocks) > 0 && r.blocks[0].Rows() > 0 }

// columnType describes a result column as clickhouse-go's does.
type columnType struct{ c column.Interface }

func (t columnType) Name() string { return t.c.Name() }
func (t columnType) Nullable() bool {
	_, ok := t.c.(*column.Nullable)
	return ok
}
func (t columnType) ScanType() reflect.Type   { return t.c.ScanType() }
func (t columnType) DatabaseTypeName() string { return string(t.c.Type()) }

// row is the first row of a result, for QueryRow.
type row struct {
	err  error
	rows *rows
}

var _ driver.Row = (*row)(nil)

func (r *row) Err() error { return r.err }

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

func (r *row) ScanStruct(any) error { return fmt.Errorf("%w: ScanStruct", ErrUnsupported) }
