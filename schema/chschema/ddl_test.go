package chschema_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -run %s -update", t.Name())
	require.Equal(t, string(want), got, "DDL differs from %s; if intended, run go test -update", path)
}

func TestDDLGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		layout chschema.Layout
		opts   chschema.Options
	}{
		{"compat.sql", chschema.LayoutCompat, chschema.Options{}},
		{"compat_ttl_ignored.sql", chschema.LayoutCompat, chschema.Options{Database: "audit", TTLDays: 365}},
		{"modern.sql", chschema.LayoutModern, chschema.Options{}},
		{"modern_ttl.sql", chschema.LayoutModern, chschema.Options{Database: "audit", Table: "events", TTLDays: 365}},
		{"modern_cluster.sql", chschema.LayoutModern, chschema.Options{Database: "audit", Cluster: "analytics", TTLDays: 90}},
		{"compat_cluster.sql", chschema.LayoutCompat, chschema.Options{Database: "audit", Cluster: "analytics"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			stmts, err := chschema.DDL(tc.layout, tc.opts)
			require.NoError(t, err)
			golden(t, tc.file, strings.Join(stmts, ";\n\n")+";\n")
		})
	}
}

func TestDDLModernOnlyFeatures(t *testing.T) {
	compat, err := chschema.DDL(chschema.LayoutCompat, chschema.Options{TTLDays: 30})
	require.NoError(t, err)
	modern, err := chschema.DDL(chschema.LayoutModern, chschema.Options{TTLDays: 30})
	require.NoError(t, err)
	c, m := strings.Join(compat, "\n"), strings.Join(modern, "\n")
	for _, feature := range []string{"DateTime64", "LowCardinality", "Map(", "CODEC(", "TTL ", "bloom_filter"} {
		require.NotContains(t, c, feature, "the compat layout must not use %s (ClickHouse 18.16 lacks it)", feature)
		require.Contains(t, m, feature)
	}
	require.Contains(t, c, "time_ns UInt32")
	require.Contains(t, c, "attr_keys Array(String)")
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts chschema.Options
	}{
		{"backtick in database", chschema.Options{Database: "a`; DROP TABLE x; --"}},
		{"space in table", chschema.Options{Table: "audit logs"}},
		{"dot in table", chschema.Options{Table: "db.audit"}},
		{"leading digit", chschema.Options{Table: "1audit"}},
		{"quote in cluster", chschema.Options{Cluster: "c'"}},
		{"slash in migrations table", chschema.Options{MigrationsTable: "a/b"}},
		{"negative TTL", chschema.Options{TTLDays: -1}},
		{"huge TTL", chschema.Options{TTLDays: 1 << 30}},
		{"table too long for derived names", chschema.Options{Table: strings.Repeat("a", 60)}},
		{"unknown layout", chschema.Options{Layout: chschema.Layout(7)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chschema.DDL(chschema.LayoutCompat, tc.opts)
			require.ErrorIs(t, err, chschema.ErrInvalidOptions)
		})
	}
	_, err := chschema.DDL(chschema.LayoutAuto, chschema.Options{})
	require.ErrorIs(t, err, chschema.ErrInvalidOptions, "DDL needs a concrete layout")

	// The edges: a hundred years of TTL, and the longest table name whose
	// derived names (rollup, its view, the local table) fit in 63 bytes.
	longest := 63 - len(chschema.DefaultRollupSuffix) - len("_mv") - len(chschema.LocalSuffix)
	for _, ok := range []chschema.Options{{TTLDays: 36500}, {TTLDays: 0}, {Table: strings.Repeat("a", longest)}} {
		_, err := chschema.DDL(chschema.LayoutCompat, ok)
		require.NoError(t, err, "%+v", ok)
	}
	for _, bad := range []chschema.Options{{TTLDays: 36501}, {Table: strings.Repeat("a", longest+1)}} {
		_, err := chschema.DDL(chschema.LayoutCompat, bad)
		require.ErrorIs(t, err, chschema.ErrInvalidOptions, "%+v", bad)
	}
}

func TestLayoutForVersion(t *testing.T) {
	for v, want := range map[string]chschema.Layout{
		"18.16.1":     chschema.LayoutCompat,
		"21.8.15.7":   chschema.LayoutCompat,
		"22.1.3.7":    chschema.LayoutModern,
		"24.8.4.13":   chschema.LayoutModern,
		" 25.3.1.1\n": chschema.LayoutModern,
	} {
		got, err := chschema.LayoutForVersion(v)
		require.NoError(t, err, v)
		require.Equal(t, want, got, v)
	}
	for _, bad := range []string{"", "x.y", "-1.2", "0.1"} {
		_, err := chschema.LayoutForVersion(bad)
		require.Error(t, err, bad)
	}
	for _, l := range []chschema.Layout{chschema.LayoutAuto, chschema.LayoutCompat, chschema.LayoutModern} {
		back, err := chschema.ParseLayout(l.String())
		require.NoError(t, err)
		require.Equal(t, l, back)
	}
}

func TestQueriesGolden(t *testing.T) {
	for _, l := range []chschema.Layout{chschema.LayoutCompat, chschema.LayoutModern} {
		t.Run(l.String(), func(t *testing.T) {
			qs, err := chschema.Queries(l, chschema.Options{Database: "audit"})
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(qs), 8)
			var b strings.Builder
			for _, q := range qs {
				require.NotEmpty(t, q.Question, q.Name)
				require.NotEmpty(t, q.Params, q.Name)
				for _, p := range q.Params {
					name, _, _ := strings.Cut(p, " ")
					require.Contains(t, q.SQL, "@"+name, "%s: parameter %s unused", q.Name, name)
				}
				b.WriteString("-- " + q.Name + ": " + q.Question + "\n-- params: " + strings.Join(q.Params, ", ") + "\n" + q.SQL + ";\n\n")
			}
			golden(t, "queries_"+l.String()+".sql", b.String())
		})
	}
	_, err := chschema.QueryByName(chschema.LayoutCompat, chschema.Options{}, "nope")
	require.Error(t, err)
	q, err := chschema.QueryByName(chschema.LayoutModern, chschema.Options{}, "admin_actions")
	require.NoError(t, err)
	require.Contains(t, q.SQL, "toUnixTimestamp64Nano(time)")
}
