package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// reader reads one target's way through the journal: segment after
// segment, from its cursor, and rebuilds SDK records from the entries.
type reader struct {
	p    *Processor
	pos  position // where the next entry is read (after the last one read)
	skip position // entries before it were confirmed already (set at start)

	file *os.File
	sc   *scanner
	hdr  bool // the open segment's header was checked

	replays map[uint64]*replay
	arena   []byte // the current batch's entry bytes; strings alias it

	// idle is called with the reader's position when it has read
	// everything written and holds no record: what lies before it needs
	// no delivery.
	idle func(position)
}

// batch is what a reader hands to the delivery loop.
type batch struct {
	records   []sdklog.Record
	end       position // just after the last entry read
	journaled int64    // when the first record was journaled (unix ns)
}

const arenaChunk = 256 << 10

func newReader(p *Processor, from position) *reader {
	return &reader{p: p, pos: position{seg: from.seg}, skip: from, replays: map[uint64]*replay{}}
}

func (rd *reader) close() {
	if rd.file != nil {
		rd.file.Close()
		rd.file, rd.sc = nil, nil
	}
}

// next fills b with up to the batch limits of records, waiting until there
// is at least one. It returns false when ctx ends, or when the processor is
// draining and the reader has reached the end of the journal.
func (rd *reader) next(ctx context.Context, b *batch) bool {
	b.records = b.records[:0]
	b.journaled = 0
	rd.arena = nil
	bytes := 0
	for len(b.records) < rd.p.cfg.maxBatch && bytes < rd.p.cfg.maxBatchBytes {
		if rd.takeLive(b) {
			continue
		}
		payload, at, err := rd.entry()
		if err == nil {
			bytes += len(payload)
			rd.decode(payload, at, b)
			b.end = rd.pos
			continue
		}
		if !errors.Is(err, io.EOF) {
			rd.p.reporter.report("read", fmt.Errorf("journal: read segment %s: %w (retrying)", segName(rd.pos.seg), err))
			rd.close()
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return false
			}
			continue
		}
		if len(b.records) > 0 {
			break
		}
		// Nothing to read: wait for the writer.
		rd.p.posMu.Lock()
		written, ch := rd.p.written, rd.p.dataCh
		rd.p.posMu.Unlock()
		if rd.pos.less(written) {
			continue // written meanwhile
		}
		b.end = rd.pos
		if rd.idle != nil {
			rd.idle(rd.pos)
		}
		if rd.p.draining.Load() {
			return false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// takeLive appends to b the records that follow the reader's position
// from the writer's live batches, when the position is the start of one or
// the end of one of its records: a target that keeps up never decodes its
// records from the file. It reports whether it took any.
func (rd *reader) takeLive(b *batch) bool {
	if rd.pos.less(rd.skip) {
		return false // still passing over what was confirmed
	}
	rd.p.posMu.Lock()
	defer rd.p.posMu.Unlock()
	r := &rd.p.live
	size := uint64(len(r.slots))
	// The slots' prev positions increase: search for the reader's.
	n := int(r.hi - r.lo)
	k := sort.Search(n, func(j int) bool {
		return !r.slots[(r.lo+uint64(j))%size].prev.less(rd.pos)
	})
	if k == n || r.slots[(r.lo+uint64(k))%size].prev != rd.pos {
		return false
	}
	take := min(n-k, rd.p.cfg.maxBatch-len(b.records))
	for j := range take {
		s := &r.slots[(r.lo+uint64(k+j))%size]
		if b.journaled == 0 {
			b.journaled = s.journaled
		}
		b.records = append(b.records, s.rec)
		rd.pos = s.end
	}
	b.end = rd.pos
	// The file is read again, from its start, if the reader falls behind
	// the live ring.
	rd.close()
	rd.skip = rd.pos
	return true
}

// entry returns the payload of the next complete entry, or io.EOF when the
// reader is at the end of what is written.
func (rd *reader) entry() ([]byte, int64, error) {
	for {
		rd.p.posMu.Lock()
		written := rd.p.written
		rd.p.posMu.Unlock()
		if rd.pos.seg > written.seg {
			return nil, 0, io.EOF
		}
		if rd.sc == nil {
			if err := rd.open(written); err != nil {
				return nil, 0, err
			}
			if rd.sc == nil {
				continue // moved to another segment
			}
		}
		if rd.pos.seg == written.seg {
			rd.sc.limit = written.off
		} else if !rd.sc.sealed {
			// The writer moved on: this segment is complete.
			if err := rd.seal(); err != nil {
				return nil, 0, err
			}
		}
		if !rd.hdr {
			if rd.sc.limit < segHeaderSize {
				if rd.sc.sealed {
					rd.damaged(0, rd.sc.limit)
					rd.advance(written)
					continue
				}
				return nil, 0, io.EOF
			}
			h, err := rd.sc.window(0, segHeaderSize)
			if err != nil {
				return nil, 0, err
			}
			if err := checkSegHeader(h, rd.pos.seg); err != nil {
				// A segment without a valid header cannot be trusted to
				// belong here; count it whole and go on.
				rd.damaged(0, rd.sc.limit)
				if !rd.sc.sealed {
					return nil, 0, io.EOF
				}
				rd.advance(written)
				continue
			}
			rd.hdr = true
			rd.sc.off = max(rd.sc.off, segHeaderSize)
		}
		payload, at, dmg, err := rd.sc.next()
		if dmg != nil {
			rd.p.noteDamage(dmg)
		}
		rd.pos.off = rd.sc.off
		if errors.Is(err, io.EOF) {
			if rd.sc.sealed {
				rd.advance(written)
				continue
			}
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, err
		}
		if len(payload) == 0 {
			continue
		}
		if payload[0] == kindRecord && (position{seg: rd.pos.seg, off: at}).less(rd.skip) {
			continue // confirmed before the restart
		}
		if payload[0] == kindOrigin {
			rd.addOrigin(payload[1:])
			continue
		}
		return payload, at, nil
	}
}

func (rd *reader) damaged(off, limit int64) {
	rd.p.noteDamage(&damage{seg: rd.pos.seg, off: off, bytes: max(limit-off, 0)})
}

// open opens the reader's segment; when its file is gone (deleted, or a gap
// in the numbering), the reader moves to the next segment that exists.
func (rd *reader) open(written position) error {
	f, err := os.Open(segPath(rd.p.dir, rd.pos.seg))
	if errors.Is(err, os.ErrNotExist) {
		rd.advance(written)
		return nil
	}
	if err != nil {
		return err
	}
	rd.file = f
	// Always from the start, for the origins; the records before rd.skip
	// are passed over.
	if rd.skip.less(rd.pos) {
		rd.skip = rd.pos
	}
	rd.pos.off = 0
	rd.sc = &scanner{f: f, seg: rd.pos.seg, maxFrame: rd.p.cfg.maxRecordBytes + 1<<16}
	rd.hdr = false
	rd.replays = map[uint64]*replay{}
	if rd.pos.seg < written.seg {
		return rd.seal()
	}
	return nil
}

// seal marks the open segment as complete: it is read to its file's end.
func (rd *reader) seal() error {
	fi, err := rd.file.Stat()
	if err != nil {
		return err
	}
	rd.sc.limit, rd.sc.sealed = fi.Size(), true
	return nil
}

// advance moves to the next segment: the next number that has a file, or
// the one being written.
func (rd *reader) advance(written position) {
	rd.close()
	next := rd.pos.seg + 1
	if next < written.seg {
		if segs, err := listSegments(rd.p.dir); err == nil {
			for _, n := range segs {
				if n >= next {
					next = min(n, written.seg)
					break
				}
			}
		}
	}
	rd.pos = position{seg: next}
}

// replay rebuilds SDK records of one origin: an SDK LoggerProvider with the
// origin's resource, no limits and no key deduplication (the emitting
// provider applied its own), whose only processor fills in the record from
// the entry being decoded.
type replay struct {
	logger log.Logger
	cap    *capture
}

type capture struct {
	d       decoder
	out     *batch
	scratch []attribute.KeyValue
}

func (c *capture) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c *capture) Shutdown(context.Context) error                         { return nil }
func (c *capture) ForceFlush(context.Context) error                       { return nil }

func (c *capture) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.scratch = c.d.recordInto(r, c.scratch)
	if c.d.err == nil {
		c.out.records = append(c.out.records, *r)
	}
	return nil
}

func (rd *reader) addOrigin(payload []byte) {
	id, o, err := decodeOrigin(payload)
	if err != nil {
		rd.undecodable(rd.pos.off-int64(frameHeader+len(payload)+1), len(payload)+1)
		return
	}
	res := resource.NewWithAttributes(o.resSchema, o.resAttrs...)
	c := &capture{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(res),
		sdklog.WithProcessor(c),
		sdklog.WithAttributeCountLimit(-1),
		sdklog.WithAttributeValueLengthLimit(-1),
		sdklog.WithAttributeValueDepthLimit(-1),
		sdklog.WithAllowKeyDuplication(),
	)
	lo := []log.LoggerOption{log.WithInstrumentationVersion(o.scopeVer), log.WithSchemaURL(o.scopeSchema)}
	if len(o.scopeAttrs) > 0 {
		lo = append(lo, log.WithInstrumentationAttributes(o.scopeAttrs...))
	}
	rd.replays[id] = &replay{logger: lp.Logger(o.scopeName, lo...), cap: c}
}

// decode rebuilds the record of payload and appends it to b.
func (rd *reader) decode(payload []byte, at int64, b *batch) {
	// Copy into the batch's arena: the record's strings alias it, and the
	// scanner's buffer is reused.
	if cap(rd.arena)-len(rd.arena) < len(payload) {
		rd.arena = make([]byte, 0, max(arenaChunk, len(payload)))
	}
	start := len(rd.arena)
	rd.arena = append(rd.arena, payload...)
	p := rd.arena[start:len(rd.arena):len(rd.arena)]

	d := decoder{b: p[1:]}
	h := d.recordHeader()
	rp := rd.replays[h.origin]
	if d.err != nil || rp == nil {
		rd.undecodable(at, len(payload))
		return
	}
	rp.cap.d = d
	rp.cap.out = b
	n := len(b.records)
	rp.logger.Emit(context.Background(), log.Record{})
	if rp.cap.d.err != nil || len(b.records) == n {
		rd.undecodable(at, len(payload))
		return
	}
	if b.journaled == 0 {
		b.journaled = h.journaled
	}
}

// undecodable counts an entry whose checksum matched but whose content
// does not decode (written by an incompatible version) as damaged.
func (rd *reader) undecodable(at int64, n int) {
	rd.p.noteDamage(&damage{seg: rd.pos.seg, off: at, bytes: int64(frameHeader + n)})
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
