//go:build chdb

package testenv

import (
	"context"
	"fmt"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/internal/chdbconn"
)

// engine is the process's chDB engine, opened by the first test that asks
// for a ClickHouse database and closed by [Exit].
var engine struct {
	sync.Mutex
	e      *chdbconn.Engine
	err    error
	closed bool
}

// chdbEngine returns the process's engine, opening it on first use.
func chdbEngine() (*chdbconn.Engine, error) {
	engine.Lock()
	defer engine.Unlock()
	if engine.closed {
		return nil, fmt.Errorf("the chDB engine is closed (testenv.Exit ran)")
	}
	// The library itself was loaded when the program started (chdb-go
	// panics there without it): from $CHDB_LIB_PATH, which make test-chdb
	// sets.
	if engine.e == nil && engine.err == nil {
		engine.e, engine.err = chdbconn.Open("")
	}
	return engine.e, engine.err
}

// chdbDatabase creates the database name in the engine and returns a
// connection whose current database it is, and a function that drops it
// (without SYNC, which never returns in chDB).
func chdbDatabase(ctx context.Context, name string) (driver.Conn, func(context.Context) error, error) {
	e, err := chdbEngine()
	if err != nil {
		return nil, nil, err
	}
	if err := e.Conn("").Exec(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		return nil, nil, err
	}
	drop := func(ctx context.Context) error {
		return e.Conn("").Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	}
	return e.Conn(name), drop, nil
}

// closeEngine closes the engine if one was opened.
func closeEngine() error {
	engine.Lock()
	defer engine.Unlock()
	engine.closed = true
	if engine.e == nil {
		return nil
	}
	return engine.e.Close()
}
