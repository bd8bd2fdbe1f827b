// Package envconfig reads the OTELAUDIT_* environment variables that
// configure the exporters and the journal: their names, in one list (the
// README's configuration table documents each), and their parsing.
//
// As for the OTEL_* variables of the OpenTelemetry SDK, an unset or empty
// variable means the default, and an option given in code wins over the
// environment. Unlike the SDK, which ignores a value it cannot parse, a
// constructor that meets one returns an error naming the variable: a
// misconfigured audit trail should fail to start, not start with its
// defaults.
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Prefix starts every variable's name.
const Prefix = "OTELAUDIT_"

// The variables of exporter/postgreslog.
const (
	PostgresDSN                  = "OTELAUDIT_POSTGRES_DSN"
	PostgresSchema               = "OTELAUDIT_POSTGRES_SCHEMA"
	PostgresTable                = "OTELAUDIT_POSTGRES_TABLE"
	PostgresMaxCopyBytes         = "OTELAUDIT_POSTGRES_MAX_COPY_BYTES"
	PostgresWriters              = "OTELAUDIT_POSTGRES_WRITERS"
	PostgresRetryEnabled         = "OTELAUDIT_POSTGRES_RETRY_ENABLED"
	PostgresRetryInitialInterval = "OTELAUDIT_POSTGRES_RETRY_INITIAL_INTERVAL"
	PostgresRetryMaxInterval     = "OTELAUDIT_POSTGRES_RETRY_MAX_INTERVAL"
	PostgresRetryMaxElapsedTime  = "OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME"
)

// The variables of exporter/clickhouselog.
const (
	ClickHouseDSN                  = "OTELAUDIT_CLICKHOUSE_DSN"
	ClickHouseDatabase             = "OTELAUDIT_CLICKHOUSE_DATABASE"
	ClickHouseTable                = "OTELAUDIT_CLICKHOUSE_TABLE"
	ClickHouseLayout               = "OTELAUDIT_CLICKHOUSE_LAYOUT"
	ClickHouseRetryEnabled         = "OTELAUDIT_CLICKHOUSE_RETRY_ENABLED"
	ClickHouseRetryInitialInterval = "OTELAUDIT_CLICKHOUSE_RETRY_INITIAL_INTERVAL"
	ClickHouseRetryMaxInterval     = "OTELAUDIT_CLICKHOUSE_RETRY_MAX_INTERVAL"
	ClickHouseRetryMaxElapsedTime  = "OTELAUDIT_CLICKHOUSE_RETRY_MAX_ELAPSED_TIME"
)

// The variables of exporter/journal.
const (
	JournalDir                  = "OTELAUDIT_JOURNAL_DIR"
	JournalSync                 = "OTELAUDIT_JOURNAL_SYNC"
	JournalSyncInterval         = "OTELAUDIT_JOURNAL_SYNC_INTERVAL"
	JournalMaxBytes             = "OTELAUDIT_JOURNAL_MAX_BYTES"
	JournalFullWait             = "OTELAUDIT_JOURNAL_FULL_WAIT"
	JournalSegmentBytes         = "OTELAUDIT_JOURNAL_SEGMENT_BYTES"
	JournalMaxRecordBytes       = "OTELAUDIT_JOURNAL_MAX_RECORD_BYTES"
	JournalWriteBufferBytes     = "OTELAUDIT_JOURNAL_WRITE_BUFFER_BYTES"
	JournalWriteStallTimeout    = "OTELAUDIT_JOURNAL_WRITE_STALL_TIMEOUT"
	JournalMaxExportBatchSize   = "OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_SIZE"
	JournalMaxExportBatchBytes  = "OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_BYTES"
	JournalExportTimeout        = "OTELAUDIT_JOURNAL_EXPORT_TIMEOUT"
	JournalRetryInitialInterval = "OTELAUDIT_JOURNAL_RETRY_INITIAL_INTERVAL"
	JournalRetryMaxInterval     = "OTELAUDIT_JOURNAL_RETRY_MAX_INTERVAL"
	JournalIncludeNonAudit      = "OTELAUDIT_JOURNAL_INCLUDE_NON_AUDIT"
)

// Names returns the name of every variable, in the order of the README's
// table.
func Names() []string {
	return []string{
		PostgresDSN, PostgresSchema, PostgresTable, PostgresMaxCopyBytes, PostgresWriters,
		PostgresRetryEnabled, PostgresRetryInitialInterval, PostgresRetryMaxInterval, PostgresRetryMaxElapsedTime,
		ClickHouseDSN, ClickHouseDatabase, ClickHouseTable, ClickHouseLayout,
		ClickHouseRetryEnabled, ClickHouseRetryInitialInterval, ClickHouseRetryMaxInterval, ClickHouseRetryMaxElapsedTime,
		JournalDir, JournalSync, JournalSyncInterval, JournalMaxBytes, JournalFullWait,
		JournalSegmentBytes, JournalMaxRecordBytes, JournalWriteBufferBytes, JournalWriteStallTimeout,
		JournalMaxExportBatchSize, JournalMaxExportBatchBytes, JournalExportTimeout,
		JournalRetryInitialInterval, JournalRetryMaxInterval, JournalIncludeNonAudit,
	}
}

// Reader reads variables and collects the errors of the values it cannot
// use. The zero value reads the process's environment.
type Reader struct {
	// Lookup replaces os.LookupEnv when not nil.
	Lookup func(string) (string, bool)
	errs   []error
}

// String returns the variable's value, trimmed of spaces; ok is false when
// it is unset or empty.
func (r *Reader) String(name string) (v string, ok bool) {
	lookup := r.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, _ = lookup(name)
	v = strings.TrimSpace(v)
	return v, v != ""
}

// Int returns the variable as a positive integer.
func (r *Reader) Int(name string) (int, bool) {
	s, ok := r.String(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err == nil && n <= 0 {
		err = errors.New("not positive")
	}
	if err != nil {
		r.Fail(name, s, err)
		return 0, false
	}
	return n, true
}

// Bytes returns the variable as a positive size in bytes: an integer,
// optionally followed by KiB, MiB or GiB ("8MiB", "1 GiB").
func (r *Reader) Bytes(name string) (int64, bool) {
	s, ok := r.String(name)
	if !ok {
		return 0, false
	}
	n, err := parseBytes(s)
	if err != nil {
		r.Fail(name, s, err)
		return 0, false
	}
	return n, true
}

func parseBytes(s string) (int64, error) {
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil:
		return 0, errors.New("want a number of bytes, optionally followed by KiB, MiB or GiB")
	case n <= 0:
		return 0, errors.New("not positive")
	case n > (1<<62)/unit:
		return 0, errors.New("too large")
	}
	return n * unit, nil
}

// Duration returns the variable as a duration: an integer is a number of
// milliseconds, as in the OTEL_* variables (OTEL_BLRP_EXPORT_TIMEOUT), and
// anything else a Go duration ("50ms", "1m30s"). Negative values are
// refused.
func (r *Reader) Duration(name string) (time.Duration, bool) {
	s, ok := r.String(name)
	if !ok {
		return 0, false
	}
	var d time.Duration
	ms, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		if ms > int64(time.Duration(1<<62)/time.Millisecond) {
			err = errors.New("too large")
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			err = errors.New(`want milliseconds or a Go duration such as "50ms" or "1m"`)
		}
	}
	if err == nil && d < 0 {
		err = errors.New("negative")
	}
	if err != nil {
		r.Fail(name, s, err)
		return 0, false
	}
	return d, true
}

// Bool returns the variable as a boolean: "true" or "false", in any case.
func (r *Reader) Bool(name string) (v, ok bool) {
	s, ok := r.String(name)
	if !ok {
		return false, false
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	r.Fail(name, s, errors.New(`want "true" or "false"`))
	return false, false
}

// Fail records that the variable's value cannot be used.
func (r *Reader) Fail(name, value string, err error) {
	r.errs = append(r.errs, fmt.Errorf("environment variable %s=%q: %w", name, value, err))
}

// Err returns the errors recorded, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }
