package seal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlFiles holds the SQL of the package: text/template templates whose only
// inputs are the validated names of the options, rendered quoted.
//
//go:embed sql/migrations/*.sql sql/queries.sql
var sqlFiles embed.FS

// ErrChecksumMismatch is returned (wrapped) by [Migrate] when a migration
// recorded as applied differs from the one this code would apply.
var ErrChecksumMismatch = errors.New("seal: applied migration differs")

// names are the quoted names the SQL uses.
type names struct {
	Schema string // quoted
	Audit  string // quoted, schema-qualified audit table
	// AuditTableName is the audit table's validated name (lower-case
	// letters, digits, underscores), for text inside literals.
	AuditTableName string
	Digests        string // quoted, schema-qualified
	Leaves         string // quoted, schema-qualified
	LeavesEventIdx string // quoted, unqualified
	Migrations     string // quoted, schema-qualified
}

func newNames(c config) names {
	return names{
		Schema:         pgx.Identifier{c.schema}.Sanitize(),
		Audit:          pgx.Identifier{c.schema, c.auditTable}.Sanitize(),
		AuditTableName: c.auditTable,
		Digests:        pgx.Identifier{c.schema, c.digestTable}.Sanitize(),
		Leaves:         pgx.Identifier{c.schema, c.digestTable + "_leaves"}.Sanitize(),
		LeavesEventIdx: pgx.Identifier{c.digestTable + "_leaves_event_idx"}.Sanitize(),
		Migrations:     pgx.Identifier{c.schema, c.digestTable + "_schema_migrations"}.Sanitize(),
	}
}

// lockKey returns the advisory lock key of one purpose for the digest table.
func (c config) lockKey(purpose string) int64 {
	h := fnv.New64a()
	h.Write([]byte("otelaudit/seal/" + purpose + "/" + c.schema + "." + c.digestTable))
	return int64(h.Sum64())
}

// Migration is one versioned migration of the digest tables.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

// Migrations returns the digest tables' migrations for the options, in
// version order, rendered as [Migrate] applies them.
func Migrations(opts ...Option) ([]Migration, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return migrations(c)
}

func migrations(c config) ([]Migration, error) {
	files, err := fs.Glob(sqlFiles, "sql/migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files { // sorted
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("seal: migration file %s is not named NNNN_name.sql", f)
		}
		text, err := sqlFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		t, err := template.New(f).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("seal: parse %s: %w", f, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, newNames(c)); err != nil {
			return nil, fmt.Errorf("seal: render %s: %w", f, err)
		}
		sum := sha256.Sum256(b.Bytes())
		ms = append(ms, Migration{Version: v, Name: name, SQL: b.String(), Checksum: hex.EncodeToString(sum[:])})
	}
	return ms, nil
}

// Migrate creates or updates the digest tables (options [WithSchema],
// [WithDigestTable]) in the database of pool and returns the versions it
// applied. Migrations are recorded, with a checksum, in
// <digest table>_schema_migrations; each runs in one transaction with its
// record, under a session advisory lock, so concurrent runs apply each
// once. Run it with the role of the sealing job: that role owns the digest
// tables. Migrate never closes pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) ([]int, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ms, err := migrations(c)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal: migrate %s.%s: %w", c.schema, c.digestTable, err)
	}
	defer conn.Release()
	applied, err := migrateLocked(ctx, conn.Conn(), c, ms)
	if err != nil {
		return applied, fmt.Errorf("seal: migrate %s.%s: %w", c.schema, c.digestTable, err)
	}
	return applied, nil
}

func migrateLocked(ctx context.Context, conn *pgx.Conn, c config, ms []Migration) (applied []int, err error) {
	key := c.lockKey("migrate")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); uerr != nil {
			_ = conn.Close(uctx) // closing the session releases the lock
			err = errors.Join(err, fmt.Errorf("release the migration lock: %w", uerr))
		}
	}()
	n := newNames(c)
	setup := "CREATE SCHEMA IF NOT EXISTS " + n.Schema + ";\nCREATE TABLE IF NOT EXISTS " + n.Migrations + ` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	if _, err := conn.Exec(ctx, setup); err != nil {
		return nil, fmt.Errorf("create the migrations table: %w", err)
	}
	done := map[int]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+n.Migrations)
	if err != nil {
		return nil, fmt.Errorf("read the migrations table: %w", err)
	}
	var v int
	var sum string
	if _, err := pgx.ForEachRow(rows, []any{&v, &sum}, func() error { done[v] = sum; return nil }); err != nil {
		return nil, fmt.Errorf("read the migrations table: %w", err)
	}
	for _, m := range ms {
		if got, ok := done[m.Version]; ok {
			if got != m.Checksum {
				return applied, fmt.Errorf("%w: version %d (%s) was applied with checksum %s, this code has %s",
					ErrChecksumMismatch, m.Version, m.Name, got, m.Checksum)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+n.Migrations+" (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}
