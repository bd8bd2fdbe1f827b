package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writeLoop hands appended records to the operating system as soon as they
// are appended, one write per batch of appends, and publishes how far the
// segment files are written. It drains everything before it stops.
//
// Appends wake the writer only while it is parked (p.parked): after a
// write, it naps for writeNap (unless a caller waits for an fsync), so
// that under load one write(2) carries many records and emitting callers
// do not pay for waking it each time.
func (p *Processor) writeLoop() {
	defer close(p.writeDone)
	stopping := false
	for {
		p.mu.Lock()
		if !stopping && len(p.queue) == 0 {
			p.parked = true
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.stopWrite:
				stopping = true
			}
			p.mu.Lock()
		}
		q := p.queue
		seq := p.seq
		p.queue = p.spare[:0]
		p.mu.Unlock()

		var queued int64
		for i := range q {
			queued += q[i].est
		}
		delta := p.enc.encode(q)
		cs := p.enc.take()
		start := p.written // only the writer changes it
		for _, c := range cs {
			p.writeChunk(c)
		}
		p.enc.recycle(cs)
		p.posMu.Lock()
		p.written = position{seg: p.fileSeg, off: p.fileOff}
		p.enc.publish(&p.live, q, start)
		close(p.dataCh)
		p.dataCh = make(chan struct{})
		p.posMu.Unlock()
		p.writtenSeq.Store(seq)
		if p.cfg.sync.each || p.waiters.Load() > 0 {
			select {
			case p.syncReq <- struct{}{}:
			default:
			}
		}

		clear(q) // the live ring holds what it needs
		p.mu.Lock()
		p.spare = q[:0]
		p.queued -= queued
		p.size += delta
		if len(q) > 0 {
			p.freeRoom()
		}
		empty := len(p.queue) == 0
		p.mu.Unlock()
		if stopping && empty {
			return
		}
		if !stopping && !p.cfg.sync.each && p.waiters.Load() == 0 {
			select {
			case <-time.After(writeNap):
			case <-p.stopWrite:
				stopping = true
			case <-p.wake: // a caller waits for an fsync
			}
		}
	}
}

// writeNap is how long the writer waits after a write before it takes the
// next records: the longest a record stays in memory only (a process crash
// loses at most the records of the last writeNap).
const writeNap = time.Millisecond

// writeChunk writes c at the end of its segment, starting that segment's
// file first when c begins it. A failed write is retried until it succeeds
// (the records stay in memory meanwhile, and appends stall once the write
// buffer is full): the journal never skips records it accepted.
func (p *Processor) writeChunk(c *chunk) {
	if len(c.data) == 0 {
		return
	}
	if c.seg != p.fileSeg {
		p.switchFile(c.seg)
	}
	data := c.data
	for backoff := 10 * time.Millisecond; len(data) > 0; backoff = min(2*backoff, time.Second) {
		n, err := p.file.WriteAt(data, p.fileOff)
		p.fileOff += int64(n)
		data = data[n:]
		p.segMu.Lock()
		p.segSizes[p.fileSeg] += int64(n)
		p.segMu.Unlock()
		if err == nil {
			continue
		}
		p.stats.writeErrors.Add(1)
		p.reporter.report("write", fmt.Errorf("journal: write segment %s: %w (retrying)", segName(p.fileSeg), err))
		time.Sleep(backoff)
	}
}

// switchFile creates the file of segment seg and makes it the current
// one. The file left behind is retired: the syncer fsyncs and closes it,
// and fsyncs the directory, before it counts any record of the new file
// as synced. The writer itself never waits for a flush to the disk, so
// appended records keep reaching the operating system while one runs.
func (p *Processor) switchFile(seg uint64) {
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		f, err := os.OpenFile(segPath(p.dir, seg), os.O_CREATE|os.O_WRONLY, 0o640)
		if err == nil {
			p.fileMu.Lock()
			p.retired = append(p.retired, p.file)
			p.file, p.fileSeg, p.fileOff = f, seg, 0
			p.fileMu.Unlock()
			p.segMu.Lock()
			p.segSizes[seg] += 0
			p.segMu.Unlock()
			// Closed segments are fsynced whatever the policy: with
			// SyncNone, nothing else would wake the syncer for them.
			if !p.cfg.sync.each && p.cfg.sync.interval <= 0 {
				select {
				case p.syncReq <- struct{}{}:
				default:
				}
			}
			return
		}
		p.stats.writeErrors.Add(1)
		p.reporter.report("write", fmt.Errorf("journal: create segment %s: %w (retrying)", segName(seg), err))
		time.Sleep(backoff)
	}
}

// syncLoop fsyncs the journal: every interval while records are written
// (SyncInterval), and whenever a caller waits for it.
func (p *Processor) syncLoop() {
	defer close(p.syncDone)
	var tick <-chan time.Time
	if !p.cfg.sync.each && p.cfg.sync.interval > 0 {
		t := time.NewTicker(p.cfg.sync.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
		case <-p.syncReq:
		case <-p.stopSync:
			return
		}
		_ = p.syncNow()
	}
}

// syncNow fsyncs what is written, if anything is new: the retired segment
// files (which it then closes), the directory that holds their successors,
// and the current file; then it wakes the callers waiting for it. Only
// the syncer calls it (and Shutdown, once the syncer has stopped), so no
// file it fsyncs is closed meanwhile; it holds fileMu only to take them,
// so that the writer never waits for a flush.
func (p *Processor) syncNow() error {
	p.fileMu.Lock()
	target := p.writtenSeq.Load()
	retired := p.retired
	p.retired = nil
	cur, curSeg := p.file, p.fileSeg
	p.fileMu.Unlock()
	p.dirUnsynced = p.dirUnsynced || len(retired) > 0
	if target <= p.syncedSeq.Load() && !p.dirUnsynced {
		return nil
	}
	// Every record up to target is in one of these files, or in a file
	// retired, fsynced and closed by an earlier call.
	var err error
	for _, f := range retired {
		if ferr := p.cfg.fsync(f); ferr != nil {
			err = fmt.Errorf("journal: fsync segment %s: %w", filepath.Base(f.Name()), ferr)
		}
		f.Close()
	}
	if p.dirUnsynced && err == nil {
		if derr := syncDir(p.dir); derr != nil {
			err = fmt.Errorf("journal: fsync directory: %w", derr)
		} else {
			p.dirUnsynced = false
		}
	}
	if err == nil {
		if ferr := p.cfg.fsync(cur); ferr != nil {
			err = fmt.Errorf("journal: fsync segment %s: %w", segName(curSeg), ferr)
		}
	}
	if err != nil {
		p.stats.syncErrors.Add(1)
		p.reporter.report("sync", err)
	} else {
		p.syncedSeq.Store(target)
	}
	p.posMu.Lock()
	p.syncErr = err
	close(p.syncedCh)
	p.syncedCh = make(chan struct{})
	p.posMu.Unlock()
	return err
}

// errSyncFailed: the fsync that would have covered the record failed.
var errSyncFailed = errors.New("journal: fsync failed")

// waitSynced waits until record seq is fsynced, the fsync covering it
// fails, or ctx ends.
func (p *Processor) waitSynced(ctx context.Context, seq uint64, ws *waitState) error {
	p.waiters.Add(1)
	defer p.waiters.Add(-1)
	p.signalWriter()
	select {
	case p.syncReq <- struct{}{}:
	default:
	}
	for {
		p.posMu.Lock()
		ch, serr := p.syncedCh, p.syncErr
		p.posMu.Unlock()
		if p.syncedSeq.Load() >= seq {
			if ws != nil && ws.err != nil {
				return ws.err // the writer refused the record
			}
			return nil
		}
		if p.writtenSeq.Load() >= seq && ws != nil && ws.err != nil {
			return ws.err // the writer refused the record
		}
		if serr != nil && p.writtenSeq.Load() >= seq {
			return fmt.Errorf("%w: %w", errSyncFailed, serr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-p.syncDone:
			// Shutdown stopped the syncer; it fsyncs once more itself.
			select {
			case <-ch:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	}
}
