package postgreslog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestTupleMatchesColumns(t *testing.T) {
	require.Len(t, pgschema.Columns(), numColumns, "appendTuple writes one field per column of pgschema.Columns()")
}

func TestPgMicros(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want int64
	}{
		{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2000, 1, 1, 0, 0, 1, 999, time.UTC), 1_000_000},
		{time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), -1},
		{time.Date(2000, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), 0},
	} {
		require.Equal(t, tt.want, pgMicros(tt.t), tt.t)
		require.True(t, fromPgMicros(tt.want).Equal(tt.t.Truncate(time.Microsecond)), tt.t)
	}
	require.True(t, inTimeRange(minTime))
	require.False(t, inTimeRange(maxTime))
	require.True(t, inTimeRange(maxTime.Add(-time.Nanosecond)))
}
