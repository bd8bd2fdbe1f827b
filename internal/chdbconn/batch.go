//go:build chdb

package chdbconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// insertQuery splits "INSERT INTO db.t (a, b) [VALUES | FORMAT Native]"
// into its table and column list.
var insertQuery = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(?:TABLE\s+)?([^\s(]+)\s*(?:\(([^)]*)\))?\s*(?:VALUES|FORMAT\s+\w+)?\s*;?\s*$`)

// ErrBatchSent is returned by a batch's methods after Send, Abort or
// Close.
var ErrBatchSent = errors.New("chdbconn: batch already sent or closed")

func (c *Conn) prepareBatch(ctx context.Context, query string) (*batch, error) {
	m := insertQuery.FindStringSubmatch(query)
	if m == nil {
		return nil, fmt.Errorf("chdbconn: PrepareBatch: not an INSERT INTO table [(columns)]: %q", query)
	}
	table, cols := m[1], strings.TrimSpace(m[2])
	sel := "*"
	if cols != "" {
		sel = cols
	}
	// The block's columns: names and types as the table gives them.
	out, err := c.engine.run(ctx, c.database, "DESCRIBE (SELECT "+sel+" FROM "+table+")", "Native")
	if err != nil {
		return nil, fmt.Errorf("chdbconn: PrepareBatch: columns of %s: %w", table, err)
	}
	blocks, err := decodeBlocks(out)
	if err != nil {
		return nil, fmt.Errorf("chdbconn: PrepareBatch: columns of %s: %w", table, err)
	}
	block := &proto.Block{ServerContext: serverContext()}
	var names []string
	desc := newRows(blocks)
	for desc.Next() {
		var name, typ string
		// DESCRIBE: name, type, default_type, default_expression, ...
		if err := desc.blocks[desc.block].Columns[0].ScanRow(&name, desc.row-1); err != nil {
			return nil, fmt.Errorf("chdbconn: PrepareBatch: columns of %s: %w", table, err)
		}
		if err := desc.blocks[desc.block].Columns[1].ScanRow(&typ, desc.row-1); err != nil {
			return nil, fmt.Errorf("chdbconn: PrepareBatch: columns of %s: %w", table, err)
		}
		if err := block.AddColumn(name, column.Type(typ)); err != nil {
			return nil, fmt.Errorf("chdbconn: PrepareBatch: column %s: %w", name, err)
		}
		names = append(names, quoteIdent(name))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("chdbconn: PrepareBatch: %s has no columns to insert", table)
	}
	return &batch{ctx: ctx, conn: c, block: block,
		insert: "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ")"}, nil
}

// batch buffers rows in a Native block; Send writes the block to a file
// and inserts it with INSERT ... FROM INFILE.
type batch struct {
	ctx    context.Context
	conn   *Conn
	block  *proto.Block
	insert string // INSERT INTO t (columns)
	sent   bool
}

var _ driver.Batch = (*batch)(nil)

func (b *batch) Abort() error {
	if b.sent {
		return ErrBatchSent
	}
	b.sent = true
	return nil
}

func (b *batch) Append(v ...any) error {
	if b.sent {
		return ErrBatchSent
	}
	return b.block.Append(v...)
}

func (b *batch) AppendStruct(any) error { return fmt.Errorf("%w: AppendStruct", ErrUnsupported) }

func (b *batch) Column(i int) driver.BatchColumn {
	if i < 0 || i >= len(b.block.Columns) {
		return badColumn{fmt.Errorf("chdbconn: column %d out of range of %d columns", i, len(b.block.Columns))}
	}
	if b.sent {
		return badColumn{ErrBatchSent}
	}
	return batchColumn{b.block.Columns[i]}
}

// Flush sends nothing: rows go in one INSERT at Send.
func (b *batch) Flush() error { return nil }

func (b *batch) Send() error {
	if b.sent {
		return ErrBatchSent
	}
	b.sent = true
	var buf chproto.Buffer
	if err := b.block.Encode(&buf, 0); err != nil {
		return fmt.Errorf("chdbconn: encode block: %w", err)
	}
	file := b.conn.engine.nextFile()
	if err := os.WriteFile(file, buf.Buf, 0o600); err != nil {
		return fmt.Errorf("chdbconn: write block: %w", err)
	}
	defer os.Remove(file)
	_, err := b.conn.engine.run(b.ctx, b.conn.database, b.insert+" FROM INFILE "+quoteString(file)+" FORMAT Native", "Null")
	return err
}

func (b *batch) IsSent() bool                { return b.sent }
func (b *batch) Rows() int                   { return b.block.Rows() }
func (b *batch) Columns() []column.Interface { return b.block.Columns }

func (b *batch) Close() error {
	b.sent = true
	return nil
}

type batchColumn struct{ c column.Interface }

func (c batchColumn) Append(v any) error {
	_, err := c.c.Append(v)
	return err
}

func (c batchColumn) AppendRow(v any) error { return c.c.AppendRow(v) }

type badColumn struct{ err error }

func (c badColumn) Append(any) error    { return c.err }
func (c badColumn) AppendRow(any) error { return c.err }
