package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
)

// Target is an exporter the journal delivers every record to, under a name
// that identifies its cursor across restarts.
type Target struct {
	// Name identifies the exporter's position in the journal: keep it
	// stable across restarts. Lower-case letters, digits, '_', '-' and
	// '.', at most 64 bytes, starting with a letter or digit.
	Name string
	// Exporter receives the records. The Processor owns it: Shutdown shuts
	// it down.
	Exporter sdklog.Exporter
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Errors.
var (
	// ErrShutdown: the Processor was shut down; the record was refused.
	ErrShutdown = errors.New("journal: processor shut down")
	// ErrJournalFull: the journal is at its size cap; the record was
	// refused.
	ErrJournalFull = errors.New("journal: journal full")
	// ErrWriteStalled: the write buffer stayed full (the disk is slower
	// than the emitters); the record was refused.
	ErrWriteStalled = errors.New("journal: write buffer full")
	// ErrTooLarge: the encoded record is larger than the maximum.
	ErrTooLarge = errors.New("journal: record too large")
	// ErrLocked: another Processor (in this or another process) uses the
	// directory.
	ErrLocked = errors.New("journal: directory in use by another processor")
	// ErrPermanent marks an export error that retrying cannot fix; wrap an
	// exporter's error with it (see [Permanent]) to have the batch split
	// and the failing records dead-lettered instead of retried.
	ErrPermanent = errors.New("permanent export error")
)

// Permanent wraps err so that errors.Is(err, [ErrPermanent]) is true.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// DropError reports a record the journal refused. It is what the error
// handler receives (aggregated: at most one report per reason and second,
// with the count since the last one) and what a waiting caller gets.
type DropError struct {
	Reason string // the Stats.Dropped key
	Count  uint64 // records refused for this reason since the last report
	Err    error
}

func (e *DropError) Error() string {
	return fmt.Sprintf("journal: %d audit record(s) refused (%s): %v", e.Count, e.Reason, e.Err)
}

func (e *DropError) Unwrap() error { return e.Err }

// Drop reasons, the keys of Stats.Dropped.
const (
	ReasonJournalFull   = "journal_full"
	ReasonWriteStalled  = "write_stalled"
	ReasonTooLarge      = "too_large"
	ReasonInvalidAction = "invalid_action"
	ReasonUnencodable   = "unencodable"
	ReasonShutdown      = "shutdown"
)

var dropReasons = [...]string{ReasonJournalFull, ReasonWriteStalled, ReasonTooLarge, ReasonInvalidAction, ReasonUnencodable, ReasonShutdown}

// Processor is an sdk/log Processor that appends every audit record to a
// journal on disk and delivers it from there to each of its exporters. See
// the package documentation for the whole contract.
type Processor struct {
	dir  string
	cfg  config
	lock *os.File

	// The append side, guarded by mu. OnEmit clones the record into the
	// queue; the writer encodes it, once, into the journal.
	mu       sync.Mutex
	closed   bool
	queue    []entry // appended, not yet taken by the writer
	spare    []entry
	queued   int64         // estimated encoded bytes of the queue and of what the writer holds
	seq      uint64        // records appended by this Processor
	size     int64         // segment files on disk plus the estimate of what is queued
	room     chan struct{} // closed (and replaced) when room is freed
	estimate atomic.Int64  // running estimate of a record's encoded size

	enc encoder // the writer's: segments, origins, the chunks it fills

	parked    bool          // the writer waits for wake
	wake      chan struct{} // to the writer
	stopWrite chan struct{}
	writeDone chan struct{}

	// The write side: the writer goroutine owns file, fileSeg and fileOff;
	// fileMu guards their change against the syncer. retired holds the
	// files the writer has moved past: the syncer fsyncs and closes them,
	// so that a slow fsync never holds up the writer.
	fileMu  sync.Mutex
	file    *os.File
	fileSeg uint64
	fileOff int64
	retired []*os.File
	// dirUnsynced: the directory holds a segment file created since its
	// last successful fsync. Used by syncNow only.
	dirUnsynced bool

	posMu      sync.Mutex
	written    position      // end of the data written to the segment files
	live       liveRing      // the records last written, for targets that are caught up
	dataCh     chan struct{} // closed (and replaced) when written moves
	syncedCh   chan struct{} // closed (and replaced) when syncedSeq moves or a sync fails
	syncErr    error         // the last fsync's error, nil after a success
	writtenSeq atomic.Uint64
	syncedSeq  atomic.Uint64
	waiters    atomic.Int64 // callers waiting for a sync
	syncReq    chan struct{}
	stopSync   chan struct{}
	syncDone   chan struct{}

	segMu    sync.Mutex
	segSizes map[uint64]int64 // bytes on disk of each segment file

	targets  []*target
	draining atomic.Bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	damageMu sync.Mutex
	damaged  map[position]bool

	stats    counters
	reporter reporter
	metrics  *instruments

	shutdownOnce sync.Once
	shutdownErr  error
}

var _ sdklog.Processor = (*Processor)(nil)

// position is a place in the journal: a segment and an offset in it.
type position struct {
	seg uint64
	off int64
}

func (a position) less(b position) bool {
	return a.seg < b.seg || a.seg == b.seg && a.off < b.off
}

// New opens (or creates) the journal in dir and starts delivering its
// records to targets: first what an earlier Processor journaled and no
// exporter confirmed, then every record emitted from now on. dir is created
// if needed; only one Processor may use it at a time.
func New(dir string, targets []Target, opts ...Option) (*Processor, error) {
	if dir == "" {
		var env envconfig.Reader
		var ok bool
		if dir, ok = env.String(envconfig.JournalDir); !ok {
			return nil, fmt.Errorf("journal: no directory: give New one or set %s", envconfig.JournalDir)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("journal: no targets")
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if !targetName.MatchString(t.Name) {
			return nil, fmt.Errorf("journal: invalid target name %q (want lower-case letters, digits, '_', '-', '.', at most 64 bytes)", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("journal: target %q given twice", t.Name)
		}
		if t.Exporter == nil {
			return nil, fmt.Errorf("journal: target %q has a nil exporter", t.Name)
		}
		seen[t.Name] = true
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for _, sub := range []string{dir, filepath.Join(dir, cursorDir), filepath.Join(dir, deadLetterDir)} {
		if err := os.MkdirAll(sub, 0o750); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	p := &Processor{
		dir:       dir,
		cfg:       cfg,
		lock:      lock,
		room:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		stopWrite: make(chan struct{}),
		writeDone: make(chan struct{}),
		dataCh:    make(chan struct{}),
		syncedCh:  make(chan struct{}),
		syncReq:   make(chan struct{}, 1),
		stopSync:  make(chan struct{}),
		syncDone:  make(chan struct{}),
		segSizes:  map[uint64]int64{},
		damaged:   map[position]bool{},
	}
	p.reporter.onError = cfg.onError
	if err := p.open(targets); err != nil {
		unlockDir(lock)
		return nil, err
	}
	p.metrics = newInstruments(p)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.writeLoop()
	go p.syncLoop()
	for _, t := range p.targets {
		p.wg.Add(1)
		go t.run(ctx)
	}
	return p, nil
}

// open scans the directory: existing segments, cursors; and starts a new
// segment after the last one.
func (p *Processor) open(targets []Target) error {
	segs, err := listSegments(p.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var oldest position
	for _, n := range segs {
		fi, err := os.Stat(segPath(p.dir, n))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		p.segSizes[n] = fi.Size()
		p.size += fi.Size()
	}
	next := uint64(1)
	if len(segs) > 0 {
		oldest = position{seg: segs[0]}
		next = segs[len(segs)-1] + 1
	} else {
		oldest = position{seg: next}
	}
	for _, t := range targets {
		tg, err := newTarget(p, t, oldest)
		if err != nil {
			for _, o := range p.targets {
				o.close()
			}
			return err
		}
		p.targets = append(p.targets, tg)
	}
	f, err := os.OpenFile(segPath(p.dir, next), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	hdr := appendSegHeader(nil, next)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(p.dir); err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	p.file, p.fileSeg, p.fileOff = f, next, int64(len(hdr))
	p.enc = encoder{p: p, seg: next, segBytes: int64(len(hdr)), origins: map[originKey]uint64{}}
	p.estimate.Store(initialEstimate)
	p.size += int64(len(hdr))
	p.segSizes[next] = int64(len(hdr))
	p.written = position{seg: next, off: int64(len(hdr))}
	p.collect(nil, position{})
	return nil
}

// Enabled reports whether r would be journaled: audit records (EventName
// "audit.<action>"), or every record with WithIncludeNonAudit.
func (p *Processor) Enabled(_ context.Context, param sdklog.EnabledParameters) bool {
	return p.cfg.includeNonAudit || param.EventName == "" || strings.HasPrefix(param.EventName, auditPrefix)
}

const auditPrefix = "audit."

// OnEmit appends r to the journal and returns; it does not wait for any
// exporter. It waits for the disk only with SyncEach, or when ctx carries
// an [otelaudit.Receipt] (the caller wants to know the record is durable);
// the receipt is settled with the outcome. A refused record is counted and
// reported to the error handler (summed, see [DropError]); OnEmit then
// returns nil, since the SDK would hand a returned error to otel.Handle
// once per record. A waiting caller gets the [*DropError] through its
// receipt.
func (p *Processor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if r == nil {
		return nil
	}
	name := r.EventName()
	if !p.cfg.includeNonAudit {
		if !strings.HasPrefix(name, auditPrefix) {
			p.stats.skipped.Add(1)
			return nil
		}
		if err := otelaudit.Action(name[len(auditPrefix):]).Validate(); err != nil {
			return p.refuse(ctx, ReasonInvalidAction, err)
		}
	}
	rc := otelaudit.ReceiptFromContext(ctx)
	waits := rc != nil || p.cfg.sync.each
	var ws *waitState
	if waits {
		ws = &waitState{}
	}
	seq, reason, err := p.append(ctx, r, ws)
	if err != nil {
		return p.refuse(ctx, reason, err)
	}
	if !waits {
		return nil
	}
	rc.Claim()
	err = p.waitSynced(ctx, seq, ws)
	rc.Settle(err)
	if rc == nil && err != nil {
		return fmt.Errorf("journal: record appended, but not confirmed durable: %w", err)
	}
	return nil
}

func (p *Processor) refuse(ctx context.Context, reason string, err error) error {
	p.stats.drop(reason)
	derr := &DropError{Reason: reason, Count: 1, Err: err}
	if rc := otelaudit.ReceiptFromContext(ctx); rc != nil {
		rc.Claim()
		rc.Settle(derr)
	}
	p.reporter.drop(reason, err)
	return nil
}

// maxQueued bounds the records OnEmit has cloned and the writer has not
// taken: a record in memory is several times its encoded size.
const maxQueued = 4096

// entry is a record appended and not yet encoded by the writer.
type entry struct {
	rec       sdklog.Record // a clone: the caller may reuse its record
	journaled int64         // unix ns
	est       int64         // the size estimated for it
	wait      *waitState    // nil unless a caller waits for it
}

// waitState is how the writer tells a waiting caller that it refused the
// record (too large, unencodable): err is set before the record's sequence
// number is published as written.
type waitState struct{ err error }

// append queues a clone of r at the end of the journal and returns its
// sequence number, or the reason and error of its refusal.
func (p *Processor) append(ctx context.Context, r *sdklog.Record, ws *waitState) (uint64, string, error) {
	rec := r.Clone()
	now := p.cfg.now().UnixNano()
	est := p.estimate.Load()
	var deadline time.Time
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return 0, ReasonShutdown, ErrShutdown
		}
		full := p.size+est > p.cfg.maxBytes
		stalled := p.queued+est > int64(p.cfg.writeBufferBytes) || len(p.queue) >= maxQueued
		if !full && !stalled {
			break
		}
		wait := p.cfg.writeStall
		reason, werr := ReasonWriteStalled, ErrWriteStalled
		if full {
			wait, reason, werr = p.cfg.full.wait, ReasonJournalFull, ErrJournalFull
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(wait)
		}
		room := p.room
		p.mu.Unlock()
		if !waitRoom(ctx, room, deadline) {
			return 0, reason, werr
		}
		p.mu.Lock()
	}
	p.queue = append(p.queue, entry{rec: rec, journaled: now, est: est, wait: ws})
	p.size += est
	p.queued += est
	p.seq++
	seq := p.seq
	wake := p.parked
	p.parked = false
	p.mu.Unlock()
	if wake {
		p.signalWriter()
	}
	return seq, "", nil
}

func (p *Processor) signalWriter() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitRoom waits until room is closed, the deadline passes or ctx ends,
// and reports whether room was freed.
func waitRoom(ctx context.Context, room chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-room:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// freeRoom wakes the appends waiting for room. p.mu must be held.
func (p *Processor) freeRoom() {
	close(p.room)
	p.room = make(chan struct{})
}

// ForceFlush writes and fsyncs everything appended so far, then waits until
// every exporter has confirmed it and flushes the exporters, or until ctx
// ends.
func (p *Processor) ForceFlush(ctx context.Context) error {
	p.mu.Lock()
	seq, closed := p.seq, p.closed
	p.mu.Unlock()
	if closed {
		return nil
	}
	if err := p.waitSynced(ctx, seq, nil); err != nil {
		return fmt.Errorf("journal: flush: %w", err)
	}
	p.posMu.Lock()
	end := p.written
	p.posMu.Unlock()
	var errs []error
	for _, t := range p.targets {
		if err := t.waitConfirmed(ctx, end); err != nil {
			errs = append(errs, fmt.Errorf("journal: flush %s: %w", t.name, err))
			continue
		}
		if err := t.exp.ForceFlush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("journal: flush %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops accepting records (they are refused, reason "shutdown"),
// writes and fsyncs what was appended, and delivers the journal to every
// exporter until all is confirmed, ctx ends, or every exporter that has
// records left is failing (its last Export returned an error: waiting for
// a store that is down would only hold the process up). It then shuts the
// exporters down and releases the directory. What an exporter has not confirmed stays
// in the journal for the next Processor on the same directory, and
// Shutdown's error says how much that is. A second call returns the first
// call's error.
func (p *Processor) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.shutdown(ctx) })
	return p.shutdownErr
}

func (p *Processor) shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.freeRoom()
	p.mu.Unlock()

	close(p.stopWrite)
	<-p.writeDone
	close(p.stopSync)
	<-p.syncDone
	var errs []error
	if err := p.syncNow(); err != nil {
		errs = append(errs, fmt.Errorf("journal: final fsync: %w", err))
	}

	p.draining.Store(true)
	p.posMu.Lock()
	end := p.written
	close(p.dataCh)
	p.dataCh = make(chan struct{})
	p.posMu.Unlock()

	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	// Wait for delivery, but not for a store that is down: its records
	// stay in the journal, and waiting would only hold the process up.
	tick := time.NewTicker(50 * time.Millisecond)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			break wait
		case <-tick.C:
			if p.onlyFailingLeft(end) {
				break wait
			}
		}
	}
	tick.Stop()
	p.cancel()
	<-done
	for _, t := range p.targets {
		if t.cursor.less(end) {
			errs = append(errs, fmt.Errorf("journal: %s: %d bytes of records not confirmed by the exporter; they stay in the journal for the next start", t.name, p.bytesBetween(t.cursor, end)))
		}
		if err := t.exp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("journal: shut down %s: %w", t.name, err))
		}
		t.close()
	}
	p.collect(nil, position{})
	p.fileMu.Lock()
	if err := p.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("journal: %w", err))
	}
	p.fileMu.Unlock()
	p.metrics.close()
	p.reporter.flush()
	unlockDir(p.lock)
	return errors.Join(errs...)
}

// onlyFailingLeft reports whether every target that has not confirmed up
// to end is failing: its last Export returned an error.
func (p *Processor) onlyFailingLeft(end position) bool {
	for _, t := range p.targets {
		if t.confirmed().less(end) && !t.failing.Load() {
			return false
		}
	}
	return true
}

// bytesBetween returns the journal bytes from a to b.
func (p *Processor) bytesBetween(a, b position) int64 {
	if !a.less(b) {
		return 0
	}
	if a.seg == b.seg {
		return b.off - a.off
	}
	p.segMu.Lock()
	defer p.segMu.Unlock()
	n := p.segSizes[a.seg] - a.off
	for s := a.seg + 1; s < b.seg; s++ {
		n += p.segSizes[s]
	}
	return n + b.off
}

// collect deletes the segments every target has confirmed entirely. When
// moving is not nil, its cursor is taken to be at to (about to move there).
func (p *Processor) collect(moving *target, to position) {
	var low position
	for i, t := range p.targets {
		c := to
		if t != moving {
			c = t.confirmed()
		}
		if i == 0 || c.less(low) {
			low = c
		}
	}
	p.segMu.Lock()
	var freed int64
	for seg, size := range p.segSizes {
		if seg >= low.seg || seg >= p.writtenSegment() {
			continue
		}
		if err := os.Remove(segPath(p.dir, seg)); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.reporter.report("remove", fmt.Errorf("journal: delete segment: %w", err))
			continue
		}
		delete(p.segSizes, seg)
		freed += size
	}
	p.segMu.Unlock()
	if freed > 0 {
		p.mu.Lock()
		p.size -= freed
		p.freeRoom()
		p.mu.Unlock()
	}
}

func (p *Processor) writtenSegment() uint64 {
	p.posMu.Lock()
	defer p.posMu.Unlock()
	return p.written.seg
}

// noteDamage counts a damaged stretch once, whichever target found it.
func (p *Processor) noteDamage(d *damage) {
	p.damageMu.Lock()
	k := position{seg: d.seg, off: d.off}
	seen := p.damaged[k]
	p.damaged[k] = true
	p.damageMu.Unlock()
	if seen {
		return
	}
	p.stats.damaged.Add(1)
	p.stats.damagedBytes.Add(uint64(d.bytes))
	p.reporter.report("damage", fmt.Errorf("journal: segment %s: %d damaged bytes at offset %d skipped; the complete records around them are kept", segName(d.seg), d.bytes, d.off))
}
