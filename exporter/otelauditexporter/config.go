package otelauditexporter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Config is the exporter's configuration: at least one of Postgres and
// ClickHouse, the handling of records that are not audit records, and
// the exporterhelper's timeout, sending queue and retries.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is the sending queue; "storage: file_storage/NAME" puts
	// it on disk, so that records survive a restart.
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// Postgres writes into the audit table of schema/pgschema.
	Postgres PostgresConfig `mapstructure:"postgres"`
	// ClickHouse writes into the audit table of schema/chschema.
	ClickHouse ClickHouseConfig `mapstructure:"clickhouse"`

	// NonAudit says what happens to records whose event name is not
	// "audit.<action>": NonAuditDrop (default), NonAuditStore or
	// NonAuditReject.
	NonAudit string `mapstructure:"non_audit"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// What happens to records that are not audit records (Config.NonAudit).
const (
	// NonAuditDrop drops them and counts them (the metric
	// otelaudit.exporter.records with otelaudit.reject.reason=non_audit):
	// other logs sharing the pipeline are expected.
	NonAuditDrop = "drop"
	// NonAuditStore stores them in the audit table, action = their event
	// name (or "log"), body in details, marker event_name:non_audit.
	NonAuditStore = "store"
	// NonAuditReject refuses them as a permanent error, so that a sender
	// waiting for the result (no sending queue) sees them refused.
	NonAuditReject = "reject"
)

// PostgresConfig is where records go in Postgres. Empty DSN: not written
// to Postgres.
type PostgresConfig struct {
	// DSN is a pgx connection string or URL.
	DSN string `mapstructure:"dsn"`
	// Schema and Table name the audit table (default public.audit_logs).
	Schema string `mapstructure:"schema"`
	Table  string `mapstructure:"table"`
	// Migrate creates or upgrades the table (pgschema.Migrate) before the
	// first write; the DSN's user must then own the table.
	Migrate bool `mapstructure:"migrate"`
}

// ClickHouseConfig is where records go in ClickHouse. Empty DSN: not
// written to ClickHouse.
type ClickHouseConfig struct {
	// DSN is a clickhouse-go DSN: clickhouse://user:password@host:9000/db.
	DSN string `mapstructure:"dsn"`
	// Database and Table name the audit table (default: the DSN's
	// database, else "default"; audit_logs).
	Database string `mapstructure:"database"`
	Table    string `mapstructure:"table"`
	// Migrate creates or upgrades the table (chschema.Migrate) before the
	// first write.
	Migrate bool `mapstructure:"migrate"`
}

// Default settings of the parts of Config the exporter adds.
const (
	// DefaultTimeout bounds each attempt to write one batch.
	DefaultTimeout = 30 * time.Second
)

// Validate checks the configuration without touching any database.
func (c *Config) Validate() error {
	var errs []error
	if c.Postgres.DSN == "" && c.ClickHouse.DSN == "" {
		errs = append(errs, errors.New("no store: set postgres.dsn, clickhouse.dsn or both"))
	}
	switch c.NonAudit {
	case NonAuditDrop, NonAuditStore, NonAuditReject:
	default:
		errs = append(errs, fmt.Errorf("non_audit: %q is not one of drop, store, reject", c.NonAudit))
	}
	if c.Postgres.DSN != "" {
		if _, err := pgschema.Writer(c.pgSchema()); err != nil {
			errs = append(errs, fmt.Errorf("postgres: %w", err))
		}
		if !strings.Contains(c.Postgres.DSN, "=") && !strings.Contains(c.Postgres.DSN, "://") {
			errs = append(errs, errors.New("postgres.dsn: not a connection string or URL"))
		}
	}
	if c.ClickHouse.DSN != "" {
		if _, err := chschema.InsertTarget(c.chSchema("default")); err != nil {
			errs = append(errs, fmt.Errorf("clickhouse: %w", err))
		}
		if !strings.Contains(c.ClickHouse.DSN, "://") {
			errs = append(errs, errors.New("clickhouse.dsn: not a URL (clickhouse://user:password@host:9000/database)"))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) pgSchema() pgschema.Options {
	return pgschema.Options{Schema: c.Postgres.Schema, Table: c.Postgres.Table}
}

// chSchema returns the ClickHouse table options; dsnDatabase is the DSN's
// database, used when Database is empty.
func (c *Config) chSchema(dsnDatabase string) chschema.Options {
	db := c.ClickHouse.Database
	if db == "" {
		db = dsnDatabase
	}
	if db == "" {
		db = "default"
	}
	return chschema.Options{Database: db, Table: c.ClickHouse.Table}
}
