package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
)

// memExporter keeps the event ids of the records it was given; fail makes
// Export fail while it returns an error.
type memExporter struct {
	mu      sync.Mutex
	ids     []string
	records []sdklog.Record
	keep    bool
	calls   int
	fail    func(records []sdklog.Record) error
	stopped bool
}

func (m *memExporter) Export(ctx context.Context, records []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.stopped {
		return sdklog.ErrExporterShutdown
	}
	if m.fail != nil {
		if err := m.fail(records); err != nil {
			return err
		}
	}
	for i := range records {
		m.ids = append(m.ids, recordUID(&records[i]))
		if m.keep {
			m.records = append(m.records, records[i].Clone())
		}
	}
	return nil
}

func (m *memExporter) Shutdown(context.Context) error {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	return nil
}
func (m *memExporter) ForceFlush(context.Context) error { return nil }

func (m *memExporter) setFail(f func([]sdklog.Record) error) {
	m.mu.Lock()
	m.fail = f
	m.mu.Unlock()
}

func (m *memExporter) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.ids...)
}

var errDown = errors.New("store down")

// emitter emits audit records through an SDK provider whose only
// processor is p.
type emitter struct {
	lp     *sdklog.LoggerProvider
	logger log.Logger
}

func newEmitter(p sdklog.Processor) *emitter {
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(p),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "journal-test"))),
	)
	return &emitter{lp: lp, logger: lp.Logger("journal-test", log.WithInstrumentationVersion("1.2.3"))}
}

func eventID(i int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", i) }

func (e *emitter) emit(ctx context.Context, i int) {
	var r log.Record
	r.SetEventName("audit.login")
	r.SetTimestamp(time.Unix(1700000000, int64(i)))
	r.SetSeverity(log.SeverityInfo)
	r.AddAttributes(
		attribute.String(otelaudit.KeyEventID, eventID(i)),
		attribute.String(otelaudit.KeyUserID, fmt.Sprintf("user-%d", i%97)),
		attribute.String(otelaudit.KeyWorkspaceID, "ws-1"),
		attribute.String(otelaudit.KeyOutcome, "success"),
	)
	e.logger.Emit(ctx, r)
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, eventID(i))
	}
	return out
}

// open returns a Processor on dir delivering to the given exporters (named
// t0, t1, ...), shut down at the end of the test.
func open(t *testing.T, dir string, exps []sdklog.Exporter, opts ...Option) *Processor {
	t.Helper()
	var ts []Target
	for i, e := range exps {
		ts = append(ts, Target{Name: fmt.Sprintf("t%d", i), Exporter: e})
	}
	p, err := New(dir, ts, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

// errorLog collects what the processor reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handle(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }
func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func uuidParse(s string) (uuid.UUID, error) { return uuid.Parse(s) }
