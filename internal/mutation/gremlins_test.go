package mutation_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit/internal/mutation"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func readGremlins(t *testing.T, name, pkg string) mutation.Summary {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	s, err := mutation.ReadGremlins(f, pkg)
	require.NoError(t, err)
	return s
}

func TestReadGremlins(t *testing.T) {
	s := readGremlins(t, "gremlins-small.json", "exporter/x")
	require.Equal(t, mutation.Summary{
		Package:    "exporter/x",
		Killed:     3, // two KILLED, one TIMED OUT
		Survived:   3,
		TimedOut:   1,
		NotCovered: 1,
		NotViable:  1,
		Survivors: []mutation.Mutant{
			{File: "exporter/x/a.go", Line: 30, Column: 11, Mutator: "CONDITIONALS_BOUNDARY", Status: mutation.Lived},
			{File: "exporter/x/b.go", Line: 9, Column: 3, Mutator: "CONDITIONALS_BOUNDARY", Status: mutation.Lived},
			{File: "exporter/x/b.go", Line: 9, Column: 3, Mutator: "CONDITIONALS_NEGATION", Status: mutation.Lived},
		},
	}, s)
	score, ok := s.Score()
	require.True(t, ok)
	require.InDelta(t, 0.5, score, 1e-9)

	var b strings.Builder
	require.NoError(t, s.Write(&b))
	require.Equal(t, `mutation package=exporter/x killed=3 survived=3 score=0.50 timed_out=1 not_covered=1 not_viable=1
survived exporter/x/a.go:30:11 CONDITIONALS_BOUNDARY
survived exporter/x/b.go:9:3 CONDITIONALS_BOUNDARY
survived exporter/x/b.go:9:3 CONDITIONALS_NEGATION
`, b.String())
}

// TestReadGremlinsRealReport reads a report written by gremlins v0.6.0
// (exporter/auditrow), so that a change of its format shows here.
func TestReadGremlinsRealReport(t *testing.T) {
	s := readGremlins(t, "gremlins-auditrow.json", "exporter/auditrow")
	require.Equal(t, "mutation package=exporter/auditrow killed=72 survived=21 score=0.77 timed_out=1 not_covered=3 not_viable=0", s.Line())
	require.Len(t, s.Survivors, 21)
	require.Equal(t, "exporter/auditrow/mapper.go:340:18 CONDITIONALS_BOUNDARY", s.Survivors[0].String())
}

func TestReadGremlinsNoMutant(t *testing.T) {
	s, err := mutation.ReadGremlins(strings.NewReader(`{"files":[]}`), "bridge")
	require.NoError(t, err)
	_, ok := s.Score()
	require.False(t, ok)
	require.Equal(t, "mutation package=bridge killed=0 survived=0 score=n/a timed_out=0 not_covered=0 not_viable=0", s.Line())
}

func TestReadGremlinsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":       `KILLED at a.go:1`,
		"dry run":        `{"files":[{"file_name":"a.go","mutations":[{"type":"ARITHMETIC_BASE","status":"RUNNABLE","line":1,"column":1}]}]}`,
		"unknown status": `{"files":[{"file_name":"a.go","mutations":[{"type":"ARITHMETIC_BASE","status":"ZOMBIE","line":1,"column":1}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mutation.ReadGremlins(strings.NewReader(in), "bridge")
			require.Error(t, err)
			require.Contains(t, err.Error(), "bridge")
		})
	}
}
