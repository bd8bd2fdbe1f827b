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

// ErrUntrustedSchema is returned (wrapped) by [Migrate] when the schema
// that is to hold the audit table is controlled by someone other than the
// role running Migrate: it is owned by another role that is not a
// superuser, or another role (PUBLIC included) may create objects in it.
// Such a role could drop and replace the table's objects, the partition
// registry that the partition function (which runs as the owner) writes
// to, or the append-only triggers' function. Nothing is changed.
var ErrUntrustedSchema = errors.New("pgschema: untrusted schema")

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
// It first checks that the schema is the migrating role's to control: owned
// by it or by a superuser, with nobody else allowed to create objects in it;
// otherwise it changes nothing and returns an error wrapping
// [ErrUntrustedSchema]. It creates the schema when missing.
//
// It holds a session advisory lock (one per schema and table) for the whole
// run, so services starting at once apply each migration once: the others
// wait, then find nothing to do. (Any session may take an advisory lock: one
// that holds this key delays Migrate until ctx ends; it cannot change what
// Migrate does.) Each migration runs in its own transaction
// together with its row in the migrations table (<table>_schema_migrations),
// so a failure leaves the database at the previous version. A migration
// recorded as applied with another checksum stops the run with
// [ErrChecksumMismatch].
//
// Then, outside the versioned migrations and on every run: the partition
// window (o.Back, o.Ahead) is recorded, the writer and reader roles (when
// o.WriterRole, o.ReaderRole are set) are created if missing and their
// grants are (re)applied, and the
// partitions from the current one to o.Ahead after it are created if
// missing. Re-running Migrate is therefore a no-op apart from creating
// partitions as time passes, and from changing the window when o does.
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
	if o.ReaderRole != "" {
		readerSQL, err := render(o, "sql/reader_role.sql", "")
		if err != nil {
			return nil, err
		}
		roleSQL += "\n" + readerSQL
	}
	stmts, err := migrateStatements(o)
	if err != nil {
		return nil, err
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgschema: migrate %s.%s: %w", o.Schema, o.Table, err)
	}
	defer conn.Release()
	applied, err := migrateLocked(ctx, conn.Conn(), o, ms, stmts, roleSQL)
	if err != nil {
		return applied, fmt.Errorf("pgschema: migrate %s.%s: %w", o.Schema, o.Table, err)
	}
	return applied, nil
}

// migrateSQL holds the statements of sql/migrate.sql, rendered.
type migrateSQL struct {
	schemaTrust, createSchema, migrationsTable, partitionSettings string
}

func migrateStatements(o Options) (migrateSQL, error) {
	const file = "sql/migrate.sql"
	t, err := parse(o, file)
	if err != nil {
		return migrateSQL{}, fmt.Errorf("pgschema: parse %s: %w", file, err)
	}
	var m migrateSQL
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"schema_trust", &m.schemaTrust},
		{"create_schema", &m.createSchema},
		{"migrations_table", &m.migrationsTable},
		{"partition_settings", &m.partitionSettings},
	} {
		if *s.dst, err = execute(t, o, file, s.name); err != nil {
			return migrateSQL{}, err
		}
	}
	return m, nil
}

func migrateLocked(ctx context.Context, conn *pgx.Conn, o Options, ms []Migration, stmts migrateSQL, roleSQL string) (applied []int, err error) {
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

	exists, err := checkSchema(ctx, conn, o, stmts.schemaTrust)
	if err != nil {
		return nil, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, stmts.createSchema); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", o.Schema, err)
		}
		if _, err := checkSchema(ctx, conn, o, stmts.schemaTrust); err != nil {
			return nil, err
		}
	}
	table := pgx.Identifier{o.Schema, o.Table + "_schema_migrations"}.Sanitize()
	if _, err := conn.Exec(ctx, stmts.migrationsTable); err != nil {
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

	// The partition function's window: at least the next partition, so
	// that an event a moment ahead of the server's clock at the end of a
	// month finds its partition.
	if _, err := conn.Exec(ctx, stmts.partitionSettings, o.Back, max(o.Ahead, 1)); err != nil {
		return applied, fmt.Errorf("record the partition window: %w", err)
	}

	if roleSQL != "" {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, roleSQL)
			return err
		}); err != nil {
			return applied, fmt.Errorf("roles (writer %q, reader %q): %w", o.WriterRole, o.ReaderRole, err)
		}
	}

	// The current partition and those ahead, one call each: the function
	// creates at most MaxCreatePerCall per call.
	at := time.Now()
	for range o.Ahead + 1 {
		ps, err := ensurePartitions(ctx, conn, o, at, at, 0)
		if err != nil {
			return applied, err
		}
		at = ps[len(ps)-1].Hi
	}
	return applied, nil
}

// checkSchema reports whether the schema of o exists and, when it does,
// returns an error wrapping [ErrUntrustedSchema] unless it is owned by the
// current role or a superuser and nobody else may create objects in it.
func checkSchema(ctx context.Context, conn *pgx.Conn, o Options, sql string) (exists bool, err error) {
	var owner string
	var trusted bool
	var creators []string
	err = conn.QueryRow(ctx, sql, o.Schema).Scan(&owner, &trusted, &creators)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check who controls schema %s: %w", o.Schema, err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
		return true, fmt.Errorf("check who controls schema %s: %w", o.Schema, err)
	}
	schema := pgx.Identifier{o.Schema}.Sanitize()
	if !trusted {
		return true, fmt.Errorf("%w: schema %s is owned by role %q, neither the role running Migrate (%q) nor a superuser; "+
			"its owner could drop or replace the audit table's objects: ALTER SCHEMA %s OWNER TO %s, or migrate into a schema of the migrating role's own",
			ErrUntrustedSchema, o.Schema, owner, who, schema, pgx.Identifier{who}.Sanitize())
	}
	if len(creators) > 0 {
		quoted := make([]string, len(creators))
		for i, c := range creators {
			quoted[i] = c
			if c != "PUBLIC" {
				quoted[i] = pgx.Identifier{c}.Sanitize()
			}
		}
		return true, fmt.Errorf("%w: %s may create objects in schema %s, and could plant or replace objects there: REVOKE CREATE ON SCHEMA %s FROM %s",
			ErrUntrustedSchema, strings.Join(creators, ", "), o.Schema, schema, strings.Join(quoted, ", "))
	}
	return true, nil
}
