package chschema_test

import (
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

func TestTimeArg(t *testing.T) {
	at := time.Date(2024, 6, 1, 14, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))
	modern := chschema.TimeArg(chschema.LayoutModern, "to", at)
	require.Equal(t, "to", modern.Name)
	require.EqualValues(t, clickhouse.NanoSeconds, modern.Scale, "every digit on the modern layout")
	require.True(t, modern.Value.Equal(at))
	require.Equal(t, time.UTC, modern.Value.Location())

	compat := chschema.TimeArg(chschema.LayoutCompat, "to", at)
	require.EqualValues(t, clickhouse.Seconds, compat.Scale, "the compat column holds seconds")
	require.True(t, compat.Value.Equal(at))
}

func TestTimeRange(t *testing.T) {
	from := time.Date(2024, 6, 1, 12, 0, 0, 999999999, time.UTC)
	for _, tc := range []struct {
		to       time.Time
		compatHi int64
	}{
		{time.Date(2024, 6, 1, 13, 0, 0, 0, time.UTC), 1717246800},     // on a second: that second
		{time.Date(2024, 6, 1, 13, 0, 0, 1, time.UTC), 1717246800 + 1}, // inside one: the next
	} {
		cond, args := chschema.TimeRange(chschema.LayoutCompat, from, tc.to)
		require.Equal(t, "time >= toDateTime(?) AND time < toDateTime(?)", cond)
		require.Equal(t, []any{from.Unix(), tc.compatHi}, args)

		cond, args = chschema.TimeRange(chschema.LayoutModern, from, tc.to)
		require.Equal(t, "time >= toDateTime64(?, 9, 'UTC') AND time < toDateTime64(?, 9, 'UTC')", cond)
		require.Equal(t, []any{"2024-06-01 12:00:00.999999999", tc.to.Format("2006-01-02 15:04:05.000000000")}, args)
	}
}
