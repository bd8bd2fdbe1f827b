package seal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/seal"
)

// chUUID is a UUID literal for ClickHouse SQL.
func chUUID(id uuid.UUID) string { return "toUUID('" + id.String() + "')" }

// TestTamperingIsDetected tampers with a sealed log as the databases'
// superusers may, in each store, and checks that verification names the
// event and the store, and finds nothing else.
func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// tamper changes the stores and returns the findings expected.
		tamper func(f *fixture, ids []uuid.UUID) []seal.Finding
	}{
		{"postgres/update a field (session_replication_role = replica)", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.pgTamper("UPDATE audit_logs SET action = 'logout' WHERE event_id = $1", ids[3])
			return []seal.Finding{{Kind: seal.Edited, Store: "postgres", EventID: ids[3]}}
		}},
		{"postgres/update details jsonb", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			id := f.idWhere("details IS NOT NULL")
			f.pgTamper(`UPDATE audit_logs SET details = jsonb_set(details, '{count}', '101') WHERE event_id = $1`, id)
			return []seal.Finding{{Kind: seal.Edited, Store: "postgres", EventID: id}}
		}},
		{"postgres/update an attribute outside the contract", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			id := f.idWhere("attributes IS NOT NULL")
			f.pgTamper(`UPDATE audit_logs SET attributes = jsonb_set(attributes, '{invoice.amount}', '9.5') WHERE event_id = $1`, id)
			return []seal.Finding{{Kind: seal.Edited, Store: "postgres", EventID: id}}
		}},
		{"postgres/edit a personal field with the triggers disabled", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			part := f.partitionOf(ids[12])
			f.pgExec("ALTER TABLE " + part + " DISABLE TRIGGER USER")
			f.pgExec("UPDATE audit_logs SET ip_address = '198.51.100.1' WHERE event_id = $1", ids[12])
			f.pgExec("ALTER TABLE " + part + " ENABLE TRIGGER USER")
			return []seal.Finding{{Kind: seal.Edited, Store: "postgres", EventID: ids[12]}}
		}},
		{"postgres/delete a row", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.pgTamper("DELETE FROM audit_logs WHERE event_id = $1", ids[20])
			return []seal.Finding{{Kind: seal.Deleted, Store: "postgres", EventID: ids[20]}}
		}},
		{"postgres/insert a row into a sealed window, backdated", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			forged := uuid.Must(uuid.NewV7())
			f.pgTamper(`INSERT INTO audit_logs (created_at, event_id, action, outcome, user_id, ingested_at)
				SELECT created_at + interval '1 second', $2, action, outcome, 'usr_forged', created_at + interval '2 seconds' FROM audit_logs WHERE event_id = $1`, ids[15], forged)
			return []seal.Finding{{Kind: seal.Inserted, Store: "postgres", EventID: forged}}
		}},
		{"postgres/change the time order", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			// Swap the times of two rows of one window.
			f.pgTamper(`UPDATE audit_logs a SET created_at = b.created_at FROM audit_logs b
				WHERE (a.event_id, b.event_id) IN (($1::uuid, $2::uuid), ($2::uuid, $1::uuid))`, ids[6], ids[8])
			return []seal.Finding{
				{Kind: seal.Moved, Store: "postgres", EventID: ids[6]},
				{Kind: seal.Moved, Store: "postgres", EventID: ids[8]},
			}
		}},
		{"postgres/move a row to another window", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.pgTamper("UPDATE audit_logs SET created_at = created_at + interval '1 hour' WHERE event_id = $1", ids[2])
			return []seal.Finding{{Kind: seal.Moved, Store: "postgres", EventID: ids[2]}}
		}},
		{"clickhouse/update a field", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.chMutate("UPDATE user_agent = 'curl/8' WHERE event_id = " + chUUID(ids[7]))
			return []seal.Finding{{Kind: seal.Edited, Store: "clickhouse", EventID: ids[7]}}
		}},
		{"clickhouse/update details", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			id := f.idWhere("details IS NOT NULL")
			f.chMutate("UPDATE details = replaceOne(details, '100', '101') WHERE event_id = " + chUUID(id))
			return []seal.Finding{{Kind: seal.Edited, Store: "clickhouse", EventID: id}}
		}},
		{"clickhouse/delete a row", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.chMutate("DELETE WHERE event_id = " + chUUID(ids[25]))
			return []seal.Finding{{Kind: seal.Deleted, Store: "clickhouse", EventID: ids[25]}}
		}},
		{"clickhouse/insert a row into a sealed window", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			forged := uuid.Must(uuid.NewV7())
			require.NoError(t, f.chExp.Export(f.ctx, eventWithID(forged, f.base.Add(90*time.Minute))))
			return []seal.Finding{{Kind: seal.Inserted, Store: "clickhouse", EventID: forged}}
		}},
		{"clickhouse/replace a row: insert an edited copy, delete the original", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			// A re-insert alone does not replace a row (the first stored
			// version wins: chschema's firstversion test); an
			// administrator who also deletes the original does.
			f.chExec(f.chCopy(ids[11], "user_name", "'Mallory'"))
			f.chMutate("DELETE WHERE event_id = " + chUUID(ids[11]) + " AND user_name != 'Mallory'")
			return []seal.Finding{{Kind: seal.Edited, Store: "clickhouse", EventID: ids[11]}}
		}},
		{"clickhouse/change the time order", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.chExec(f.chCopy(ids[13], "time", "time + INTERVAL 1 SECOND"))
			// The original: its second in the compat layout (a DateTime);
			// in the modern one (a DateTime64), before the copy a second
			// later.
			orig := f.pgTime(ids[13])
			cond := fmt.Sprintf("time = toDateTime(%d)", orig.Unix())
			if f.chLay == chschema.LayoutModern {
				cond = "time < toDateTime64('" + orig.Add(500*time.Millisecond).UTC().Format("2006-01-02 15:04:05.000000000") + "', 9, 'UTC')"
			}
			f.chMutate(fmt.Sprintf("DELETE WHERE event_id = %s AND %s", chUUID(ids[13]), cond))
			return []seal.Finding{{Kind: seal.Moved, Store: "clickhouse", EventID: ids[13]}}
		}},
		{"both stores/delete the same row", func(f *fixture, ids []uuid.UUID) []seal.Finding {
			f.pgTamper("DELETE FROM audit_logs WHERE event_id = $1", ids[29])
			f.chMutate("DELETE WHERE event_id = " + chUUID(ids[29]))
			return []seal.Finding{
				{Kind: seal.Deleted, Store: "postgres", EventID: ids[29]},
				{Kind: seal.Deleted, Store: "clickhouse", EventID: ids[29]},
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _ := sealed(t)
			f.requireClean()
			want := tc.tamper(f, f.ids())
			res, err := f.verify()
			requireFound(t, res, err, want...)
			for _, w := range want {
				got := findings(res, w.Kind, w.Store)
				require.NotEmpty(t, got)
				require.NotZero(t, got[0].Seq+int64(len(got[0].Detail)), "a finding says where: %v", got[0])
			}
		})
	}
}

// TestClickHouseCopiesAreNotTampering: an unmerged identical copy of a
// sealed row (a re-sent batch) is not a finding, and the stores agree.
func TestClickHouseCopiesAreNotTampering(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	id := f.ids()[9]
	f.chExec("SYSTEM STOP MERGES `" + f.chOpts.Database + "`.audit_logs")
	t.Cleanup(func() { _ = f.ch.Exec(f.ctx, "SYSTEM START MERGES `"+f.chOpts.Database+"`.audit_logs") })
	f.chExec(f.chCopy(id, "", ""))
	res, err := f.verify()
	require.NoError(t, err)
	require.Empty(t, res.Findings)
	var ch int64
	for _, rr := range res.Ranges {
		require.True(t, rr.Agree, "range %v", rr.Start)
		ch += rr.Rows["clickhouse"]
	}
	require.EqualValues(t, 31, ch, "the copy was read")
}
