package pgschema_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts pgschema.Options
		ok   bool
	}{
		{"zero value is the defaults", pgschema.Options{}, true},
		{"custom names", pgschema.Options{Schema: "audit", Table: "events_v2", WriterRole: "audit_writer", Interval: pgschema.Daily}, true},
		{"upper case", pgschema.Options{Table: "AuditLogs"}, false},
		{"quote in table", pgschema.Options{Table: `audit"; DROP TABLE x; --`}, false},
		{"space in schema", pgschema.Options{Schema: "my schema"}, false},
		{"leading digit", pgschema.Options{Table: "1audit"}, false},
		{"table too long", pgschema.Options{Table: strings.Repeat("a", pgschema.MaxTableLen+1)}, false},
		{"table at the limit", pgschema.Options{Table: strings.Repeat("a", pgschema.MaxTableLen)}, true},
		{"schema too long", pgschema.Options{Schema: strings.Repeat("s", 64)}, false},
		{"reserved schema", pgschema.Options{Schema: "pg_catalog"}, false},
		{"reserved role", pgschema.Options{WriterRole: "pg_write_all_data"}, false},
		{"role with dash", pgschema.Options{WriterRole: "audit-writer"}, false},
		{"unknown interval", pgschema.Options{Interval: pgschema.Interval(7)}, false},
		{"window at its limits", pgschema.Options{Ahead: pgschema.MaxAhead, Back: pgschema.MaxBack}, true},
		{"too far ahead", pgschema.Options{Ahead: pgschema.MaxAhead + 1}, false},
		{"too far back", pgschema.Options{Back: pgschema.MaxBack + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, pgschema.ErrInvalidOptions)
		})
	}
}

func TestWriterStatements(t *testing.T) {
	w, err := pgschema.Writer(pgschema.Options{Schema: "audit", Table: "events"})
	require.NoError(t, err)
	require.Equal(t, "audit.events", w.Table)
	var names []string
	for _, c := range pgschema.Columns() {
		names = append(names, `"`+c.Name+`"`)
	}
	cols := strings.Join(names, ", ")
	require.Equal(t, `COPY "audit"."events" (`+cols+`) FROM STDIN WITH (FORMAT binary)`, w.Copy)
	require.Equal(t, `COPY pg_temp."otelaudit_stage_events" (`+cols+`) FROM STDIN WITH (FORMAT binary)`, w.CopyStage)
	require.Equal(t, `INSERT INTO "audit"."events" (`+cols+`) SELECT `+cols+` FROM pg_temp."otelaudit_stage_events" ON CONFLICT DO NOTHING`, w.InsertFromStage)
	require.Equal(t, `INSERT INTO "audit"."events" (`+cols+`) VALUES ($1::timestamptz, $2::uuid, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, `+
		`$9::inet, $10::text, $11::text, $12::text, $13::text, $14::jsonb, $15::jsonb, $16::jsonb, $17::jsonb, $18::text, $19::text, $20::text, `+
		`$21::text[], $22::timestamptz) ON CONFLICT DO NOTHING`, w.Insert)
	require.Equal(t, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'relation' AND pid = pg_catalog.pg_backend_pid() `+
		`AND relation = '"audit"."events"'::pg_catalog.regclass)`, w.HoldsLock)
	require.Contains(t, w.CreateStage, `CREATE TEMPORARY TABLE IF NOT EXISTS "otelaudit_stage_events" ("created_at" timestamptz, "event_id" uuid,`)
	require.Equal(t, `SELECT partition, lo, hi, created FROM "audit"."events_ensure_partitions"($1, $2, $3)`, w.EnsurePartitions)
	require.Equal(t, `SELECT partition, lo, hi FROM "audit"."events_partitions" ORDER BY lo`, w.ListPartitions)

	w, err = pgschema.Writer(pgschema.Options{})
	require.NoError(t, err)
	require.Equal(t, "public.audit_logs", w.Table, "the defaults")

	_, err = pgschema.Writer(pgschema.Options{Table: "Bad"})
	require.ErrorIs(t, err, pgschema.ErrInvalidOptions)
}

func TestMigrationsRender(t *testing.T) {
	ms, err := pgschema.Migrations(pgschema.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		require.Equal(t, i+1, m.Version, "versions are 1, 2, 3, ...")
		require.NotContains(t, m.SQL, "{{", "%s: unrendered template", m.Name)
		require.NotContains(t, m.SQL, "<no value>", m.Name)
		require.Len(t, m.Checksum, 64)
	}

	window, err := pgschema.Migrations(pgschema.Options{Ahead: 7, Back: 40})
	require.NoError(t, err)
	for i := range ms {
		require.Equal(t, ms[i].Checksum, window[i].Checksum, "the window is recorded by Migrate, not part of a migration")
	}

	daily, err := pgschema.Migrations(pgschema.Options{Interval: pgschema.Daily})
	require.NoError(t, err)
	require.NotEqual(t, ms[3].Checksum, daily[3].Checksum, "the interval is part of the partition function (0004)")
}
