package journal

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// initialEstimate is the encoded size assumed for a record before the
// writer has measured any.
const initialEstimate = 512

// encoder turns queued records into segment bytes. Only the writer
// goroutine uses it: it owns the segment being filled, the origins and the
// chunks of bytes not yet written.
type encoder struct {
	p        *Processor
	seg      uint64 // the segment being filled
	segBytes int64  // its size: header, entries written and pending
	segRecs  int    // records in it

	origins     map[originKey]uint64
	originOf    []*origin // by id
	originBytes int64     // size of the origin entries, written again at the start of each segment
	lastKey     originKey
	lastID      uint64

	chunks     []*chunk // bytes to write, one chunk per segment
	spare      []*chunk
	freeChunks []*chunk // written chunks, whose buffers are reused
	// The records encoded since the last publish: their index in the
	// queue and the end of their entry.
	idx  []int
	ends []position
}

type chunk struct {
	seg  uint64
	data []byte
}

type originKey struct {
	res                   *resource.Resource
	name, version, schema string
	scopeAttrs            attribute.Distinct
}

// liveRing keeps the records last written, for targets that are caught
// up: a target whose reader stands at a slot's prev takes the records from
// there straight from memory instead of decoding them from the file. It is
// guarded by p.posMu; slots lo..hi-1 (modulo its size) are valid.
type liveRing struct {
	slots  []liveSlot
	lo, hi uint64
}

type liveSlot struct {
	prev, end position // the journal position before and after the record's entry (entries of other kinds aside)
	rec       sdklog.Record
	journaled int64
}

// liveRecords is the size of the live ring.
const liveRecords = 2048

func (e *encoder) cur() *chunk {
	if n := len(e.chunks); n > 0 && e.chunks[n-1].seg == e.seg {
		return e.chunks[n-1]
	}
	var c *chunk
	if n := len(e.freeChunks); n > 0 {
		c = e.freeChunks[n-1]
		e.freeChunks = e.freeChunks[:n-1]
	} else {
		c = &chunk{}
	}
	c.seg, c.data = e.seg, c.data[:0]
	e.chunks = append(e.chunks, c)
	return c
}

// encode appends the entries to the chunks and returns the bytes they
// added beyond their estimates. A record that cannot be journaled is
// refused here: counted, reported, and told to its waiting caller.
func (e *encoder) encode(q []entry) (delta int64) {
	p := e.p
	for i := range q {
		en := &q[i]
		delta -= en.est
		before := e.size()
		id := e.origin(&en.rec)
		c := e.cur()
		start := len(c.data)
		var fs int
		var err error
		c.data, fs = beginFrame(c.data)
		c.data, err = appendRecord(c.data, id, en.journaled, &en.rec)
		n := len(c.data) - start
		reason := ""
		switch {
		case err != nil:
			reason = ReasonUnencodable
		case n-frameHeader > p.cfg.maxRecordBytes:
			reason = ReasonTooLarge
			err = fmt.Errorf("%w: %d bytes encoded, at most %d", ErrTooLarge, n-frameHeader, p.cfg.maxRecordBytes)
		}
		if reason != "" {
			c.data = c.data[:start]
			p.stats.drop(reason)
			p.stats.refusedLate.Add(1)
			p.reporter.drop(reason, err)
			if en.wait != nil {
				en.wait.err = &DropError{Reason: reason, Count: 1, Err: err}
			}
			delta += e.size() - before
			continue
		}
		endFrame(c.data, fs)
		if e.segRecs > 0 && e.segBytes+int64(n) > p.cfg.segmentBytes {
			rec := append([]byte(nil), c.data[start:]...)
			c.data = c.data[:start]
			e.rotate()
			c = e.cur()
			c.data = append(c.data, rec...)
		}
		e.segBytes += int64(n)
		e.segRecs++
		e.idx = append(e.idx, i)
		e.ends = append(e.ends, position{seg: e.seg, off: e.segBytes})
		delta += e.size() - before
		// A running estimate, for the size checks of later appends.
		est := p.estimate.Load()
		p.estimate.Store(est + (int64(n)-est)/16)
	}
	return delta
}

// size is the total of the bytes the encoder has assigned, for deltas.
func (e *encoder) size() int64 {
	var n int64
	for _, c := range e.chunks {
		n += int64(len(c.data))
	}
	return n
}

// origin returns the id of r's resource and scope, appending an origin
// entry when they are new.
func (e *encoder) origin(r *sdklog.Record) uint64 {
	scope := r.InstrumentationScope()
	k := originKey{res: r.Resource(), name: scope.Name, version: scope.Version, schema: scope.SchemaURL}
	if scope.Attributes.Len() > 0 {
		k.scopeAttrs = scope.Attributes.Equivalent()
	}
	if k == e.lastKey && len(e.originOf) > 0 {
		return e.lastID
	}
	id, ok := e.origins[k]
	if !ok {
		id = uint64(len(e.originOf))
		o := newOrigin(k.res, scope)
		e.origins[k] = id
		e.originOf = append(e.originOf, o)
		e.appendOriginFrame(id, o, false)
	}
	e.lastKey, e.lastID = k, id
	return id
}

func newOrigin(res *resource.Resource, scope instrumentation.Scope) *origin {
	o := &origin{scopeName: scope.Name, scopeVer: scope.Version, scopeSchema: scope.SchemaURL, scopeAttrs: scope.Attributes.ToSlice()}
	if res != nil {
		o.resSchema, o.resAttrs = res.SchemaURL(), res.Attributes()
	}
	return o
}

// appendOriginFrame writes an origin entry into the current chunk.
func (e *encoder) appendOriginFrame(id uint64, o *origin, rewrite bool) {
	c := e.cur()
	start := len(c.data)
	var fs int
	c.data, fs = beginFrame(c.data)
	var err error
	c.data, err = appendOrigin(c.data, id, o)
	if err != nil {
		// Resource or scope attributes nested past the limit: journal
		// the origin without them rather than lose its records.
		c.data = c.data[:fs+frameHeader]
		c.data, _ = appendOrigin(c.data, id, &origin{scopeName: o.scopeName, scopeVer: o.scopeVer, scopeSchema: o.scopeSchema})
	}
	endFrame(c.data, fs)
	n := int64(len(c.data) - start)
	if !rewrite {
		e.originBytes += n
	}
	e.segBytes += n
}

// rotate starts the next segment: a chunk with its header and every
// origin.
func (e *encoder) rotate() {
	e.seg++
	c := e.cur()
	c.data = appendSegHeader(c.data, e.seg)
	e.segBytes, e.segRecs = int64(len(c.data)), 0
	for id, o := range e.originOf {
		e.appendOriginFrame(uint64(id), o, true)
	}
}

// take returns the chunks to write, and starts new ones.
func (e *encoder) take() []*chunk {
	cs := e.chunks
	e.chunks = e.spare[:0]
	e.spare = nil
	return cs
}

// publish puts the records encoded since the last publish into the live
// ring; start is the journal position before the first. p.posMu must be
// held.
func (e *encoder) publish(r *liveRing, q []entry, start position) {
	if r.slots == nil {
		r.slots = make([]liveSlot, liveRecords)
	}
	prev := start
	for k, i := range e.idx {
		s := &r.slots[r.hi%uint64(len(r.slots))]
		*s = liveSlot{prev: prev, end: e.ends[k], rec: q[i].rec, journaled: q[i].journaled}
		prev = e.ends[k]
		r.hi++
	}
	if r.hi-r.lo > uint64(len(r.slots)) {
		r.lo = r.hi - uint64(len(r.slots))
	}
	e.idx, e.ends = e.idx[:0], e.ends[:0]
}

// recycle gives written chunks back.
func (e *encoder) recycle(cs []*chunk) {
	for _, c := range cs {
		if cap(c.data) <= 4*e.p.cfg.writeBufferBytes && len(e.freeChunks) < 4 {
			e.freeChunks = append(e.freeChunks, c)
		}
	}
	e.spare = cs[:0]
}
