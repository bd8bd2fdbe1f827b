package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
)

// fixture is the one event every scenario emits. The field values are the
// same in all scenarios.
var fixture = struct {
	action      otelaudit.Action
	eventName   string
	userID      string
	workspaceID string
	clientIP    string
	userAgent   string
	resType     string
	resID       string
	details     attribute.Value
	previous    attribute.Value
	next        attribute.Value
}{
	action:      otelaudit.ActionSettingsChanged,
	eventName:   "audit.settings_changed",
	userID:      "usr_2f8c1a9e",
	workspaceID: "ws_acme",
	clientIP:    "203.0.113.7",
	userAgent:   "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	resType:     "workspace_settings",
	resID:       "ws_acme/security",
	details: attribute.MapValue(
		attribute.String("reason", "quarterly access review"),
		attribute.String("ticket", "SEC-1423"),
		attribute.Bool("notify_members", true),
	),
	previous: attribute.MapValue(
		attribute.Bool("mfa_required", false),
		attribute.Int("session_ttl_hours", 24),
	),
	next: attribute.MapValue(
		attribute.Bool("mfa_required", true),
		attribute.Int("session_ttl_hours", 8),
	),
}

// securitySettings is the fixture's previous and new value as a Go struct,
// for the bridge_struct scenario: the json tags give the fixture's keys.
type securitySettings struct {
	MFARequired     bool `json:"mfa_required"`
	SessionTTLHours int  `json:"session_ttl_hours"`
}

// fixtureGo holds the fixture's structured values as Go values, for the
// scenarios that pass them as such: the same keys and values, of the Go
// types that convert to the fixture's attribute types (bool, int64,
// string).
var fixtureGo = struct {
	details        map[string]any
	previous, next map[string]any
	prevStruct     securitySettings
	nextStruct     securitySettings
}{
	details:    map[string]any{"reason": "quarterly access review", "ticket": "SEC-1423", "notify_members": true},
	previous:   map[string]any{"mfa_required": false, "session_ttl_hours": 24},
	next:       map[string]any{"mfa_required": true, "session_ttl_hours": 8},
	prevStruct: securitySettings{MFARequired: false, SessionTTLHours: 24},
	nextStruct: securitySettings{MFARequired: true, SessionTTLHours: 8},
}

// BatchProcessor settings of every scenario: the SDK defaults but a queue 8
// times larger (see the package documentation), written out so that
// OTEL_BLRP_* environment variables cannot change them.
const (
	batchQueueSize     = 16384 // default 2048
	batchExportSize    = 512
	batchExportEvery   = time.Second
	batchExportTimeout = 30 * time.Second
)

// dedupOffSuffix ends the names of BenchmarkEmit's scenarios that run
// with the SDK's key deduplication off.
const dedupOffSuffix = "_dedup_off"

// newProvider returns the LoggerProvider every scenario emits into: the
// stock BatchProcessor in front of exp, with the SDK's default limits and
// resource. With dedupOff the SDK's per-record key deduplication is off
// (sdklog.WithAllowKeyDuplication), as the pipelines set it up; else on,
// the SDK's default.
func newProvider(exp sdklog.Exporter, dedupOff bool) *sdklog.LoggerProvider {
	opts := []sdklog.LoggerProviderOption{sdklog.WithProcessor(newBatchProcessor(exp))}
	if dedupOff {
		opts = append(opts, sdklog.WithAllowKeyDuplication())
	}
	return sdklog.NewLoggerProvider(opts...)
}

// newBatchProcessor returns the stock BatchProcessor of every scenario in
// front of exp.
func newBatchProcessor(exp sdklog.Exporter) *sdklog.BatchProcessor {
	return sdklog.NewBatchProcessor(exp,
		sdklog.WithMaxQueueSize(batchQueueSize),
		sdklog.WithExportMaxBatchSize(batchExportSize),
		sdklog.WithExportInterval(batchExportEvery),
		sdklog.WithExportTimeout(batchExportTimeout),
	)
}

// discardExporter drops every record; it only counts them, so that a
// benchmark can check that the BatchProcessor dropped none.
type discardExporter struct {
	exported atomic.Int64
}

var _ sdklog.Exporter = (*discardExporter)(nil)

func (e *discardExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.exported.Add(int64(len(records)))
	return nil
}

func (*discardExporter) ForceFlush(context.Context) error { return nil }
func (*discardExporter) Shutdown(context.Context) error   { return nil }

// captureExporter keeps a copy of every record, for the equivalence test.
type captureExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Exporter = (*captureExporter)(nil)

func (e *captureExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range records {
		e.records = append(e.records, records[i].Clone())
	}
	return nil
}

func (*captureExporter) ForceFlush(context.Context) error { return nil }
func (*captureExporter) Shutdown(context.Context) error   { return nil }

func (e *captureExporter) take() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.records
	e.records = nil
	return r
}

// flushAndCount flushes lp and checks that the exporter received want
// records: none dropped by a full queue.
func flushAndCount(lp *sdklog.LoggerProvider, exp *discardExporter, want int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if got := exp.exported.Load(); got != want {
		return fmt.Errorf("exporter received %d records, %d were emitted: the BatchProcessor dropped %d", got, want, want-got)
	}
	return lp.Shutdown(ctx)
}
