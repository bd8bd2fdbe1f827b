package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestSplitCopyBinary checks the split of PostgresInsert/ceiling_parallel:
// five rows dumped from Postgres in COPY's binary format, split in two,
// go back by two COPYs as the same five events (three and two rows), and
// a dump that holds more rows than it is said to is refused.
func TestSplitCopyBinary(t *testing.T) {
	const n = 5
	ctx := context.Background()
	src, _ := pgTableDSN(t)
	args, err := insertArgs(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range args {
		if _, err := src.Exec(ctx, pgInsertSQL, a...); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	dump := filepath.Join(dir, "rows.pgcopy")
	if err := dumpRows(src, dump); err != nil {
		t.Fatal(err)
	}
	files, err := splitCopyBinary(dump, t.TempDir(), 2, n)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := pgTableDSN(t)
	copySQL := "COPY audit_logs (" + pgCopyColumns() + ") FROM STDIN WITH (FORMAT binary)"
	var rows []int64
	for _, f := range files {
		rows = append(rows, copyFile(t, dst, f, copySQL))
	}
	if !slices.Equal(rows, []int64{3, 2}) {
		t.Errorf("the halves hold %v rows, want [3 2]", rows)
	}
	if got, want := eventIDs(t, dst), eventIDs(t, src); !slices.Equal(got, want) {
		t.Errorf("copied events %v, want %v", got, want)
	}
	if _, err := splitCopyBinary(dump, t.TempDir(), 2, n-1); err == nil {
		t.Error("a dump of 5 rows split as 4: no error")
	}
}

func copyFile(t *testing.T, pool *pgxpool.Pool, path, copySQL string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tag, err := conn.Conn().PgConn().CopyFrom(context.Background(), f, copySQL)
	if err != nil {
		t.Fatalf("COPY %s: %v", path, err)
	}
	return tag.RowsAffected()
}

func eventIDs(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT event_id::text FROM audit_logs ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
