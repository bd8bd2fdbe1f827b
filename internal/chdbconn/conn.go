//go:build chdb

package chdbconn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// Conn is a clickhouse-go driver.Conn on the engine, with a current
// database of its own. See the package documentation for what each method
// does. Close does nothing: the engine is closed by its owner.
type Conn struct {
	engine   *Engine
	database string
}

var _ driver.Conn = (*Conn)(nil)

// Contributors returns nil.
func (c *Conn) Contributors() []string { return nil }

// ServerVersion returns the engine's version, display name "chDB", time
// zone UTC.
func (c *Conn) ServerVersion() (*driver.ServerVersion, error) {
	v := c.engine.Version()
	return &v, nil
}

// Exec runs query with args bound as clickhouse-go binds them, and
// discards its output.
func (c *Conn) Exec(ctx context.Context, query string, args ...any) error {
	q, err := bindArgs(query, args)
	if err != nil {
		return err
	}
	_, err = c.engine.run(ctx, c.database, q, "Null")
	return err
}

// Query runs query with args bound as clickhouse-go binds them, and
// returns its rows, read as Native blocks.
func (c *Conn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	q, err := bindArgs(query, args)
	if err != nil {
		return nil, err
	}
	out, err := c.engine.run(ctx, c.database, q, "Native")
	if err != nil {
		return nil, err
	}
	blocks, err := decodeBlocks(out)
	if err != nil {
		return nil, fmt.Errorf("chdbconn: decode result: %w", err)
	}
	return newRows(blocks), nil
}

// QueryRow runs query as Query does and returns its first row.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return &row{err: err}
	}
	return &row{rows: rs.(*rows)}
}

// Select returns ErrUnsupported.
func (c *Conn) Select(context.Context, any, string, ...any) error {
	return fmt.Errorf("%w: Select", ErrUnsupported)
}

// PrepareBatch prepares an INSERT ("INSERT INTO t (a, b)"; the column list
// may be left out), reading the columns' types from the table.
func (c *Conn) PrepareBatch(ctx context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	return c.prepareBatch(ctx, query)
}

// Ping runs SELECT 1.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.engine.run(ctx, c.database, "SELECT 1", "Null")
	return err
}

// Stats returns zeros: there is no pool.
func (c *Conn) Stats() driver.Stats { return driver.Stats{} }

// Close does nothing; the Engine is closed by its owner.
func (c *Conn) Close() error { return nil }

// QueryFormat returns ErrUnsupported.
func (c *Conn) QueryFormat(context.Context, string, string, ...any) (io.ReadCloser, error) {
	return nil, fmt.Errorf("%w: QueryFormat", ErrUnsupported)
}

// InsertFormat returns ErrUnsupported.
func (c *Conn) InsertFormat(context.Context, string, string, io.Reader) error {
	return fmt.Errorf("%w: InsertFormat", ErrUnsupported)
}

// AsyncInsert returns ErrUnsupported.
func (c *Conn) AsyncInsert(context.Context, string, bool, ...any) error {
	return fmt.Errorf("%w: AsyncInsert", ErrUnsupported)
}

// serverContext is what the driver's column types learn from a server's
// handshake: the engine runs in UTC.
func serverContext() *column.ServerContext {
	return &column.ServerContext{Timezone: time.UTC}
}

// decodeBlocks decodes a Native-format stream (the format without the
// native protocol's block info) into blocks.
func decodeBlocks(out []byte) ([]*proto.Block, error) {
	var blocks []*proto.Block
	// A bufio.Reader of this size is used by chproto.NewReader as it is,
	// so Peek tells where the stream ends.
	in := bufio.NewReaderSize(bytes.NewReader(out), 128*1024)
	r := chproto.NewReader(in)
	for {
		if _, err := in.Peek(1); errors.Is(err, io.EOF) {
			break
		}
		b := &proto.Block{ServerContext: serverContext()}
		if err := b.Decode(r, 0); err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}
