package pgschema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrChecksumMismatch is returned (wrapped) by [Migrate] when a migration
// recorded as applied differs from the one this code would apply: the
// options changed (another Interval, say) or an applied migration was
// edited. Nothing is changed.
var ErrChecksumMismatch = errors.New("pgschema: applied migration differs")

// unlockTimeout bounds releasing the migration lock after ctx is done.
const unlockTimeout = 10 * time.Second

// Migration is one versioned migration, rendered for some [Options].
type Migration struct {
	Version int
	Name    string
	// SQL is the rendered text, run in one transaction.
	SQL string
	// Checksum is the hex SHA-256 of SQL, recorded when it is applied.
	Checksum string
}

// Migrations returns the migrations for o, in version order, rendered as
// [Migrate] would apply them.
func Migrations(o Options) ([]Migration, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return migrations(o)
}

func migrations(o Options) ([]Migration, error) {
	files, err := fs.Glob(sqlFiles, "sql/migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files { // fs.Glob sorts
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgschema: migration file %s is not named NNNN_name.sql", f)
		}
		if len(ms) > 0 && ms[len(ms)-1].Version >= v {
			return nil, fmt.Errorf("pgschema: migration %s: version %d not after %d", f, v, ms[len(ms)-1].Version)
		}
		sql, err := render(o, f, "")
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(sql))
		ms = append(ms, Migration{Version: v, Name: name, SQL: sql, Checksum: hex.EncodeToString(sum[:])})
	}
	return ms, nil
}

// Migrate brings the audit table named by o up to date in the database of
// pool, and returns the versions it applied (none when it was up to date).
//
// It holds a session advisory lock (one per schema and table) for the whole
// run, so services starting at once apply each migration once: the others
// wait, then find nothing to do. Each migration runs in its own transaction
// together with its row in the migrations table (<table>_schema_migrations),
// so a failure leaves the database at the previous version. A migration
// recorded as applied with another checksum stops the run with
// [ErrChecksumMismatch].
//
// Then, outside the versioned migrations and on every run: the writer role
// (when o.WriterRole is set) is created if missing and its grants are
// (re)applied, and the partitions from the current one to o.Ahead after it
// are created if missing. Re-running Migrate is therefore a no-op apart from
// creating partitions as time passes.
//
// The role running Migrate owns what it creates; it is the role that can
// later drop partitions ([DropPartitionsBefore]).
func Migrate(ctx context.Context, pool *pgxpool.Pool, o Options) ([]int, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ms, err := migrations(o)
	if err != nil {
		return nil, err
	}
	var roleSQL string
	if o.WriterRole != "" {
		if roleSQL, err = render(o, "sql/writer_role.sql", ""); err != nil {
			return nil, err
		}
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgschema: migrate %s.%s: %w", o.Schema, o.Table, err)
	}
	defer conn.Release()
	applied, err := migrateLocked(ctx, conn.Conn(), o, ms, roleSQL)
	if err != nil {
		return applied, fmt.Errorf("pgschema: migrate %s.%s: %w", o.Schema, o.Table, err)
	}
	return applied, nil
}

func migrateLocked(ctx context.Context, conn *pgx.Conn, o Options, ms []Migration, roleSQL string) (applied []int, err error) {
	key := o.lockKey("migrate")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); uerr != nil {
			// The session lock must not go back to the pool with the
			// connection: closing the session releases it.
			_ = conn.Close(uctx)
			err = errors.Join(err, fmt.Errorf("release the migration lock: %w", uerr))
		}
	}()

	table := pgx.Identifier{o.Schema, o.Table + "_schema_migrations"}.Sanitize()
	setup := "CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{o.Schema}.Sanitize() + ";\n" +
		"CREATE TABLE IF NOT EXISTS " + table + ` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	if _, err := conn.Exec(ctx, setup); err != nil {
		return nil, fmt.Errorf("create the migrations table: %w", err)
	}

	done := map[int]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+table)
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
				return applied, fmt.Errorf("%w: version %d (%s) was applied with checksum %s, this code has %s; were the options (interval) changed?",
					ErrChecksumMismatch, m.Version, m.Name, got, m.Checksum)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+table+" (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}

	if roleSQL != "" {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, roleSQL)
			return err
		}); err != nil {
			return applied, fmt.Errorf("writer role %s: %w", o.WriterRole, err)
		}
	}

	now := time.Now()
	if _, err := ensurePartitions(ctx, conn, o, now, now, o.Ahead); err != nil {
		return applied, err
	}
	return applied, nil
}
