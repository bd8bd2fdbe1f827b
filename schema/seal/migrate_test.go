package seal_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/seal"
)

// TestMigrateRecordsEachVersionOnce: the first run applies every
// migration and records each with its checksum, a second applies none,
// and a recorded checksum that differs from the code's is refused.
func TestMigrateRecordsEachVersionOnce(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	ms, err := seal.Migrations(seal.WithSchema("sealtest"))
	require.NoError(t, err)
	require.NotEmpty(t, ms)

	applied, err := seal.Migrate(ctx, pool, seal.WithSchema("sealtest"))
	require.NoError(t, err)
	want := make([]int, len(ms))
	for i, m := range ms {
		want[i] = m.Version
	}
	require.Equal(t, want, applied)

	rows, err := pool.Query(ctx, "SELECT version, checksum FROM sealtest.audit_digests_schema_migrations ORDER BY version")
	require.NoError(t, err)
	recorded := map[int]string{}
	for rows.Next() {
		var v int
		var sum string
		require.NoError(t, rows.Scan(&v, &sum))
		recorded[v] = sum
	}
	require.NoError(t, rows.Err())
	require.Len(t, recorded, len(ms))
	for _, m := range ms {
		require.Equal(t, m.Checksum, recorded[m.Version], "version %d", m.Version)
	}

	applied, err = seal.Migrate(ctx, pool, seal.WithSchema("sealtest"))
	require.NoError(t, err)
	require.Empty(t, applied, "a second run applies nothing")

	_, err = pool.Exec(ctx, "UPDATE sealtest.audit_digests_schema_migrations SET checksum = 'edited' WHERE version = $1", ms[0].Version)
	require.NoError(t, err)
	_, err = seal.Migrate(ctx, pool, seal.WithSchema("sealtest"))
	require.ErrorIs(t, err, seal.ErrChecksumMismatch)
}

// TestNameLengthLimit: a schema or table name of exactly 40 characters
// is accepted, one of 41 is refused.
func TestNameLengthLimit(t *testing.T) {
	for _, opt := range []func(string) seal.Option{seal.WithSchema, seal.WithAuditTable, seal.WithDigestTable} {
		_, err := seal.Migrations(opt(strings.Repeat("a", 40)))
		require.NoError(t, err)
		_, err = seal.Migrations(opt(strings.Repeat("a", 41)))
		require.ErrorIs(t, err, seal.ErrInvalidOptions)
	}
}
