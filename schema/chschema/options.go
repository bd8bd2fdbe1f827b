package chschema

import (
	"errors"
	"fmt"
	"regexp"
)

// Default names and values. A zero field of [Options] means its default.
const (
	DefaultDatabase        = "default"
	DefaultTable           = "audit_logs"
	DefaultMigrationsTable = "otelaudit_migrations"
	// DefaultRollupSuffix names the daily rollup table: Table + suffix
	// ("audit_logs_daily"); its materialized view adds "_mv".
	DefaultRollupSuffix = "_daily"
	// LocalSuffix names the local (replicated) tables behind the
	// Distributed tables when Options.Cluster is set.
	LocalSuffix = "_local"
)

// Options name what the schema creates. The zero value means the defaults:
// database "default", table "audit_logs", no cluster, no TTL, the layout
// chosen from the server's version.
type Options struct {
	// Database holds every table. It is created when missing.
	Database string
	// Table is the audit table; the daily rollup is Table+"_daily" and its
	// materialized view Table+"_daily_mv".
	Table string
	// MigrationsTable records the applied migrations, per audit table.
	MigrationsTable string
	// Cluster, when set, makes every statement ON CLUSTER Cluster, the
	// tables Replicated* tables named Table+"_local" (ZooKeeper path
	// /clickhouse/tables/{shard}/<database>/<table>, replica {replica}),
	// and Table a Distributed table over them, sharded by event id so that
	// copies of one event always meet on the same shard.
	Cluster string
	// TTLDays deletes events older than this many days, by TTL on the
	// modern layout (TTL time + INTERVAL TTLDays DAY). 0 keeps them
	// forever. The compat layout has no TTL: [DropExpiredPartitions] is its
	// equivalent, a whole month at a time, once the month ended TTLDays
	// days ago or more (it returns ErrNoTTL when TTLDays is 0);
	// [DropPartitionsBefore] drops by a cutoff, whatever TTLDays.
	TTLDays int
	// Layout forces a layout; the zero value, [LayoutAuto], picks it from
	// the server's version (or keeps the one recorded by an earlier
	// migration).
	Layout Layout
}

// ErrInvalidOptions is returned (wrapped) for options that cannot be used.
var ErrInvalidOptions = errors.New("chschema: invalid options")

// identRE is what a database, table or cluster name may be: an unquoted
// identifier that needs no escaping anywhere (SQL, ZooKeeper paths).
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// maxTTLDays bounds TTLDays (a hundred years).
const maxTTLDays = 36500

// withDefaults fills in the defaults and validates every name.
func (o Options) withDefaults() (Options, error) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.MigrationsTable == "" {
		o.MigrationsTable = DefaultMigrationsTable
	}
	for _, f := range []struct{ name, v string }{
		{"Database", o.Database}, {"Table", o.Table}, {"MigrationsTable", o.MigrationsTable},
	} {
		if !identRE.MatchString(f.v) {
			return o, fmt.Errorf("%w: %s %q is not an identifier (letters, digits, _; not starting with a digit; at most 63 bytes)", ErrInvalidOptions, f.name, f.v)
		}
	}
	if o.Cluster != "" && !identRE.MatchString(o.Cluster) {
		return o, fmt.Errorf("%w: Cluster %q is not an identifier", ErrInvalidOptions, o.Cluster)
	}
	// The derived names must stay identifiers too.
	if len(o.Table)+len(DefaultRollupSuffix)+len("_mv")+len(LocalSuffix) > 63 {
		return o, fmt.Errorf("%w: Table %q is too long for its derived names", ErrInvalidOptions, o.Table)
	}
	if o.TTLDays < 0 || o.TTLDays > maxTTLDays {
		return o, fmt.Errorf("%w: TTLDays %d not in [0, %d]", ErrInvalidOptions, o.TTLDays, maxTTLDays)
	}
	switch o.Layout {
	case LayoutAuto, LayoutCompat, LayoutModern:
	default:
		return o, fmt.Errorf("%w: unknown Layout %d", ErrInvalidOptions, int(o.Layout))
	}
	return o, nil
}

// RollupTable returns the name of the daily rollup table for these options.
func (o Options) RollupTable() string {
	t := o.Table
	if t == "" {
		t = DefaultTable
	}
	return t + DefaultRollupSuffix
}
