package seal

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestFindingString pins the one-line form of a finding: each part is
// present only when its field is set.
func TestFindingString(t *testing.T) {
	id := uuid.MustParse("018f2a3b-0000-7000-8000-000000000001")
	at := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.FixedZone("x", 3600))
	for f, want := range map[Finding]string{
		{Kind: Edited}: "edited",
		{Kind: Edited, Store: "postgres", Seq: 7, EventID: id, Time: at, Detail: "action differs"}: "edited in postgres (digest 7): event 018f2a3b-0000-7000-8000-000000000001 at 2026-01-02T02:04:05.6Z: action differs",
		{Kind: Deleted, Store: "clickhouse", EventID: id, Time: at}:                                "deleted in clickhouse: event 018f2a3b-0000-7000-8000-000000000001 at 2026-01-02T02:04:05.6Z",
		{Kind: BrokenChain, Seq: 3, Detail: "prev hash"}:                                           "broken_chain (digest 3): prev hash",
	} {
		require.Equal(t, want, f.String())
	}
}
