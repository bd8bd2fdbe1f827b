package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The ClickHouse side of erasure rewrites JSON text in Go; the Postgres
// side runs <table>_erase_json on jsonb. Both must give the same value, or
// a row erased before it is sealed differs between the stores. Each case
// runs through both and the results are compared as jsonb.
func TestEraseRuleAgreesWithPostgres(t *testing.T) {
	c := newCLI(t, false)
	subject, pseudonym := `u"0\é`, "erased_1"
	others := []string{"Ada", "ada@example.com", ""}
	keys := []string{"email", "name", "phone"}
	rule := newEraseRule(subject, pseudonym, others, keys)
	cases := []string{
		`{"a": "u\"0\\é", "b": ["Ada", "x", 1.50, 1e2, null, true], "c": {"d": "ada@example.com", "e": "ADA"}}`,
		`{"email": "x@y", "name": null, "phone": 5551234, "nested": {"name": {"first": "A"}, "k": [{"email": ["a"]}]}}`,
		`{"a": 1, "a": "Ada"}`,
		`["u\"0\\é", ["Ada", ["ada@example.com"]], {}, []]`,
		`"Ada"`, `"u\"0\\é"`, `"other"`, `5`, `null`, `true`, `{}`, `[]`,
		`{"emoji": "😀", "ctl": "\u0001", "html": "<a&b>", "Ada": "key kept"}`,
		`{"deep": [[[[{"email": "z", "v": "Ada"}]]]]}`,
	}
	for _, js := range cases {
		for _, target := range []bool{false, true} {
			got, changed := rule.apply(js, target)
			k := []string{}
			if target {
				k = keys
			}
			var same, pgChanged bool
			require.NoError(t, c.pg.QueryRow(testCtx(t), `SELECT audit_logs_erase_json($1::jsonb, $2, $3, $4, $5) = $6::jsonb,
				audit_logs_erase_json($1::jsonb, $2, $3, $4, $5) <> $1::jsonb`,
				js, subject, pseudonym, []string{"Ada", "ada@example.com"}, k, got).Scan(&same, &pgChanged))
			require.True(t, same, "%s (target %v): Go gives %s", js, target, got)
			require.Equal(t, pgChanged, changed, "%s (target %v)", js, target)
		}
	}
	got, changed := rule.apply(`{"a": "Ada"`, true)
	require.False(t, changed, "text that is not JSON is left as it is")
	require.Equal(t, `{"a": "Ada"`, got)
}

// TestDefaultEraseKeysMatchPostgres: --keys defaults to the list the
// Postgres function <table>_erase_user uses when called without keys.
func TestDefaultEraseKeysMatchPostgres(t *testing.T) {
	ms, err := pgschema.Migrations(pgschema.Options{})
	require.NoError(t, err)
	def := regexp.MustCompile(`keys text\[\] DEFAULT '\{([^}]*)\}'`)
	var found []string
	for _, m := range ms {
		if g := def.FindStringSubmatch(m.SQL); g != nil {
			found = strings.Split(g[1], ",")
		}
	}
	require.NotNil(t, found, "no keys default in the Postgres migrations")
	require.Equal(t, found, defaultEraseKeys)
}
