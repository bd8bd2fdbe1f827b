package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// TestSetup runs the one-call set-up with the environment of its doc
// comment, against real Postgres and ClickHouse, and reads the row back
// from both.
func TestSetup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pgDSN := testenv.PostgresDSN(t)
	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
	chDSN, chDB := testenv.ClickHouseDSN(t)
	chOpts, err := testenv.ClickHouseOptions(chDSN)
	require.NoError(t, err)
	conn, err := clickhouse.Open(chOpts)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	_, err = chschema.Migrate(ctx, conn, chschema.Options{Database: chDB})
	require.NoError(t, err)

	t.Setenv("OTELAUDIT_JOURNAL_DIR", filepath.Join(t.TempDir(), "audit"))
	t.Setenv("OTELAUDIT_POSTGRES_DSN", pgDSN)
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", chDSN)
	t.Setenv("OTEL_SERVICE_NAME", "billing")
	require.NoError(t, run(ctx))

	var pgRow, chRow string
	require.NoError(t, pool.QueryRow(ctx, "SELECT action || ' ' || user_id || ' ' || workspace_id || ' ' || service_name FROM audit_logs").Scan(&pgRow))
	require.Equal(t, "login u_42 ws_7 billing", pgRow)
	require.NoError(t, conn.QueryRow(ctx, "SELECT concat(action, ' ', user_id, ' ', workspace_id, ' ', service_name) FROM `"+chDB+"`.audit_logs").Scan(&chRow))
	require.Equal(t, pgRow, chRow)
}

// TestReadmeQuotesTheSetup keeps the README's one-call set-up equal to
// this program, from its package clause on, so that the snippet compiles
// as pasted.
func TestReadmeQuotesTheSetup(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	s := string(src)
	start := strings.Index(s, "package main\n")
	require.NotEqual(t, -1, start)
	require.Contains(t, string(readme), "```go\n"+s[start:]+"```\n", "README's one-call set-up differs from examples/setup/main.go")
}
