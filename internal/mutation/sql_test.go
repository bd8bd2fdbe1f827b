package mutation_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/mutation"
)

// TestSQLMutantsApplyOnce keeps the table of SQL mutants in step with the
// files it mutates: every snippet occurs exactly once, every ID is unique
// and well formed, every package exists. It runs under make test, where
// the mutants themselves do not.
func TestSQLMutantsApplyOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	id := regexp.MustCompile(`^(pg|ch)(-[a-z0-9]+)+$`)
	seen := map[string]bool{}
	for _, m := range mutation.SQLMutants {
		t.Run(m.ID, func(t *testing.T) {
			require.Regexp(t, id, m.ID)
			require.False(t, seen[m.ID], "duplicate ID")
			seen[m.ID] = true
			require.NotEmpty(t, m.Why)
			require.NotEmpty(t, m.Packages)
			for _, p := range m.Packages {
				require.True(t, strings.HasPrefix(p, "./"), "package %q: want ./dir", p)
				fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
				require.NoError(t, err)
				require.True(t, fi.IsDir())
			}
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
			require.NoError(t, err)
			mutated, line, err := m.Apply(src)
			require.NoError(t, err)
			require.NotEqual(t, string(src), string(mutated))
			require.Greater(t, line, 0)
			lines := strings.Split(string(src), "\n")
			require.LessOrEqual(t, line, len(lines))
			first, _, _ := strings.Cut(m.Old, "\n")
			require.Contains(t, lines[line-1], strings.TrimSpace(first), "line %d", line)
		})
	}
}

func TestSQLMutantApply(t *testing.T) {
	m := mutation.SQLMutant{ID: "pg-x", File: "f.sql", Old: "a <= b", New: "a < b"}

	got, line, err := m.Apply([]byte("-- c\nSELECT 1\nWHERE a <= b;\n"))
	require.NoError(t, err)
	require.Equal(t, "-- c\nSELECT 1\nWHERE a < b;\n", string(got))
	require.Equal(t, 3, line)

	_, _, err = m.Apply([]byte("WHERE a <= b OR a <= b"))
	require.ErrorContains(t, err, "occurs 2 times in f.sql")
	_, _, err = m.Apply([]byte("WHERE a < b"))
	require.ErrorContains(t, err, "occurs 0 times")

	_, _, err = mutation.SQLMutant{ID: "pg-y", Old: "x", New: "x"}.Apply([]byte("x"))
	require.ErrorContains(t, err, "no change")
	_, _, err = mutation.SQLMutant{ID: "pg-z", New: "x"}.Apply([]byte("x"))
	require.ErrorContains(t, err, "empty snippet")
}

// TestTextPinningTestsExist keeps TextPinningTests in step with the tests
// and examples it names: a renamed golden test would otherwise run under
// the SQL mutants and kill every one of them.
func TestTextPinningTestsExist(t *testing.T) {
	names := strings.Split(strings.TrimSuffix(strings.TrimPrefix(mutation.TextPinningTests, "^("), ")$"), "|")
	require.NotEmpty(t, names)
	var sources strings.Builder
	dirs := map[string]bool{}
	for _, m := range mutation.SQLMutants {
		for _, p := range m.Packages {
			dirs[p] = true
		}
	}
	for dir := range dirs {
		files, err := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(dir), "*_test.go"))
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			sources.Write(b)
		}
	}
	for _, name := range names {
		require.Regexp(t, `^(Test|Example)[A-Za-z0-9_]*$`, name)
		require.Contains(t, sources.String(), "\nfunc "+name+"(", "TextPinningTests names %s, which no package of the table has", name)
	}
}
