package journal

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what a Processor did since it was created. Every record
// given to OnEmit is either Skipped (not an audit record), Dropped (refused,
// by reason) or Accepted (journaled); every accepted record is eventually
// Delivered or DeadLettered by each target, possibly by a later Processor
// on the same directory.
type Stats struct {
	// Accepted counts records appended to the journal.
	Accepted uint64
	// Skipped counts records that are not audit records, left to other
	// processors (see WithIncludeNonAudit).
	Skipped uint64
	// Dropped counts refused records by reason (the Reason constants).
	Dropped map[string]uint64
	// Damaged counts damaged stretches of segment files that recovery
	// skipped (a torn last write, flipped bits), and DamagedBytes their
	// size. The complete records around them are delivered.
	Damaged, DamagedBytes uint64
	// WriteErrors and SyncErrors count failed writes (retried) and fsyncs.
	WriteErrors, SyncErrors uint64
	// Bytes is the journal's size: segment files plus records not yet
	// written to them.
	Bytes int64
	// Targets holds each exporter's delivery, by target name.
	Targets map[string]TargetStats
}

// TargetStats is the delivery to one exporter.
type TargetStats struct {
	// Delivered counts records the exporter confirmed (Export returned
	// nil) and did not refuse.
	Delivered uint64
	// DeadLettered counts records the exporter refused for their content,
	// or that failed with a permanent error, written to the dead-letter
	// file.
	DeadLettered uint64
	// Retried counts failed Export calls that were retried.
	Retried uint64
	// FailedExports counts Export calls that returned an error.
	FailedExports uint64
	// Backlog is the journal bytes not yet confirmed by this exporter.
	Backlog int64
	// OldestUnconfirmed is how long ago the oldest record this exporter
	// is working on was journaled; zero when it is idle.
	OldestUnconfirmed time.Duration
}

type counters struct {
	skipped, damaged, damagedBytes, writeErrors, syncErrors atomic.Uint64
	refusedLate                                             atomic.Uint64 // appended, then refused by the writer
	dropped                                                 [len(dropReasons)]atomic.Uint64
}

func (c *counters) drop(reason string) {
	for i, r := range dropReasons {
		if r == reason {
			c.dropped[i].Add(1)
			return
		}
	}
}

// Stats returns the Processor's counters.
func (p *Processor) Stats() Stats {
	p.mu.Lock()
	accepted, size := p.seq, p.size
	p.mu.Unlock()
	p.posMu.Lock()
	end := p.written
	p.posMu.Unlock()
	s := Stats{
		Accepted:     accepted - p.stats.refusedLate.Load(),
		Skipped:      p.stats.skipped.Load(),
		Dropped:      make(map[string]uint64, len(dropReasons)),
		Damaged:      p.stats.damaged.Load(),
		DamagedBytes: p.stats.damagedBytes.Load(),
		WriteErrors:  p.stats.writeErrors.Load(),
		SyncErrors:   p.stats.syncErrors.Load(),
		Bytes:        size,
		Targets:      make(map[string]TargetStats, len(p.targets)),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = p.stats.dropped[i].Load()
	}
	now := p.cfg.now()
	for _, t := range p.targets {
		ts := TargetStats{
			Delivered:     t.delivered.Load(),
			DeadLettered:  t.deadLettered.Load(),
			Retried:       t.retried.Load(),
			FailedExports: t.failedExports.Load(),
			Backlog:       p.bytesBetween(t.confirmed(), end),
		}
		if j := t.journaled.Load(); j != 0 {
			ts.OldestUnconfirmed = max(now.Sub(time.Unix(0, j)), 0)
		}
		s.Targets[t.name] = ts
	}
	return s
}

// reporter hands errors to the error handler, at most one per key and
// second: drops are summed up meanwhile and reported with their count.
type reporter struct {
	onError func(error)
	mu      sync.Mutex
	last    map[string]time.Time
	pending map[string]*DropError
}

const reportEvery = time.Second

func (r *reporter) due(key string, now time.Time) bool {
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	if t, ok := r.last[key]; ok && now.Sub(t) < reportEvery {
		return false
	}
	r.last[key] = now
	return true
}

// report hands err to the handler unless one of the same key went out less
// than a second ago.
func (r *reporter) report(key string, err error) {
	r.mu.Lock()
	ok := r.due(key, time.Now())
	r.mu.Unlock()
	if ok {
		r.call(err)
	}
}

// drop counts a refused record and reports the refusals of its reason,
// summed, at most once a second.
func (r *reporter) drop(reason string, err error) {
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[string]*DropError{}
	}
	d := r.pending[reason]
	if d == nil {
		d = &DropError{Reason: reason, Err: err}
		r.pending[reason] = d
	}
	d.Count++
	var out *DropError
	if r.due("drop:"+reason, time.Now()) {
		out = d
		delete(r.pending, reason)
	}
	r.mu.Unlock()
	if out != nil {
		r.call(out)
	}
}

// flush reports the drops not reported yet.
func (r *reporter) flush() {
	r.mu.Lock()
	out := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, d := range out {
		r.call(d)
	}
}

func (r *reporter) call(err error) {
	defer func() { _ = recover() }()
	r.onError(err)
}
