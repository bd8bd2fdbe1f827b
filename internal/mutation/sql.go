package mutation

import (
	"bytes"
	"fmt"
)

// SQLMutant is one hand-written mutant of the SQL that Go mutation tools do
// not reach: an embedded .sql file, or SQL text inside a Go file.
type SQLMutant struct {
	// ID names the mutant in reports: lower-case words joined by "-",
	// starting with "pg-" or "ch-".
	ID string
	// File is the mutated file, slash-separated, relative to the module
	// root. It must hold the text in effect: a function body that a later
	// migration replaces (CREATE OR REPLACE) is dead code, and its mutants
	// survive whatever the tests check.
	File string
	// Old is replaced by New. Old must occur exactly once in File, so that
	// an edit of the file that moves or changes the snippet breaks the table
	// loudly instead of mutating something else, or nothing.
	Old, New string
	// Packages are the packages ("./schema/pgschema") whose tests should
	// kill the mutant, cheapest first: they run one after the other until
	// one fails.
	Packages []string
	// Why says what is wrong with the mutated SQL: the bug a surviving
	// mutant lets through.
	Why string
}

// Apply returns src with m.Old replaced by m.New, and the 1-based line on
// which m.Old starts. It fails unless m.Old occurs exactly once in src.
func (m SQLMutant) Apply(src []byte) (mutated []byte, line int, err error) {
	if m.Old == "" || m.Old == m.New {
		return nil, 0, fmt.Errorf("mutation: sql mutant %s: empty snippet, or no change", m.ID)
	}
	old := []byte(m.Old)
	if n := bytes.Count(src, old); n != 1 {
		return nil, 0, fmt.Errorf("mutation: sql mutant %s: snippet occurs %d times in %s, want exactly once", m.ID, n, m.File)
	}
	i := bytes.Index(src, old)
	line = 1 + bytes.Count(src[:i], []byte("\n"))
	return bytes.Replace(src, old, []byte(m.New), 1), line, nil
}

// Package groups used by the table.
var (
	postgresPkgs   = []string{"./schema/pgschema", "./exporter/postgreslog"}
	clickhousePkgs = []string{"./schema/chschema", "./exporter/clickhouselog"}
	chSchemaPkgs   = []string{"./schema/chschema"}
)

// Files of the table.
const (
	pgWriter     = "schema/pgschema/sql/writer.sql"
	pgWriterRole = "schema/pgschema/sql/writer_role.sql"
	pgAppendOnly = "schema/pgschema/sql/migrations/0002_append_only.sql"
	pgPartitions = "schema/pgschema/sql/migrations/0003_partition_functions.sql"
	// 0004 replaces 0003's function bodies (CREATE OR REPLACE keeps
	// 0003's grants): mutants of what the functions do go here.
	pgPartitionLimits = "schema/pgschema/sql/migrations/0004_partition_limits.sql"
	// 0007 replaces 0006's trigger function and erasure function.
	pgErasure   = "schema/pgschema/sql/migrations/0007_erasure_targets.sql"
	chAuditLogs = "schema/chschema/migrations/0001_audit_logs.sql"
	chRollup    = "schema/chschema/migrations/0002_daily_rollup.sql"
	chRetention = "schema/chschema/retention.go"
	chQueries   = "schema/chschema/queries/"
)

// SQLMutants is the table of SQL mutants that `make mutate` runs. Each is a
// bug that a plausible edit could bring in and that the tests must catch.
var SQLMutants = []SQLMutant{
	// Postgres: the writer's statements.
	{
		ID:       "pg-stage-keeps-rows",
		File:     pgWriter,
		Old:      "({{columnDefs}}) ON COMMIT DELETE ROWS",
		New:      "({{columnDefs}})",
		Packages: postgresPkgs,
		Why:      "the staging table keeps a batch's rows after its transaction: the next batch on the connection inserts them again",
	},
	{
		ID:       "pg-stage-insert-not-idempotent",
		File:     pgWriter,
		Old:      "FROM pg_temp.{{.Stage}} ON CONFLICT DO NOTHING",
		New:      "FROM pg_temp.{{.Stage}}",
		Packages: postgresPkgs,
		Why:      "a retried batch fails on the primary key instead of skipping the rows already written",
	},
	{
		ID:       "pg-insert-not-idempotent",
		File:     pgWriter,
		Old:      "VALUES ({{params}}) ON CONFLICT DO NOTHING",
		New:      "VALUES ({{params}})",
		Packages: postgresPkgs,
		Why:      "a retried row-by-row insert fails on the primary key instead of skipping the row",
	},
	// Postgres: the writer role.
	{
		ID:       "pg-writer-may-select",
		File:     pgWriterRole,
		Old:      "GRANT INSERT ON {{.Table}} TO {{.WriterRole}};",
		New:      "GRANT INSERT, SELECT ON {{.Table}} TO {{.WriterRole}};",
		Packages: postgresPkgs,
		Why:      "the writer role, meant to insert only, can read every audit row",
	},
	{
		ID:       "pg-ensure-public-execute",
		File:     pgPartitions,
		Old:      "REVOKE ALL ON FUNCTION {{qname \"_ensure_partitions\"}}(timestamptz, timestamptz, integer) FROM PUBLIC;",
		New:      "",
		Packages: postgresPkgs,
		Why:      "any role, not only the writer, may run the SECURITY DEFINER partition function as the table's owner",
	},
	// Postgres: append-only.
	{
		ID:       "pg-erasure-any-column",
		File:     pgErasure,
		Old:      "                NEW.resource, NEW.attributes,\n",
		New:      "                NEW.attributes,\n",
		Packages: []string{"./schema/pgschema"},
		Why:      "inside an erasure the owner's UPDATE may change the resource type too, which erasure never needs",
	},
	{
		ID:       "pg-erasure-not-owner",
		File:     pgErasure,
		Old:      "= (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)",
		New:      "<> 0",
		Packages: []string{"./schema/pgschema"},
		Why:      "any role with UPDATE that sets otelaudit.erasure may rewrite the personal fields and JSON values of any row",
	},
	{
		ID:       "pg-erasure-keys-everywhere",
		File:     pgErasure,
		Old:      "CASE WHEN a.resource = 'user' AND a.resource_id = subject THEN keys ELSE '{}' END)\n                           ELSE a.details END",
		New:      "keys)\n                           ELSE a.details END",
		Packages: []string{"./schema/pgschema"},
		Why:      "erasure blanks e-mail addresses and names in the user's own rows, which describe other people",
	},
	{
		ID:       "pg-erasure-keep-ignored",
		File:     pgErasure,
		Old:      "OR (a.resource = 'user' AND a.resource_id = subject AND a.event_id <> ALL (keep))",
		New:      "OR (a.resource = 'user' AND a.resource_id = subject)",
		Packages: []string{"./schema/pgschema"},
		Why:      "rows sealed under seal version 1 that name the user as target are changed and returned, so they fail verification",
	},
	{
		ID:       "pg-erasure-other-ids-kept",
		File:     pgErasure,
		Old:      "        ELSIF j #>> '{}' = ANY (others) THEN\n            RETURN '\"[erased]\"'::jsonb;\n",
		New:      "",
		Packages: []string{"./schema/pgschema"},
		Why:      "the user's names and e-mail addresses stay inside details after erasure",
	},
	{
		ID:       "pg-delete-allowed",
		File:     pgAppendOnly,
		Old:      "BEFORE UPDATE OR DELETE ON {{.Table}}",
		New:      "BEFORE UPDATE ON {{.Table}}",
		Packages: postgresPkgs,
		Why:      "audit rows can be deleted",
	},
	{
		ID:   "pg-partition-truncate-allowed",
		File: pgPartitionLimits,
		Old: "            EXECUTE format('CREATE TRIGGER otelaudit_append_only_truncate BEFORE TRUNCATE ON %I.%I '\n" +
			"                'FOR EACH STATEMENT EXECUTE FUNCTION {{qname \"_refuse_change\"}}()', {{.SchemaLit}}, partition);\n",
		New:      "",
		Packages: postgresPkgs,
		Why:      "a partition can be truncated directly (statement triggers are not cloned onto partitions)",
	},
	// Postgres: partitions and retention.
	{
		ID:       "pg-ensure-session-timezone",
		File:     pgPartitionLimits,
		Old:      "SECURITY DEFINER\nSET search_path = pg_catalog, pg_temp\nSET timezone = 'UTC'\n",
		New:      "SECURITY DEFINER\nSET search_path = pg_catalog, pg_temp\n",
		Packages: postgresPkgs,
		Why:      "partition bounds follow the caller's TimeZone setting instead of UTC: months start at local midnight",
	},
	{
		ID:       "pg-ensure-reversed-range",
		File:     pgPartitionLimits,
		Old:      "p_to IS NULL OR p_to < p_from OR p_ahead",
		New:      "p_to IS NULL OR p_ahead",
		Packages: postgresPkgs,
		Why:      "a reversed range [to, from] is accepted and silently ensures nothing",
	},
	{
		ID:       "pg-ensure-ahead-ignored",
		File:     pgPartitionLimits,
		Old:      "FOR i IN 1..least(p_ahead, {{.MaxPartitionsPerCall}}) LOOP",
		New:      "FOR i IN 1..least(0, {{.MaxPartitionsPerCall}}) LOOP",
		Packages: postgresPkgs,
		Why:      "no partitions are created ahead of time: the first write of a new month pays for creating one",
	},
	{
		ID:       "pg-ensure-no-upper-window",
		File:     pgPartitionLimits,
		Old:      "IF v_cur < v_min OR v_cur >= v_max THEN",
		New:      "IF v_cur < v_min THEN",
		Packages: postgresPkgs,
		Why:      "a writer can create partitions for any future time, a flood of tables for the owner to clean up",
	},
	{
		ID:       "pg-retention-boundary",
		File:     pgPartitionLimits,
		Old:      "WHERE p.hi <= p_cutoff AND p.lo > p_after",
		New:      "WHERE p.hi < p_cutoff AND p.lo > p_after",
		Packages: postgresPkgs,
		Why:      "a partition that ends exactly at the cutoff is kept one retention run too long",
	},
	{
		ID:       "pg-retention-cutoff-week-late",
		File:     pgPartitionLimits,
		Old:      "WHERE p.hi <= p_cutoff AND p.lo > p_after",
		New:      "WHERE p.hi <= p_cutoff + interval '7 days' AND p.lo > p_after",
		Packages: postgresPkgs,
		Why:      "retention drops partitions that still hold rows newer than the cutoff",
	},
	// ClickHouse: the schema.
	{
		ID:       "ch-sort-key-without-event-id",
		File:     chAuditLogs,
		Old:      "ORDER BY (workspace_id, action, time, event_id)",
		New:      "ORDER BY (workspace_id, action, time)",
		Packages: clickhousePkgs,
		Why:      "ReplacingMergeTree collapses different events of one workspace, action and second into one row on merge",
	},
	{
		ID:       "ch-rollup-counts-successes",
		File:     chRollup,
		Old:      "countIf(outcome = 'failure') AS failures",
		New:      "countIf(outcome = 'success') AS failures",
		Packages: clickhousePkgs,
		Why:      "the daily rollup counts successes as failures",
	},
	// ClickHouse: retention and the rollup rebuild (SQL in Go).
	{
		ID:       "ch-retention-boundary",
		File:     chRetention,
		Old:      "if !monthEnd.After(cutoff) {",
		New:      "if monthEnd.Before(cutoff) {",
		Packages: chSchemaPkgs,
		Why:      "a month that ends exactly at the cutoff is kept one retention run too long",
	},
	{
		ID:       "ch-retention-cutoff-week-late",
		File:     chRetention,
		Old:      "cutoff := now.UTC().AddDate(0, 0, -o.TTLDays)",
		New:      "cutoff := now.UTC().AddDate(0, 0, -o.TTLDays+7)",
		Packages: chSchemaPkgs,
		Why:      "retention drops months that still hold rows newer than TTLDays",
	},
	{
		ID:       "ch-rebuild-rollup-duplicates",
		File:     chRetention,
		Old:      `" LIMIT 1 BY event_id)"`,
		New:      `")"`,
		Packages: chSchemaPkgs,
		Why:      "RebuildRollup counts every copy of a re-sent event",
	},
	// ClickHouse: the analyst query pack.
	{
		ID:       "ch-settings-changes-duplicates",
		File:     chQueries + "05_settings_changes.sql",
		Old:      "ORDER BY time_unix_nano, event_id\nLIMIT 1 BY event_id",
		New:      "ORDER BY time_unix_nano, event_id",
		Packages: chSchemaPkgs,
		Why:      "settings_changes lists an event once per copy until parts merge",
	},
	{
		ID:       "ch-user-activity-duplicates",
		File:     chQueries + "10_user_activity.sql",
		Old:      "ORDER BY time_unix_nano, event_id\nLIMIT 1 BY event_id",
		New:      "ORDER BY time_unix_nano, event_id",
		Packages: chSchemaPkgs,
		Why:      "user_activity (a subject access request) lists an event once per copy until parts merge",
	},
	{
		ID:       "ch-oauth-churn-from-exclusive",
		File:     chQueries + "06_oauth_churn.sql",
		Old:      `time >= {{time "from"}} AND time < {{time "to"}}`,
		New:      `time > {{time "from"}} AND time < {{time "to"}}`,
		Packages: chSchemaPkgs,
		Why:      "oauth_churn leaves out events at the window's first instant",
	},
	{
		ID:       "ch-oauth-churn-to-inclusive",
		File:     chQueries + "06_oauth_churn.sql",
		Old:      `time >= {{time "from"}} AND time < {{time "to"}}`,
		New:      `time >= {{time "from"}} AND time <= {{time "to"}}`,
		Packages: chSchemaPkgs,
		Why:      "oauth_churn counts events at the window's end, which belong to the next window",
	},
	{
		ID:       "ch-failed-logins-threshold",
		File:     chQueries + "02_failed_logins_by_ip.sql",
		Old:      "HAVING failures >= @min_failures",
		New:      "HAVING failures > @min_failures",
		Packages: chSchemaPkgs,
		Why:      "failed_logins_by_ip leaves out the IPs with exactly min_failures failures",
	},
}

// TextPinningTests matches the tests and examples that compare SQL text
// with an expected copy (golden files, literal statements, an example's
// output): they fail for any edit of the SQL, wanted or not, and are
// updated along with a wanted one, so they say nothing about whether a
// change of behaviour is caught. The SQL mutants run with these skipped
// (go test -skip).
const TextPinningTests = `^(TestDDLGolden|TestQueriesGolden|TestWriterStatements|ExampleDDL|ExampleQueryByName)$`
