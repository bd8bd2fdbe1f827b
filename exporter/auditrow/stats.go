package auditrow

// ExportStats counts what an exporter did with the records given to it
// since it was created. Every exporter of this module reports this one
// type, with the same meaning.
//
// Every record given to Export (before Shutdown) ends in exactly one of
// Written, AlreadyStored, Rejected or Failed. While Exports run, Received
// may be ahead of that sum ([ExportStats.Settled]), never behind it.
// Retried and Sanitized count events of another kind, not records'
// outcomes.
type ExportStats struct {
	// Received counts the records given to Export.
	Received uint64
	// Written counts rows stored by this exporter.
	Written uint64
	// AlreadyStored counts records whose row was found stored already and
	// was not written again: an export repeated by a retry upstream, a
	// record given twice, or a write whose acknowledgement was lost and
	// that was retried. This is what makes delivery exactly-once.
	AlreadyStored uint64
	// Rejected counts records that will never be stored, by reason: every
	// key of [Reasons] is present, zero or not.
	Rejected map[string]uint64
	// Failed counts records Export could not confirm as stored, because it
	// returned an error (retries exhausted, the context ended, the table
	// is missing). Exporting them again is safe: what turns out to be
	// stored counts as AlreadyStored.
	Failed uint64
	// Retried counts attempts repeated after a transient error.
	Retried uint64
	// Sanitized counts mapped records that needed a change to be stored
	// (Row.Sanitized markers, or a time the exporter clamped), whatever
	// their outcome.
	Sanitized uint64
}

// Settled returns how many records have reached their outcome: Written +
// AlreadyStored + every Rejected + Failed. It equals Received when no
// Export is running.
func (s ExportStats) Settled() uint64 {
	n := s.Written + s.AlreadyStored + s.Failed
	for _, v := range s.Rejected {
		n += v
	}
	return n
}
