package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

func flush(t *testing.T, p *Processor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.ForceFlush(ctx))
}

func TestDeliversEveryRecordInOrder(t *testing.T) {
	exp := &memExporter{}
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithBatch(100, 0))
	em := newEmitter(p)
	for i := range 5000 {
		em.emit(context.Background(), i)
	}
	flush(t, p)
	assert.Equal(t, ids(0, 5000), exp.got())
	s := p.Stats()
	assert.EqualValues(t, 5000, s.Accepted)
	assert.EqualValues(t, 5000, s.Targets["t0"].Delivered)
	assert.Zero(t, s.Targets["t0"].Backlog)
	assert.Zero(t, s.Targets["t0"].OldestUnconfirmed)
}

// TestRoundTripKeepsEveryField: what the exporter gets from the journal is
// the record that was emitted, field by field, with every value type.
func TestRoundTripKeepsEveryField(t *testing.T) {
	exp := &memExporter{keep: true}
	p := open(t, t.TempDir(), []sdklog.Exporter{exp})
	em := newEmitter(p)
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid := trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	nested := attribute.MapValue(
		attribute.String("s", "x\x00y\xff"), attribute.Int64("i", -1<<62), attribute.Float64("f", 1.5),
		attribute.Bool("b", true), attribute.StringSlice("ss", []string{"a", ""}), attribute.Int64Slice("is", []int64{1, -2}),
		attribute.Float64Slice("fs", []float64{0.25}), attribute.BoolSlice("bs", []bool{true, false}),
		attribute.ByteSlice("bytes", []byte{0, 1, 2}), attribute.Slice("mixed", attribute.StringValue("m"), attribute.MapValue(attribute.Int("deep", 3))),
	)
	var r log.Record
	r.SetEventName("audit.settings_changed")
	r.SetTimestamp(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)) // outside UnixNano's range
	r.SetObservedTimestamp(time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC))
	r.SetSeverity(log.SeverityWarn2)
	r.SetSeverityText("WARN2")
	r.SetBody(attribute.StringValue("settings changed"))
	r.AddAttributes(attribute.String(otelaudit.KeyEventID, eventID(1)), attribute.KeyValue{Key: otelaudit.KeyDetails, Value: nested}, attribute.String("", "empty key"))
	em.logger.Emit(ctx, r)
	flush(t, p)

	require.Len(t, exp.records, 1)
	got := &exp.records[0]
	assert.Equal(t, "audit.settings_changed", got.EventName())
	assert.True(t, got.Timestamp().Equal(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)), got.Timestamp())
	assert.True(t, got.ObservedTimestamp().Equal(time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)))
	assert.Equal(t, log.SeverityWarn2, got.Severity())
	assert.Equal(t, "WARN2", got.SeverityText())
	assert.Equal(t, attribute.StringValue("settings changed"), got.Body())
	assert.Equal(t, tid, got.TraceID())
	assert.Equal(t, sid, got.SpanID())
	assert.Equal(t, trace.FlagsSampled, got.TraceFlags())
	var attrs []attribute.KeyValue
	got.WalkAttributes(func(kv attribute.KeyValue) bool { attrs = append(attrs, kv); return true })
	var want []attribute.KeyValue
	newEmitterRecord(em, r).WalkAttributes(func(kv attribute.KeyValue) bool { want = append(want, kv); return true })
	assert.Equal(t, want, attrs)
	v, ok := got.Resource().Set().Value("service.name")
	assert.True(t, ok)
	assert.Equal(t, "journal-test", v.AsString())
	assert.Equal(t, "journal-test", got.InstrumentationScope().Name)
	assert.Equal(t, "1.2.3", got.InstrumentationScope().Version)
}

// newEmitterRecord returns the SDK record em's provider makes of r.
func newEmitterRecord(em *emitter, r log.Record) *sdklog.Record {
	exp := &memExporter{keep: true}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	lp.Logger("x").Emit(context.Background(), r)
	return &exp.records[0]
}

func TestSkipsRecordsThatAreNotAudit(t *testing.T) {
	exp := &memExporter{}
	var errs errorLog
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithErrorHandler(errs.handle))
	em := newEmitter(p)
	var r log.Record
	r.SetEventName("http.request")
	em.logger.Emit(context.Background(), r)
	em.logger.Emit(context.Background(), log.Record{})
	var bad log.Record
	bad.SetEventName("audit.User Login 12345")
	em.logger.Emit(context.Background(), bad)
	em.emit(context.Background(), 1)
	flush(t, p)
	assert.Equal(t, ids(1, 2), exp.got())
	s := p.Stats()
	assert.EqualValues(t, 2, s.Skipped)
	assert.EqualValues(t, 1, s.Dropped[ReasonInvalidAction])
	assert.EqualValues(t, 1, s.Accepted)
	require.Len(t, errs.all(), 1)
	var de *DropError
	require.ErrorAs(t, errs.all()[0], &de)
	assert.Equal(t, ReasonInvalidAction, de.Reason)
}

// TestRestartDeliversWhatWasNotConfirmed: records journaled while the store
// is down are delivered by the next Processor on the same directory.
func TestRestartDeliversWhatWasNotConfirmed(t *testing.T) {
	dir := t.TempDir()
	down := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	p, err := New(dir, []Target{{Name: "pg", Exporter: down}}, WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}), WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	em := newEmitter(p)
	for i := range 300 {
		em.emit(context.Background(), i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err = p.Shutdown(ctx)
	cancel()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not confirmed")
	assert.Empty(t, down.got())

	up := &memExporter{}
	p2, err := New(dir, []Target{{Name: "pg", Exporter: up}})
	require.NoError(t, err)
	flush(t, p2)
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, ids(0, 300), up.got())

	// A third start delivers nothing again: the cursor was saved.
	again := &memExporter{}
	p3, err := New(dir, []Target{{Name: "pg", Exporter: again}})
	require.NoError(t, err)
	flush(t, p3)
	require.NoError(t, p3.Shutdown(context.Background()))
	assert.Empty(t, again.got())
}

// TestDamagedSegments: a torn last write and flipped bytes in the middle
// of a segment lose only the damaged records, which are counted.
func TestDamagedSegments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string, frames []int64)
		lost    []int // event indexes lost
		damaged uint64
	}{
		{
			name: "torn tail",
			damage: func(t *testing.T, path string, frames []int64) {
				fi, err := os.Stat(path)
				require.NoError(t, err)
				require.NoError(t, os.Truncate(path, fi.Size()-5))
			},
			lost: []int{99}, damaged: 1,
		},
		{
			name: "garbage appended",
			damage: func(t *testing.T, path string, frames []int64) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.Write(bytes.Repeat([]byte{0xde, 0xad}, 100))
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
			damaged: 1,
		},
		{
			name: "flipped bytes in record 40",
			damage: func(t *testing.T, path string, frames []int64) {
				flip(t, path, frames[40]+frameHeader+20)
			},
			lost: []int{40}, damaged: 1,
		},
		{
			name: "damaged length of record 10 and payload of record 70",
			damage: func(t *testing.T, path string, frames []int64) {
				flip(t, path, frames[10]+5)
				flip(t, path, frames[70]+frameHeader+3)
			},
			lost: []int{10, 70}, damaged: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			journalRecords(t, dir, 100)
			segs, err := listSegments(dir)
			require.NoError(t, err)
			require.Len(t, segs, 1)
			path := segPath(dir, segs[0])
			tc.damage(t, path, recordFrames(t, path))

			up := &memExporter{}
			p2, err := New(dir, []Target{{Name: "pg", Exporter: up}}, WithErrorHandler(func(error) {}))
			require.NoError(t, err)
			flush(t, p2)
			s := p2.Stats()
			require.NoError(t, p2.Shutdown(context.Background()))
			var want []string
			for i := range 100 {
				if !containsInt(tc.lost, i) {
					want = append(want, eventID(i))
				}
			}
			assert.Equal(t, want, up.got())
			assert.Equal(t, tc.damaged, s.Damaged)
			assert.NotZero(t, s.DamagedBytes)
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

// journalRecords journals n records in dir with an exporter that never
// confirms them, and shuts the processor down.
func journalRecords(t *testing.T, dir string, n int) {
	t.Helper()
	down := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	p, err := New(dir, []Target{{Name: "pg", Exporter: down}}, WithRetry(RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Hour}), WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	em := newEmitter(p)
	for i := range n {
		em.emit(context.Background(), i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.Error(t, p.Shutdown(ctx))
}

// recordFrames returns the offsets of the record frames of a segment.
func recordFrames(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	sc := &scanner{f: f, off: segHeaderSize, limit: fi.Size(), sealed: true, maxFrame: 1 << 20}
	var offs []int64
	for {
		p, at, dmg, err := sc.next()
		require.Nil(t, dmg)
		if err != nil {
			break
		}
		if p[0] == kindRecord {
			offs = append(offs, at)
		}
	}
	return offs
}

// TestJournalFullRefusesAndCounts: at the size cap, RefuseWhenFull refuses
// at once, every refusal is counted and reported, and what was accepted is
// delivered once the store is back.
func TestJournalFullRefusesAndCounts(t *testing.T) {
	exp := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	var errs errorLog
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithMaxBytes(64<<10), WithSegmentBytes(16<<10),
		WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}), WithErrorHandler(errs.handle))
	em := newEmitter(p)
	const n = 2000
	for i := range n {
		start := time.Now()
		em.emit(context.Background(), i)
		require.Less(t, time.Since(start), 500*time.Millisecond, "an emit waited although the policy refuses at once")
	}
	s := p.Stats()
	full := s.Dropped[ReasonJournalFull]
	assert.NotZero(t, full)
	assert.EqualValues(t, n, s.Accepted+full, "every record is accepted or counted as dropped")
	// Appends are admitted on an estimate of their encoded size, corrected
	// once written: the cap holds to within a few records.
	assert.LessOrEqual(t, s.Bytes, int64(64<<10+4<<10))
	var drops uint64
	for _, e := range errs.all() {
		var de *DropError
		if errors.As(e, &de) {
			assert.Equal(t, ReasonJournalFull, de.Reason)
			drops += de.Count
		}
	}
	p.reporter.flush()
	for _, e := range errs.all()[len(errs.all())-1:] {
		var de *DropError
		if errors.As(e, &de) && drops < full {
			drops += de.Count
		}
	}
	assert.Equal(t, full, drops, "the reports add up to the refusals")

	exp.setFail(nil)
	flush(t, p)
	got := exp.got()
	assert.Len(t, got, int(s.Accepted))
	assert.True(t, slices.IsSorted(got), "the accepted records are delivered in order")
	assert.Equal(t, len(got), len(slices.Compact(slices.Clone(got))), "no record twice")
}

// TestWaitWhenFullWaitsForRoom: with WaitWhenFull, an emit at the cap waits
// for the store to free room and is then accepted.
func TestWaitWhenFullWaitsForRoom(t *testing.T) {
	exp := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithMaxBytes(64<<10), WithSegmentBytes(16<<10),
		WithFullPolicy(WaitWhenFull(10*time.Second)), WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}), WithErrorHandler(func(error) {}))
	em := newEmitter(p)
	i := 0
	for ; p.Stats().Bytes < 60<<10; i++ {
		em.emit(context.Background(), i)
	}
	time.AfterFunc(300*time.Millisecond, func() { exp.setFail(nil) })
	start := time.Now()
	for j := range 400 {
		em.emit(context.Background(), i+j)
	}
	assert.Greater(t, time.Since(start), 200*time.Millisecond, "the emits waited for room")
	flush(t, p)
	assert.Equal(t, ids(0, i+400), exp.got())
	assert.Zero(t, p.Stats().Dropped[ReasonJournalFull])
}

// TestOneTargetDownDoesNotHoldBackTheOther: each target has its own cursor.
func TestOneTargetDownDoesNotHoldBackTheOther(t *testing.T) {
	down := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	up := &memExporter{}
	p := open(t, t.TempDir(), []sdklog.Exporter{down, up}, WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond}), WithErrorHandler(func(error) {}))
	em := newEmitter(p)
	for i := range 1000 {
		em.emit(context.Background(), i)
	}
	require.Eventually(t, func() bool { return len(up.got()) == 1000 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, ids(0, 1000), up.got())
	s := p.Stats()
	assert.NotZero(t, s.Targets["t0"].Retried)
	assert.NotZero(t, s.Targets["t0"].Backlog)
	// The cursor moves just after Export returns.
	assert.Eventually(t, func() bool { return p.Stats().Targets["t1"].Backlog == 0 }, 5*time.Second, time.Millisecond, "the working target confirmed everything")
	assert.Empty(t, down.got())

	down.setFail(nil)
	flush(t, p)
	assert.Equal(t, ids(0, 1000), down.got())
}

// rejectingExporter refuses, through the reject hook, the records whose
// user id is in refuse; it keeps the others.
type rejectingExporter struct {
	memExporter
	refuse map[string]bool
}

func (e *rejectingExporter) Export(ctx context.Context, records []sdklog.Record) error {
	hook := auditrow.RejectHookFromContext(ctx)
	var keep []sdklog.Record
	for i := range records {
		id := recordUID(&records[i])
		if e.refuse[id] {
			u, _ := uuidParse(id)
			hook(&auditrow.RejectError{Exporter: "test", Reason: "refused_by_server", EventID: u, Err: errors.New("value too long")})
			continue
		}
		keep = append(keep, records[i])
	}
	return e.memExporter.Export(ctx, keep)
}

func TestRefusedRecordsGoToTheDeadLetterFile(t *testing.T) {
	dir := t.TempDir()
	exp := &rejectingExporter{refuse: map[string]bool{eventID(3): true, eventID(7): true}}
	var errs errorLog
	p := open(t, dir, []sdklog.Exporter{exp}, WithErrorHandler(errs.handle))
	em := newEmitter(p)
	for i := range 10 {
		em.emit(context.Background(), i)
	}
	flush(t, p)
	s := p.Stats().Targets["t0"]
	assert.EqualValues(t, 8, s.Delivered)
	assert.EqualValues(t, 2, s.DeadLettered)
	assert.Len(t, exp.got(), 8)

	b, err := os.ReadFile(filepath.Join(dir, "deadletter", "t0.jsonl"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 2)
	for i, want := range []string{eventID(3), eventID(7)} {
		var dl DeadLetter
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &dl))
		assert.Equal(t, want, dl.EventID)
		assert.Equal(t, "refused_by_server", dl.Reason)
		assert.Contains(t, dl.Error, "value too long")
		require.NotNil(t, dl.Record)
		assert.Equal(t, "audit.login", dl.Record.EventName)
		assert.Contains(t, lines[i], `"key":"log.record.uid"`)
	}
	assert.NotEmpty(t, errs.all())
}

// TestPermanentErrorIsolatesTheBadRecord: a batch failing with a permanent
// error is halved until the failing record is alone; it is dead-lettered
// and the others delivered.
func TestPermanentErrorIsolatesTheBadRecord(t *testing.T) {
	dir := t.TempDir()
	exp := &memExporter{fail: func(rs []sdklog.Record) error {
		for i := range rs {
			if recordUID(&rs[i]) == eventID(5) {
				return Permanent(errors.New("400 bad request"))
			}
		}
		return nil
	}}
	p := open(t, dir, []sdklog.Exporter{exp}, WithErrorHandler(func(error) {}))
	em := newEmitter(p)
	for i := range 16 {
		em.emit(context.Background(), i)
	}
	flush(t, p)
	got := exp.got()
	assert.Len(t, got, 15)
	assert.NotContains(t, got, eventID(5))
	assert.EqualValues(t, 1, p.Stats().Targets["t0"].DeadLettered)
	b, err := os.ReadFile(filepath.Join(dir, "deadletter", "t0.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(b), eventID(5))
	assert.Contains(t, string(b), "permanent_error")
}

// TestSegmentsAreDeletedOnceConfirmed: the journal does not grow while
// every exporter keeps up.
func TestSegmentsAreDeletedOnceConfirmed(t *testing.T) {
	dir := t.TempDir()
	exp := &memExporter{}
	p := open(t, dir, []sdklog.Exporter{exp}, WithSegmentBytes(64<<10))
	em := newEmitter(p)
	for i := range 5000 {
		em.emit(context.Background(), i)
	}
	flush(t, p)
	segs, err := listSegments(dir)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(segs), 2, "confirmed segments are deleted before ForceFlush returns: %v", segs)
	assert.Less(t, p.Stats().Bytes, int64(128<<10))
	assert.Equal(t, ids(0, 5000), exp.got())
}

func TestDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, []sdklog.Exporter{&memExporter{}})
	_, err := New(dir, []Target{{Name: "t0", Exporter: &memExporter{}}})
	assert.ErrorIs(t, err, ErrLocked)
}

func TestNewValidates(t *testing.T) {
	for _, ts := range [][]Target{nil, {{Name: "Bad Name", Exporter: &memExporter{}}}, {{Name: "a", Exporter: nil}},
		{{Name: "a", Exporter: &memExporter{}}, {Name: "a", Exporter: &memExporter{}}}} {
		_, err := New(t.TempDir(), ts)
		assert.Error(t, err, "%+v", ts)
	}
	_, err := New("", []Target{{Name: "a", Exporter: &memExporter{}}})
	assert.Error(t, err)
}

// TestSyncEachWaitsForFsync: with SyncEach, OnEmit returns only after an
// fsync that covers its record.
func TestSyncEachWaitsForFsync(t *testing.T) {
	var syncs atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	p := open(t, t.TempDir(), []sdklog.Exporter{&memExporter{}}, WithSync(SyncEach()), withFsync(func(f syncer) error {
		<-release
		syncs.Add(1)
		return f.Sync()
	}))
	em := newEmitter(p)
	done := make(chan struct{})
	go func() { em.emit(context.Background(), 1); close(done) }()
	select {
	case <-done:
		t.Fatal("emit returned before the fsync")
	case <-time.After(100 * time.Millisecond):
	}
	once.Do(func() { close(release) })
	<-done
	assert.NotZero(t, syncs.Load())
}

func TestEmitsConcurrentSafe(t *testing.T) {
	exp := &memExporter{}
	p := open(t, t.TempDir(), []sdklog.Exporter{exp, &memExporter{}}, WithSegmentBytes(64<<10))
	em := newEmitter(p)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				em.emit(context.Background(), g*500+i)
			}
		}()
	}
	wg.Add(1)
	go func() { // Stats and ForceFlush while emitting
		defer wg.Done()
		for range 20 {
			_ = p.Stats()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = p.ForceFlush(ctx)
			cancel()
		}
	}()
	wg.Wait()
	flush(t, p)
	got := exp.got()
	assert.ElementsMatch(t, ids(0, 4000), got)
}

func TestShutdownRefusesLaterRecords(t *testing.T) {
	exp := &memExporter{}
	p, err := New(t.TempDir(), []Target{{Name: "a", Exporter: exp}}, WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	em := newEmitter(p)
	em.emit(context.Background(), 1)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "a second Shutdown returns the first one's result")
	em.emit(context.Background(), 2)
	assert.EqualValues(t, 1, p.Stats().Dropped[ReasonShutdown])
	assert.Equal(t, ids(1, 2), exp.got(), "Shutdown delivered what was accepted")
	assert.True(t, exp.stopped, "Shutdown shut the exporter down")
}

// TestShutdownDoesNotWaitForAStoreThatIsDown: with a context without a
// deadline, Shutdown returns once the only target left is failing, and
// says what is left; the records stay for the next start.
func TestShutdownDoesNotWaitForAStoreThatIsDown(t *testing.T) {
	dir := t.TempDir()
	down := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	up := &memExporter{}
	p, err := New(dir, []Target{{Name: "down", Exporter: down}, {Name: "up", Exporter: up}}, WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	em := newEmitter(p)
	for i := range 50 {
		em.emit(context.Background(), i)
	}
	start := time.Now()
	err = p.Shutdown(context.Background())
	assert.Less(t, time.Since(start), 5*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "down: ")
	assert.NotContains(t, err.Error(), "up: ")
	assert.Equal(t, ids(0, 50), up.got(), "the working store got everything before Shutdown returned")

	again := &memExporter{}
	p2, err := New(dir, []Target{{Name: "down", Exporter: again}, {Name: "up", Exporter: &memExporter{}}})
	require.NoError(t, err)
	flush(t, p2)
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, ids(0, 50), again.got())
}

// TestWriterDoesNotWaitForFsync: a slow fsync (here: one that does not
// return) holds up neither the writer nor segment rotation. Appended
// records keep reaching the operating system, so a process crash loses
// only what the writer has not taken yet, however slow the disk's
// flushes are.
func TestWriterDoesNotWaitForFsync(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	p := open(t, t.TempDir(), []sdklog.Exporter{&memExporter{}}, WithSegmentBytes(minSegmentBytes), withFsync(func(f syncer) error {
		<-release
		return f.Sync()
	}))
	t.Cleanup(unblock) // before the Processor's shutdown, which fsyncs
	em := newEmitter(p)
	const n = 1000 // about ten segments
	for i := range n {
		em.emit(context.Background(), i)
	}
	for deadline := time.Now().Add(5 * time.Second); p.writtenSeq.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	require.EqualValues(t, n, p.writtenSeq.Load(), "records written while an fsync is stuck")
	p.posMu.Lock()
	seg := p.written.seg
	p.posMu.Unlock()
	assert.Greater(t, seg, uint64(5), "the writer went on to new segments")
	assert.Zero(t, p.syncedSeq.Load(), "nothing counts as fsynced while the fsync is stuck")

	unblock()
	flush(t, p)
	assert.EqualValues(t, n, p.syncedSeq.Load())
}

// TestTooLargeRecordIsRefusedByTheWriter: the writer refuses a record over
// the size limit, counts it, and tells a waiting caller; the records
// around it are delivered.
func TestTooLargeRecordIsRefusedByTheWriter(t *testing.T) {
	exp := &memExporter{}
	var errs errorLog
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithMaxRecordBytes(1024), WithErrorHandler(errs.handle))
	em := newEmitter(p)
	em.emit(context.Background(), 1)
	big := benchRecord()
	big.AddAttributes(attribute.String("blob", strings.Repeat("x", 4096)))
	rc := otelaudit.NewReceipt()
	require.NoError(t, p.OnEmit(otelaudit.ContextWithReceipt(context.Background(), rc), &big))
	err := rc.Wait(context.Background())
	require.ErrorIs(t, err, otelaudit.ErrNotDurable)
	require.ErrorIs(t, err, ErrTooLarge)
	require.NoError(t, p.OnEmit(context.Background(), &big), "fire and forget: the refusal is counted, not returned")
	em.emit(context.Background(), 2)
	flush(t, p)
	assert.Equal(t, []string{eventID(1), eventID(2)}, exp.got())
	s := p.Stats()
	assert.EqualValues(t, 2, s.Dropped[ReasonTooLarge])
	assert.EqualValues(t, 2, s.Accepted)
	p.reporter.flush()
	var reported uint64
	for _, e := range errs.all() {
		var de *DropError
		if errors.As(e, &de) && de.Reason == ReasonTooLarge {
			reported += de.Count
		}
	}
	assert.EqualValues(t, 2, reported)
}

// TestLiveRingAndFilesGiveTheSameRecords: a target that falls behind the
// live ring (a store that was slow) reads the rest from the files, and
// gets every record once, in order.
func TestLiveRingAndFilesGiveTheSameRecords(t *testing.T) {
	slow := &memExporter{}
	var gate atomic.Bool
	slow.fail = func([]sdklog.Record) error {
		if gate.Load() {
			return errDown
		}
		return nil
	}
	fast := &memExporter{}
	gate.Store(true)
	p := open(t, t.TempDir(), []sdklog.Exporter{slow, fast}, WithSegmentBytes(64<<10), WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond}), WithErrorHandler(func(error) {}))
	em := newEmitter(p)
	const n = 3 * liveRecords
	for i := range n {
		em.emit(context.Background(), i)
		if i == n/2 {
			gate.Store(false) // the slow store comes back mid-run
		}
	}
	flush(t, p)
	assert.Equal(t, ids(0, n), fast.got())
	assert.Equal(t, ids(0, n), slow.got())
}
