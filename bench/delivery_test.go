package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/journal"
)

// TestDeliveryEmitEquivalent checks that emit_recommended and emit_stock
// of BenchmarkDelivery record the same event: the journal delivers what the
// Auditor emitted through the recommended provider, with the same event
// name, severity, scope and attributes as the stock provider's record, and
// the resource names the service.
func TestDeliveryEmitEquivalent(t *testing.T) {
	stockExp := &captureExporter{}
	stock := newProvider(stockExp, false)
	em := newBridge(stock)
	em.emit(context.Background())
	if err := em.check(); err != nil {
		t.Fatal(err)
	}
	if err := stock.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	journalExp := &captureExporter{}
	proc, errs, err := newJournal(t.TempDir(), "capture", journalExp)
	if err != nil {
		t.Fatal(err)
	}
	recommended := newAuditProvider(proc, pgService)
	em = newBridge(recommended)
	em.emit(context.Background())
	if err := em.check(); err != nil {
		t.Fatal(err)
	}
	if err := recommended.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := checkJournal(proc, "capture", 1); err != nil {
		t.Fatal(err)
	}
	if err := errs.err(); err != nil {
		t.Fatal(err)
	}

	s, j := one(t, "stock", stockExp), one(t, "recommended", journalExp)
	if s.EventName() != fixture.eventName || j.EventName() != s.EventName() {
		t.Errorf("EventName: stock %q, recommended %q, want %q", s.EventName(), j.EventName(), fixture.eventName)
	}
	if j.Severity() != s.Severity() || j.InstrumentationScope().Name != s.InstrumentationScope().Name {
		t.Errorf("severity %v and scope %q through the journal, want %v and %q", j.Severity(), j.InstrumentationScope().Name, s.Severity(), s.InstrumentationScope().Name)
	}
	want, got := attrs(t, "stock", s), attrs(t, "recommended", j)
	if len(got) != len(want) {
		t.Errorf("%d attributes through the journal, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s through the journal, want %s", k, got[k], v)
		}
	}
	res := j.Resource()
	if v, ok := res.Set().Value(otelaudit.KeyServiceName); !ok || v.AsString() != pgService {
		t.Errorf("resource %v, want service.name %q", res, pgService)
	}
}

func one(t *testing.T, name string, exp *captureExporter) sdklog.Record {
	t.Helper()
	recs := exp.take()
	if len(recs) != 1 {
		t.Fatalf("%s: exported %d records, want 1", name, len(recs))
	}
	return recs[0]
}

// TestLoginRecord checks the record of the OnEmit scenarios: a login with
// the actor and the client from the request context.
func TestLoginRecord(t *testing.T) {
	r, err := loginRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.EventName() != "audit.login" {
		t.Errorf("EventName %q, want audit.login", r.EventName())
	}
	got := attrs(t, "login", r)
	for k, v := range map[string]string{
		otelaudit.KeyEventID:       "STRING:<uuidv7>",
		otelaudit.KeyUserID:        "STRING:" + fixture.userID,
		otelaudit.KeyWorkspaceID:   "STRING:" + fixture.workspaceID,
		otelaudit.KeyClientAddress: "STRING:" + fixture.clientIP,
		otelaudit.KeyUserAgent:     "STRING:" + fixture.userAgent,
		otelaudit.KeySessionID:     "STRING:sess_7c0e5b1d",
		otelaudit.KeyOutcome:       "STRING:" + otelaudit.OutcomeSuccess,
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d attributes, want 7: %v", len(got), got)
	}
}

// gate is an exporter that holds every Export until it is opened, and
// then discards.
type gate struct{ open chan struct{} }

func (g gate) Export(ctx context.Context, _ []sdklog.Record) error {
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (gate) ForceFlush(context.Context) error { return nil }
func (gate) Shutdown(context.Context) error   { return nil }

// TestJournalWatch checks that a journalWatch counts every byte of every
// segment the journal wrote, those it deleted included: the journal writes
// small segments while its exporter is held, the watch sees them, then the
// exporter confirms everything and the journal deletes all but the last.
func TestJournalWatch(t *testing.T) {
	dir := t.TempDir()
	g := gate{open: make(chan struct{})}
	proc, errs, err := newJournal(dir, "gate", g, journal.WithSegmentBytes(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	p := newPipelineWith(proc, pgService)
	w := newJournalWatch(dir, proc)
	const events = 500
	emitEvents(context.Background(), p.auditor, events)

	// Wait until everything is written: the journal's size is then the
	// size of its files.
	var onDisk int64
	var segs int
	if !waitUntil(time.Minute, func() bool {
		onDisk, segs = segmentFiles(t, dir)
		return onDisk == proc.Stats().Bytes
	}) {
		t.Fatalf("segment files hold %d bytes, the journal %d", onDisk, proc.Stats().Bytes)
	}
	if segs < 3 {
		t.Fatalf("%d segment files, want at least 3", segs)
	}
	w.poll()

	close(g.open)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.provider.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(time.Minute, func() bool { _, n := segmentFiles(t, dir); return n == 1 }) {
		_, n := segmentFiles(t, dir)
		t.Fatalf("%d segment files left after delivery, want 1", n)
	}
	usage, err := w.finish()
	if err != nil {
		t.Fatal(err)
	}
	if usage.Bytes != onDisk || usage.Segments != segs {
		t.Errorf("watch saw %d bytes in %d segments, want %d in %d", usage.Bytes, usage.Segments, onDisk, segs)
	}
	if usage.PeakBytes != onDisk {
		t.Errorf("peak %d bytes, want %d", usage.PeakBytes, onDisk)
	}
	if err := checkJournal(proc, "gate", events); err != nil {
		t.Fatal(err)
	}
	if err := errs.err(); err != nil {
		t.Fatal(err)
	}
}

// segmentFiles returns the total size and the number of the segment files
// in dir.
func segmentFiles(t *testing.T, dir string) (int64, int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	n := 0
	for _, e := range entries {
		if _, ok := segmentNumber(e.Name()); !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		n++
	}
	return total, n
}

// TestJournalWatchGap checks that a watch that missed a segment reports it
// rather than a short total.
func TestJournalWatchGap(t *testing.T) {
	dir := t.TempDir()
	proc, _, err := newJournal(dir, "gate", gate{open: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	w := newJournalWatch(t.TempDir(), proc) // an empty directory
	w.final[1], w.final[3] = 100, 100
	if _, err := w.finish(); err == nil {
		t.Error("finish with segments 1 and 3 only: no error")
	}
	if _, err := newJournalWatch(t.TempDir(), proc).finish(); err == nil {
		t.Error("finish with no segment: no error")
	}
}

// TestFullSpeedChild runs the child process of fullspeed_postgres on a
// few thousand events and checks what it reports.
func TestFullSpeedChild(t *testing.T) {
	const events = 3000
	res, rss := fullSpeedPostgres(t, childConfig{Events: events, Timeout: 2 * time.Minute, PollEvery: time.Millisecond})
	t.Logf("%+v, peak RSS %.1f MiB", res, rss)
	if perEvent := float64(res.Journal.Bytes) / events; perEvent < 100 || perEvent > 4096 {
		t.Errorf("%d journal bytes for %d events (%.0f per event)", res.Journal.Bytes, events, perEvent)
	}
	if res.Journal.Segments != 1 {
		t.Errorf("%d segments, want 1", res.Journal.Segments)
	}
	if res.Journal.PeakBytes <= 0 || res.Journal.PeakBytes > res.Journal.Bytes {
		t.Errorf("journal peak %d bytes, written %d", res.Journal.PeakBytes, res.Journal.Bytes)
	}
	if rss < 5 || rss > 4096 {
		t.Errorf("peak RSS %.1f MiB", rss)
	}
	if res.EmitSeconds <= 0 || res.Seconds < res.EmitSeconds {
		t.Errorf("emitted in %.3fs, delivered in %.3fs", res.EmitSeconds, res.Seconds)
	}
}

// TestFullSpeedChildFails checks that the parent reports a child that
// failed: here its database does not exist.
func TestFullSpeedChildFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err := runChild(ctx, childConfig{
		Scenario:  childJournalPostgres,
		DSN:       "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
		Dir:       filepath.Join(t.TempDir(), "journal"),
		Events:    10,
		Timeout:   3 * time.Second,
		PollEvery: time.Millisecond,
	})
	if err == nil {
		t.Fatal("a child without a database reported success")
	}
	t.Log(err)
}
