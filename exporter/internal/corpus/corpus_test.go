package corpus_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
)

// TestCasesMatchTheMapping keeps the corpus honest: each case's outcome is
// what auditrow does with the record after the SDK has emitted it.
func TestCasesMatchTheMapping(t *testing.T) {
	cases := corpus.Cases()
	recs := corpus.Records(cases)
	require.Len(t, recs, len(cases))
	m := auditrow.NewMapper(auditrow.Options{})
	ids := map[string]string{}
	for i, c := range cases {
		row, err := m.MapRecord(&recs[i])
		if !c.Stored {
			require.Error(t, err, c.Name)
			require.Equal(t, c.Reason, auditrow.ReasonOf(err), c.Name)
			continue
		}
		require.NoError(t, err, c.Name)
		require.Equal(t, c.Markers, row.Sanitized, c.Name)
		require.Equal(t, corpus.ServiceName, row.ServiceName, c.Name)
		id := row.EventID.String()
		require.NotContains(t, ids, id, "%s has the same id as %s", c.Name, ids[id])
		ids[id] = c.Name
	}
}
