package clickhouselog

import (
	"sync"
	"sync/atomic"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// Stats counts what the Exporter did with the records it was given. Every
// record handed to Export ends up in exactly one of Written, Rejected,
// RefusedByServer or Failed; AlreadyStored counts rows found written
// after an ambiguous failure and not sent again (they are part of Written).
type Stats struct {
	// Written rows are in the table.
	Written uint64
	// Sanitized counts mapped rows that needed a change (Row.Sanitized, or
	// a clamped time).
	Sanitized uint64
	// AlreadyStored rows were found in the table before a retry (a send
	// that failed after the server had written it) and were not sent again.
	AlreadyStored uint64
	// Retried counts attempts after a transient error.
	Retried uint64
	// Rejected counts records the mapping refused, by auditrow.ReasonOf:
	// "non_audit", "invalid_action", "other".
	Rejected map[string]uint64
	// RefusedByServer counts rows the server refused on their own (found
	// by bisecting a refused batch).
	RefusedByServer uint64
	// Failed counts rows not written because of an error that retries did
	// not overcome (server down past the retry budget, missing table).
	Failed uint64
}

type counters struct {
	written, sanitized, alreadyStored, retried, refused, failed atomic.Uint64

	mu       sync.Mutex
	rejected map[string]uint64
}

func (c *counters) reject(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[auditrow.ReasonOf(err)]++
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Written:         c.written.Load(),
		Sanitized:       c.sanitized.Load(),
		AlreadyStored:   c.alreadyStored.Load(),
		Retried:         c.retried.Load(),
		RefusedByServer: c.refused.Load(),
		Failed:          c.failed.Load(),
		Rejected:        map[string]uint64{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.rejected {
		s.Rejected[k] = v
	}
	return s
}
