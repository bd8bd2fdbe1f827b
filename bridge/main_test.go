package bridge

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

// TestMain fails the package's tests if they leave goroutines behind, and
// closes the chDB engine, if the ClickHouse test ran on it, before the
// process exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit))
}

// memExporter is an in-memory sdk/log exporter: it keeps a clone of every
// record it is given.
type memExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Exporter = (*memExporter)(nil)

func (e *memExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range records {
		e.records = append(e.records, r.Clone())
	}
	return nil
}

func (*memExporter) Shutdown(context.Context) error   { return nil }
func (*memExporter) ForceFlush(context.Context) error { return nil }

// Records returns the records exported so far.
func (e *memExporter) Records() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.records)
}

// testTime is what the fake clock of the test Auditors returns.
var testTime = time.Date(2026, 11, 25, 9, 30, 0, 123456789, time.UTC)

// harness is an Auditor emitting through a real SDK LoggerProvider with a
// SimpleProcessor into a memExporter, with a fake clock and an error
// handler that keeps what it is given.
type harness struct {
	auditor *Auditor
	exp     *memExporter

	mu   sync.Mutex
	errs []error
}

func newHarness(t testing.TB, opts ...Option) *harness {
	t.Helper()
	h := &harness{exp: &memExporter{}}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(h.exp)))
	t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })
	base := []Option{
		WithLoggerProvider(provider),
		WithClock(func() time.Time { return testTime }),
		WithErrorHandler(h.onError),
	}
	h.auditor = New(append(base, opts...)...)
	return h
}

func (h *harness) onError(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

func (h *harness) Errors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.errs)
}

// only returns the one record exported so far.
func (h *harness) only(t testing.TB) sdklog.Record {
	t.Helper()
	rs := h.exp.Records()
	require.Len(t, rs, 1)
	return rs[0]
}

// attrsOf returns the attributes of r by key.
func attrsOf(t testing.TB, r sdklog.Record) map[string]attribute.Value {
	t.Helper()
	m := make(map[string]attribute.Value, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		_, dup := m[string(kv.Key)]
		require.False(t, dup, "duplicate attribute %q", kv.Key)
		m[string(kv.Key)] = kv.Value
		return true
	})
	return m
}

// requireEventID checks that v is the canonical text of a UUIDv7 and
// returns it.
func requireEventID(t testing.TB, v attribute.Value) uuid.UUID {
	t.Helper()
	require.Equal(t, attribute.STRING, v.Type(), "event id attribute")
	id, err := uuid.Parse(v.AsString())
	require.NoError(t, err)
	require.Equal(t, v.AsString(), id.String(), "canonical form")
	require.Equal(t, uuid.Version(7), id.Version())
	require.Equal(t, uuid.RFC4122, id.Variant())
	return id
}

// requireAttrs checks the attributes of r against want, apart from the
// event id, which must be a UUIDv7 and is returned.
func requireAttrs(t testing.TB, r sdklog.Record, want map[string]attribute.Value) uuid.UUID {
	t.Helper()
	got := attrsOf(t, r)
	id := requireEventID(t, got[otelaudit.KeyEventID])
	delete(got, otelaudit.KeyEventID)
	require.Equal(t, want, got)
	return id
}

// merge returns the union of the maps, later ones winning.
func merge(ms ...map[string]attribute.Value) map[string]attribute.Value {
	out := map[string]attribute.Value{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func str(s string) attribute.Value { return attribute.StringValue(s) }
