package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// TestQuickStart runs the quick start against a real Postgres, the
// service logging in with nothing but the writer role, and reads the rows
// back.
func TestQuickStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := testenv.Postgres(t)
	var rnd [4]byte
	_, err := rand.Read(rnd[:])
	require.NoError(t, err)
	login := "t_billing_" + hex.EncodeToString(rnd[:]) // roles are cluster-wide
	_, err = owner.Exec(ctx, "CREATE ROLE "+login+" LOGIN")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := owner.Exec(context.Background(), "DROP OWNED BY "+login+"; DROP ROLE "+login)
		assert.NoError(t, err)
	})
	cfg := owner.Config().ConnConfig
	dsn := func(user string) string {
		u := url.URL{Scheme: "postgres", User: url.User(user), Host: cfg.Host + ":" + strconv.Itoa(int(cfg.Port)), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
		return u.String()
	}
	// Migrate creates audit_writer (cluster-wide); the login gets it, as the
	// quick start's doc says a DBA would do.
	ownerDSN := dsn(cfg.User)
	dir := filepath.Join(t.TempDir(), "journal")
	_, err = owner.Exec(ctx, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_writer') THEN CREATE ROLE audit_writer NOLOGIN; END IF; END $$")
	require.NoError(t, err)
	_, err = owner.Exec(ctx, "GRANT audit_writer TO "+login)
	require.NoError(t, err)

	require.NoError(t, run(ctx, ownerDSN, dsn(login), dir))

	rows, err := owner.Query(ctx, "SELECT action, user_id, workspace_id, service_name FROM audit_logs ORDER BY created_at")
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var action, user, ws, svc string
		require.NoError(t, rows.Scan(&action, &user, &ws, &svc))
		got = append(got, strings.Join([]string{action, user, ws, svc}, " "))
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		"login u_42 ws_7 billing",
		"settings_changed u_42 ws_7 billing",
		"data_delete_requested u_42 ws_7 billing",
	}, got)

	// The login can only insert.
	writer, err := pgxpool.New(ctx, dsn(login))
	require.NoError(t, err)
	defer writer.Close()
	_, err = writer.Exec(ctx, "DELETE FROM audit_logs")
	assert.Error(t, err, "the writer role must not delete")
}

// TestReadmeQuotesTheQuickStart keeps the README's quick start equal to
// this program, from its package clause on (main and run included), so
// that the snippet compiles as pasted; TestQuickStart runs it.
func TestReadmeQuotesTheQuickStart(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	s := string(src)
	start := strings.Index(s, "package main\n")
	require.NotEqual(t, -1, start)
	assert.Contains(t, string(readme), "```go\n"+s[start:]+"```\n", "README's quick start differs from examples/quickstart/main.go")
}
