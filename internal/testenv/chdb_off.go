//go:build !chdb

package testenv

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// chdbDatabase fails: chDB needs the build tag chdb.
func chdbDatabase(context.Context, string) (driver.Conn, func(context.Context) error, error) {
	return nil, nil, errors.New("this test binary was built without the build tag chdb (go test -tags chdb)")
}

func closeEngine() error { return nil }
