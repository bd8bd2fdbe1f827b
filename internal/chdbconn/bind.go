//go:build chdb

package chdbconn

import (
	"time"
	_ "unsafe" // go:linkname

	_ "github.com/ClickHouse/clickhouse-go/v2" // the package of bind
)

// driverBind is clickhouse-go's client-side binder (bind.go of
// github.com/ClickHouse/clickhouse-go/v2 v2.51.0): the native protocol
// sends the query text it returns. tz is the server's time zone.
// TestBindPinned checks its signature and output, so a driver upgrade
// that changes it fails loudly.
//
//go:linkname driverBind github.com/ClickHouse/clickhouse-go/v2.bind
func driverBind(tz *time.Location, query string, args ...any) (string, error)

// bindArgs binds args into query as the native driver does for a server
// in UTC.
func bindArgs(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	return driverBind(time.UTC, query, args...)
}
