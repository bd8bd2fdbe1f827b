package chschema_test

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// migrated returns a connection to a fresh, migrated database.
func migrated(t *testing.T) (driver.Conn, chschema.Options, chschema.Layout) {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctxT(t), conn, opts)
	require.NoError(t, err)
	return conn, opts, layout
}

func count(t *testing.T, conn driver.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	require.NoError(t, conn.QueryRow(ctxT(t), q, args...).Scan(&n), q)
	return n
}

// engineLayout is the layout Migrate chooses on the ClickHouse the tests
// run on: compat on the shared 18.16 server, modern on chDB (26.5).
func engineLayout() chschema.Layout {
	if testenv.ClickHouseEngine() == testenv.EngineChDB {
		return chschema.LayoutModern
	}
	return chschema.LayoutCompat
}
