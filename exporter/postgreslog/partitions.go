package postgreslog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionsAhead is how many partitions after an event's own the exporter
// has created along with it, so that the first event of the next month
// finds its partition ready.
const partitionsAhead = 1

// span is a partition's range [lo, hi), in pgMicros.
type span struct{ lo, hi int64 }

func (s span) has(t int64) bool { return s.lo <= t && t < s.hi }

// partitionCache remembers which time ranges have a partition. Ranges only
// come from the database (the registry, or the partition function), and are
// forgotten when an insert finds one missing (retention dropped it).
type partitionCache struct {
	mu     sync.RWMutex
	spans  []span // sorted by lo, disjoint
	loaded bool   // the registry has been read since the last reset
}

// lookup returns the cached range that holds t.
func (c *partitionCache) lookup(t int64) (span, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(c.spans, t, func(s span, t int64) int {
		switch {
		case s.hi <= t:
			return -1
		case s.lo > t:
			return 1
		}
		return 0
	})
	if i < len(c.spans) && c.spans[i].has(t) {
		return c.spans[i], true
	}
	return span{}, false
}

func (c *partitionCache) add(ss ...span) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range ss {
		i, found := slices.BinarySearchFunc(c.spans, s, func(a, b span) int {
			switch {
			case a.lo < b.lo:
				return -1
			case a.lo > b.lo:
				return 1
			}
			return 0
		})
		if !found {
			c.spans = slices.Insert(c.spans, i, s)
		}
	}
}

func (c *partitionCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans, c.loaded = nil, false
}

// load reads the partition registry once after each reset. A failure is
// not an error: the rows whose range is not known are written after
// ensure has been called for them.
func (e *Exporter) loadPartitions(ctx context.Context) {
	e.parts.mu.RLock()
	loaded := e.parts.loaded
	e.parts.mu.RUnlock()
	if loaded {
		return
	}
	ss, err := querySpans(ctx, e.pool, false, e.stmts.ListPartitions)
	if err != nil {
		return
	}
	e.parts.add(ss...)
	e.parts.mu.Lock()
	e.parts.loaded = true
	e.parts.mu.Unlock()
}

// ensurePartition makes sure the partition holding t (pgMicros) exists, and
// the one after it, and caches their ranges. When the partition function
// refuses to create it (outside its window), the error is a *windowError.
func (e *Exporter) ensurePartition(ctx context.Context, t int64) error {
	at := fromPgMicros(t)
	ss, err := querySpans(ctx, e.pool, true, e.stmts.EnsurePartitions, at, at, partitionsAhead)
	if isWindowRefusal(err) {
		return &windowError{t: at, err: err}
	}
	if err != nil {
		return fmt.Errorf("ensure the partition for %s: %w", at.Format(time.RFC3339Nano), err)
	}
	e.parts.add(ss...)
	return nil
}

// querier runs a query: a pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// querySpans runs sql through q, whose rows are (partition, lo, hi) and,
// when withCreated, created, and returns the ranges.
func querySpans(ctx context.Context, q querier, withCreated bool, sql string, args ...any) ([]span, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var name string
	var lo, hi time.Time
	var created bool
	dest := []any{&name, &lo, &hi}
	if withCreated {
		dest = append(dest, &created)
	}
	var ss []span
	_, err = pgx.ForEachRow(rows, dest, func() error {
		ss = append(ss, span{pgMicros(lo), pgMicros(hi)})
		return nil
	})
	return ss, err
}
