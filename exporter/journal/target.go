package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

const (
	cursorDir     = "cursors"
	deadLetterDir = "deadletter"
)

// target delivers the journal to one exporter.
type target struct {
	p    *Processor
	name string
	exp  sdklog.Exporter
	path string // cursor file
	dead *deadLetters

	mu        sync.Mutex
	cursor    position      // everything before it is confirmed
	moved     chan struct{} // closed (and replaced) when cursor moves
	journaled atomic.Int64  // unix ns at which the oldest unconfirmed record in hand was journaled; 0 when none

	delivered, deadLettered, retried, failedExports atomic.Uint64
	failing                                         atomic.Bool // the last Export returned an error

	// Used by run's goroutine only.
	cur           *cursorFile
	saved         position  // the cursor last saved
	savedAt       time.Time // when
	lastCollected uint64    // the cursor's segment when collect last ran
}

func newTarget(p *Processor, t Target, oldest position) (*target, error) {
	tg := &target{p: p, name: t.Name, exp: t.Exporter, path: filepath.Join(p.dir, cursorDir, t.Name), moved: make(chan struct{})}
	c, gen, err := readCursor(tg.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c = oldest
	case err != nil:
		// A torn or damaged cursor file: start from the oldest segment.
		// Stores skip what they already hold (exactly once by event id).
		p.reporter.report("cursor", fmt.Errorf("journal: cursor of %s unreadable (%v); delivering from the oldest segment", t.Name, err))
		c = oldest
	}
	if c.less(oldest) {
		c = oldest
	}
	tg.cursor = c
	f, err := os.OpenFile(tg.path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	tg.cur = &cursorFile{f: f, gen: gen}
	tg.saved = c
	dl, err := openDeadLetters(filepath.Join(p.dir, deadLetterDir, t.Name+".jsonl"))
	if err != nil {
		f.Close()
		return nil, err
	}
	tg.dead = dl
	return tg, nil
}

// A cursor file holds two slots of 32 bytes, written in turn so that a torn
// write leaves the other one intact:
//
//	generation uint64 | segment uint64 | offset int64 | reserved uint32 | CRC-32C of the preceding 28 bytes
//
// The valid slot with the higher generation wins.
const cursorSlot = 32

func readCursor(path string) (position, uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return position{}, 0, err
	}
	var best position
	var gen uint64
	found := false
	for i := 0; i+cursorSlot <= len(b) && i < 2*cursorSlot; i += cursorSlot {
		s := b[i : i+cursorSlot]
		if crc32.Checksum(s[:28], castagnoli) != binary.LittleEndian.Uint32(s[28:]) {
			continue
		}
		if g := binary.LittleEndian.Uint64(s); !found || g > gen {
			gen, found = g, true
			best = position{seg: binary.LittleEndian.Uint64(s[8:]), off: int64(binary.LittleEndian.Uint64(s[16:]))}
		}
	}
	if !found {
		return position{}, 0, errors.New("no valid cursor slot")
	}
	return best, gen, nil
}

// cursorFile saves a target's cursor. Writes are not fsynced: a cursor
// lost in a machine crash only makes records be delivered again, which the
// stores skip by event id.
type cursorFile struct {
	f   *os.File
	gen uint64
}

func (c *cursorFile) write(p position) error {
	c.gen++
	var b [cursorSlot]byte
	binary.LittleEndian.PutUint64(b[:], c.gen)
	binary.LittleEndian.PutUint64(b[8:], p.seg)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.off))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	_, err := c.f.WriteAt(b[:], int64(c.gen%2)*cursorSlot)
	return err
}

// cursorSaveEvery is how often, at most, a moving cursor is saved (and at
// each new segment, and when delivery stops).
const cursorSaveEvery = 50 * time.Millisecond

func (t *target) close() {
	t.dead.close()
	_ = t.cur.f.Close()
}

func (t *target) confirmed() position {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cursor
}

// confirm deletes the segments no target needs once the cursor is at c,
// then moves the cursor there, wakes those waiting for it (a ForceFlush that
// returns has seen the segments go) and saves it.
func (t *target) confirm(c position) {
	if !t.confirmed().less(c) {
		return
	}
	if c.seg > t.lastCollected {
		t.lastCollected = c.seg
		t.p.collect(t, c)
	}
	t.mu.Lock()
	t.cursor = c
	close(t.moved)
	t.moved = make(chan struct{})
	t.mu.Unlock()
	if c.seg != t.saved.seg || time.Since(t.savedAt) >= cursorSaveEvery {
		t.save()
	}
}

// save writes the cursor to its file, if it moved since the last save.
func (t *target) save() {
	c := t.confirmed()
	if c == t.saved {
		return
	}
	if err := t.cur.write(c); err != nil {
		t.p.reporter.report("cursor", fmt.Errorf("journal: save cursor of %s: %w", t.name, err))
		return
	}
	t.saved, t.savedAt = c, time.Now()
}

// waitConfirmed waits until the cursor reaches end or ctx ends.
func (t *target) waitConfirmed(ctx context.Context, end position) error {
	for {
		t.mu.Lock()
		c, ch := t.cursor, t.moved
		t.mu.Unlock()
		if !c.less(end) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d bytes not confirmed: %w", t.p.bytesBetween(c, end), context.Cause(ctx))
		}
	}
}

func (t *target) run(ctx context.Context) {
	defer t.p.wg.Done()
	rd := newReader(t.p, t.confirmed())
	rd.idle = t.confirm
	defer rd.close()
	defer t.save()
	var b batch
	for rd.next(ctx, &b) {
		t.journaled.Store(b.journaled)
		if !t.deliver(ctx, b.records) {
			return
		}
		clear(b.records) // keep no strings of the batch alive
		t.journaled.Store(0)
		t.confirm(b.end)
	}
}

// deliver exports records until the exporter accepts them, retrying
// failures with capped, jittered backoff for as long as it takes. Records
// the exporter refuses for their content, and records of a batch that fails
// with a permanent error (found by halving the batch), are dead-lettered.
// It returns false only when ctx ends or the exporter was shut down: the
// records then stay unconfirmed.
func (t *target) deliver(ctx context.Context, records []sdklog.Record) bool {
	if len(records) == 0 {
		return true
	}
	backoff := t.p.cfg.retryInitial
	for {
		var (
			mu       sync.Mutex
			rejected []*auditrow.RejectError
		)
		ectx := auditrow.ContextWithRejectHook(ctx, func(e *auditrow.RejectError) {
			mu.Lock()
			rejected = append(rejected, e)
			mu.Unlock()
		})
		ectx, cancel := context.WithTimeout(ectx, t.p.cfg.exportTimeout)
		start := time.Now()
		err := t.exp.Export(ectx, records)
		cancel()
		t.p.metrics.exported(t.name, time.Since(start), err)
		t.failing.Store(err != nil && ctx.Err() == nil)
		if err == nil {
			mu.Lock()
			n := t.deadLetterRejected(records, rejected)
			mu.Unlock()
			t.delivered.Add(uint64(len(records) - n))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		t.failedExports.Add(1)
		if errors.Is(err, sdklog.ErrExporterShutdown) {
			t.p.reporter.report("export:"+t.name, fmt.Errorf("journal: exporter %s is shut down; its records stay in the journal: %w", t.name, err))
			return false
		}
		if errors.Is(err, ErrPermanent) {
			if len(records) == 1 {
				t.deadLetter(&records[0], "permanent_error", err)
				return true
			}
			mid := len(records) / 2
			return t.deliver(ctx, records[:mid]) && t.deliver(ctx, records[mid:])
		}
		t.retried.Add(1)
		t.p.reporter.report("export:"+t.name, fmt.Errorf("journal: export of %d records to %s failed, retrying (they stay in the journal): %w", len(records), t.name, err))
		if !sleepCtx(ctx, rand.N(backoff)+backoff/2) {
			return false
		}
		backoff = min(2*backoff, t.p.cfg.retryMax)
	}
}

// deadLetterRejected dead-letters the records the exporter reported as
// refused, and returns how many.
func (t *target) deadLetterRejected(records []sdklog.Record, rejected []*auditrow.RejectError) int {
	if len(rejected) == 0 {
		return 0
	}
	var mapper *auditrow.Mapper
	for _, e := range rejected {
		i := findRecord(records, e, &mapper)
		var r *sdklog.Record
		if i >= 0 {
			r = &records[i]
		}
		t.deadLetter(r, e.Reason, e)
	}
	t.dead.sync()
	return len(rejected)
}

func (t *target) deadLetter(r *sdklog.Record, reason string, err error) {
	t.deadLettered.Add(1)
	if werr := t.dead.add(t.name, reason, err, r, t.p.cfg.now()); werr != nil {
		t.p.reporter.report("deadletter", fmt.Errorf("journal: dead-letter file of %s: %w", t.name, werr))
	}
	t.p.reporter.report("rejected:"+t.name, fmt.Errorf("journal: %s refused a record (%s); it is in the dead-letter file: %w", t.name, reason, err))
}
