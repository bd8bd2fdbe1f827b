package postgreslog

import "sync/atomic"

// Stats counts what an Exporter did since it was created. Every record
// given to Export ends in exactly one of Written, Duplicates, Rejected or
// Failed.
type Stats struct {
	// Exported counts the records given to Export.
	Exported uint64
	// Written counts rows inserted.
	Written uint64
	// Duplicates counts records whose row was already stored (same
	// created_at and event id): an export repeated by a retry upstream, a
	// record given twice, or a commit that succeeded but whose
	// acknowledgement was lost and was retried.
	Duplicates uint64
	// Rejected counts records that will never be stored, by reason (the
	// Reason constants).
	Rejected map[string]uint64
	// Failed counts records Export could not confirm as written, because it
	// returned an error (retries exhausted, the context ended, the table is
	// missing). Most were not written; a statement in flight when the
	// context ended may still have committed. Exporting them again is safe:
	// what is already stored counts as Duplicates.
	Failed uint64
	// Retries counts attempts repeated after a transient error.
	Retries uint64
}

type counters struct {
	exported, written, duplicates, failed, retries atomic.Uint64
	rejected                                       [len(reasonIndex)]atomic.Uint64
}

// reasonIndex numbers the reasons for the counters.
var reasonIndex = [...]string{ReasonNonAudit, ReasonInvalidAction, ReasonTimeOutOfRange, ReasonRefusedByPostgres, ReasonOther}

func (c *counters) reject(reason string) {
	for i, r := range reasonIndex {
		if r == reason {
			c.rejected[i].Add(1)
			return
		}
	}
	c.rejected[len(reasonIndex)-1].Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Exported:   c.exported.Load(),
		Written:    c.written.Load(),
		Duplicates: c.duplicates.Load(),
		Failed:     c.failed.Load(),
		Retries:    c.retries.Load(),
		Rejected:   make(map[string]uint64, len(reasonIndex)),
	}
	for i, r := range reasonIndex {
		s.Rejected[r] = c.rejected[i].Load()
	}
	return s
}
