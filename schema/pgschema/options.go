package pgschema

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
)

// Defaults of [Options]. A zero field means its default.
const (
	DefaultSchema = "public"
	DefaultTable  = "audit_logs"
	// DefaultAhead is how many partitions after the current one Migrate
	// creates: with monthly partitions, the next three months.
	DefaultAhead = 3
	// DefaultBackMonthly and DefaultBackDaily are the default
	// [Options.Back]: a year of monthly partitions, a month of daily ones.
	DefaultBackMonthly = 12
	DefaultBackDaily   = 31
	// MaxAhead and MaxBack bound [Options.Ahead] and [Options.Back].
	MaxAhead = 400
	MaxBack  = 1_000_000
)

// MaxTableLen is the longest table name accepted, in bytes: Postgres
// identifiers are at most 63 bytes, and the objects named after the table
// add up to 23 bytes ("_drop_partitions_before").
const MaxTableLen = 40

// maxIdentLen is the longest schema or role name accepted.
const maxIdentLen = 63

// Interval is the time span of one partition.
type Interval int

// Partition intervals. The zero value is [Monthly].
const (
	// Monthly partitions cover one calendar month in UTC and are named
	// <table>_pYYYYMM.
	Monthly Interval = iota
	// Daily partitions cover one calendar day in UTC and are named
	// <table>_pYYYYMMDD.
	Daily
)

// String returns "month" or "day".
func (i Interval) String() string {
	switch i {
	case Monthly:
		return "month"
	case Daily:
		return "day"
	}
	return fmt.Sprintf("interval(%d)", int(i))
}

// nameFormat is the to_char pattern of partition name suffixes.
func (i Interval) nameFormat() string {
	if i == Daily {
		return "YYYYMMDD"
	}
	return "YYYYMM"
}

// Options name the audit table and tune its schema. The zero value means the
// defaults: table public.audit_logs, monthly partitions, three created ahead,
// late events' partitions created up to a year back, no writer role.
type Options struct {
	// Schema holds the table and its helper objects. It is created when
	// missing. Default: "public".
	Schema string
	// Table is the audit table's name; its partitions and helper objects are
	// named after it. Default: "audit_logs".
	Table string
	// WriterRole, when set, is created (NOLOGIN) if missing and granted what
	// an exporter needs and nothing more: INSERT on the table, EXECUTE on the
	// partition function, SELECT on the partition registry. Grant it to the
	// service's login role.
	WriterRole string
	// ReaderRole, when set, is created (NOLOGIN) if missing and granted
	// what the read side needs and nothing more: USAGE on the schema,
	// SELECT on the table, the partition registry and the migrations
	// table. Grant it to the login role of whoever reads the trail (the
	// otelaudit command's search, tail, export and query, a dashboard).
	ReaderRole string
	// Interval is the span of one partition. It is fixed by the first
	// Migrate: the partition function is created for it, and a later Migrate
	// with another interval fails with [ErrChecksumMismatch].
	Interval Interval
	// Ahead is how many partitions after the current one Migrate creates;
	// it is also how far ahead the partition function creates partitions
	// for writers (at least one after the current one, whatever Ahead).
	// Default: [DefaultAhead]. A negative value means none. At most
	// [MaxAhead].
	Ahead int
	// Back is how many partitions before the current one the partition
	// function creates for late events: an event older than that whose
	// partition does not exist is refused (the Postgres exporter rejects
	// it, reason time_out_of_range), so that nobody allowed to write can
	// make the function create partitions without end. Migrate records it
	// on every run, so it may change. Default: [DefaultBackMonthly] for
	// monthly partitions, [DefaultBackDaily] for daily ones. A negative
	// value means none: only the current partition and later. At most
	// [MaxBack].
	Back int
}

// ErrInvalidOptions is returned (wrapped) for options that name objects
// with identifiers this package does not accept, or an unknown interval.
var ErrInvalidOptions = errors.New("pgschema: invalid options")

// identRE is what schema, table and role names must match: lower-case
// unquoted Postgres identifiers, so that the quoted name and the name a
// person types without quotes are the same.
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// withDefaults fills in the defaults and validates the result.
func (o Options) withDefaults() (Options, error) {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Ahead == 0 {
		o.Ahead = DefaultAhead
	} else if o.Ahead < 0 {
		o.Ahead = 0
	}
	if o.Back == 0 {
		o.Back = DefaultBackMonthly
		if o.Interval == Daily {
			o.Back = DefaultBackDaily
		}
	} else if o.Back < 0 {
		o.Back = 0
	}
	if o.Ahead > MaxAhead {
		return o, fmt.Errorf("%w: Ahead %d is more than %d", ErrInvalidOptions, o.Ahead, MaxAhead)
	}
	if o.Back > MaxBack {
		return o, fmt.Errorf("%w: Back %d is more than %d", ErrInvalidOptions, o.Back, MaxBack)
	}
	if err := checkIdent("schema", o.Schema, maxIdentLen); err != nil {
		return o, err
	}
	if err := checkIdent("table", o.Table, MaxTableLen); err != nil {
		return o, err
	}
	if strings.HasPrefix(o.Schema, "pg_") {
		return o, fmt.Errorf("%w: schema %q: the pg_ prefix is reserved", ErrInvalidOptions, o.Schema)
	}
	if o.WriterRole != "" {
		if err := checkIdent("writer role", o.WriterRole, maxIdentLen); err != nil {
			return o, err
		}
		if strings.HasPrefix(o.WriterRole, "pg_") {
			return o, fmt.Errorf("%w: writer role %q: the pg_ prefix is reserved", ErrInvalidOptions, o.WriterRole)
		}
	}
	if o.ReaderRole != "" {
		if err := checkIdent("reader role", o.ReaderRole, maxIdentLen); err != nil {
			return o, err
		}
		if strings.HasPrefix(o.ReaderRole, "pg_") {
			return o, fmt.Errorf("%w: reader role %q: the pg_ prefix is reserved", ErrInvalidOptions, o.ReaderRole)
		}
		if o.ReaderRole == o.WriterRole {
			return o, fmt.Errorf("%w: reader role %q is also the writer role: give readers a role of their own", ErrInvalidOptions, o.ReaderRole)
		}
	}
	if o.Interval != Monthly && o.Interval != Daily {
		return o, fmt.Errorf("%w: unknown interval %d", ErrInvalidOptions, int(o.Interval))
	}
	return o, nil
}

// Validate reports whether o is usable: identifiers that are lower-case
// ASCII letters, digits and underscores, not starting with a digit, a table
// name of at most [MaxTableLen] bytes, and a known interval.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

func checkIdent(what, s string, maxLen int) error {
	switch {
	case len(s) > maxLen:
		return fmt.Errorf("%w: %s name %q is longer than %d bytes", ErrInvalidOptions, what, s, maxLen)
	case !identRE.MatchString(s):
		return fmt.Errorf("%w: %s name %q must be lower-case letters, digits and underscores, not starting with a digit", ErrInvalidOptions, what, s)
	}
	return nil
}

// lockKey returns the advisory lock key of one purpose for the table: a
// 64-bit FNV-1a hash of the purpose and the qualified name.
func (o Options) lockKey(purpose string) int64 {
	h := fnv.New64a()
	h.Write([]byte("otelaudit/" + purpose + "/" + o.Schema + "." + o.Table))
	return int64(h.Sum64())
}
