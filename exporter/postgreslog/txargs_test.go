package postgreslog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

func TestTextArgsMatchColumns(t *testing.T) {
	require.Len(t, appendTextArgs(nil, &auditrow.Row{}, 0), numColumns, "one value per column of pgschema.Columns()")
}

func TestTextArrayLiteral(t *testing.T) {
	// Postgres parses the literal back into the same elements, whatever
	// they hold.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testenv.Postgres(t)
	for _, tc := range []struct {
		elems []string
		extra bool
		want  []string
	}{
		{elems: []string{"user.id:nul_byte"}, want: []string{"user.id:nul_byte"}},
		{
			elems: []string{`q"uote:x`, `back\slash:x`, `\"`, "com,ma", "{brace}", " sp ace ", "NULL", "", "ü:é", "tab\there"},
			want:  []string{`q"uote:x`, `back\slash:x`, `\"`, "com,ma", "{brace}", " sp ace ", "NULL", "", "ü:é", "tab\there"},
		},
		{elems: []string{"a:b"}, extra: true, want: []string{"a:b", markerObservedOutOfRange}},
		{extra: true, want: []string{markerObservedOutOfRange}},
	} {
		var got []string
		require.NoError(t, pool.QueryRow(ctx, `SELECT $1::text[]`, textArrayLiteral(tc.elems, tc.extra)).Scan(&got))
		require.Equal(t, tc.want, got)
	}
	require.Nil(t, textArrayLiteral(nil, false), "NULL when there are none")
}
