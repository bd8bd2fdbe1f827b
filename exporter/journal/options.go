package journal

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
)

// Defaults of the options.
const (
	// DefaultSyncInterval is the group-commit interval: the journal is
	// fsynced at most this long after a record was appended. A process
	// crash (kill -9, a panic) loses only the records still waiting for
	// the writer, at most 4096 and usually the last millisecond's (see the
	// package documentation); a crash of the machine itself
	// (power loss, kernel panic) can lose the records of the last
	// interval. 50 ms keeps that window below a typical request's latency
	// while costing 20 fsyncs a second at most, whatever the rate.
	DefaultSyncInterval = 50 * time.Millisecond
	// DefaultMaxBytes caps the journal on disk: records appended and not
	// yet confirmed by every exporter, plus what is being written. Appends
	// are admitted on a running estimate of a record's encoded size,
	// corrected once it is written, so the cap holds to within a few
	// records.
	DefaultMaxBytes = 1 << 30
	// DefaultSegmentBytes is the size at which a new segment file starts.
	DefaultSegmentBytes = 64 << 20
	// DefaultMaxRecordBytes is the largest record journaled; a larger one
	// is refused (reason "too_large").
	DefaultMaxRecordBytes = 4 << 20
	// DefaultWriteBufferBytes bounds the records appended but not yet
	// handed to the operating system (their estimated encoded size; they
	// are also at most 4096 records waiting for the writer).
	DefaultWriteBufferBytes = 8 << 20
	// DefaultWriteStallTimeout is how long an append waits for room in a
	// full write buffer (the disk, or the CPU the writer needs, is slower
	// than the emitters) before the record is refused (reason
	// "write_stalled"). Emitters are held back, not dropped, through a
	// burst; 5 s covers a starved machine (up to 2.6 s measured with a
	// load average of 20 on two cores).
	DefaultWriteStallTimeout = 5 * time.Second
	// DefaultMaxBatch and DefaultMaxBatchBytes bound one Export call.
	DefaultMaxBatch      = 2048
	DefaultMaxBatchBytes = 8 << 20
	// DefaultExportTimeout bounds one Export call.
	DefaultExportTimeout = 30 * time.Second
	// DefaultRetryInitialInterval and DefaultRetryMaxInterval shape the
	// backoff between failed exports of a batch. There is no total limit:
	// a batch is retried for as long as the journal has room.
	DefaultRetryInitialInterval = 100 * time.Millisecond
	DefaultRetryMaxInterval     = 10 * time.Second
)

// minSegmentBytes is the smallest segment size.
const minSegmentBytes = 16 << 10

// SyncPolicy says when the journal is fsynced. See [SyncEach],
// [SyncInterval] and [SyncNone].
type SyncPolicy struct {
	each     bool
	interval time.Duration
}

// SyncEach makes every emit wait until its record is fsynced. Concurrent
// emits share one fsync (group commit), but each caller waits for it: an
// emit then costs a disk flush, typically 0.1 to 10 ms.
func SyncEach() SyncPolicy { return SyncPolicy{each: true} }

// SyncInterval fsyncs the journal every d while records are appended (group
// commit). Emits do not wait. A machine crash loses at most the last d of
// records; a process crash only those still waiting for the writer (see
// the package documentation). d <= 0 means [DefaultSyncInterval].
func SyncInterval(d time.Duration) SyncPolicy {
	if d <= 0 {
		d = DefaultSyncInterval
	}
	return SyncPolicy{interval: d}
}

// SyncNone never fsyncs on its own: the operating system writes the journal
// back when it chooses (segments are still fsynced when they are closed, and
// records whose caller waits are fsynced for it). A machine crash can lose
// up to the system's write-back delay (about 30 s on Linux).
func SyncNone() SyncPolicy { return SyncPolicy{} }

// FullPolicy says what an append does when the journal has reached its size
// cap. See [RefuseWhenFull] and [WaitWhenFull].
type FullPolicy struct {
	wait time.Duration
}

// RefuseWhenFull refuses new records at once while the journal is full
// (reason "journal_full"). The emitting call is never slowed down.
func RefuseWhenFull() FullPolicy { return FullPolicy{} }

// WaitWhenFull makes an append wait up to d (and no longer than its
// context's deadline) for room, then refuse the record.
func WaitWhenFull(d time.Duration) FullPolicy { return FullPolicy{wait: max(d, 0)} }

// Option configures a [Processor].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	sync             SyncPolicy
	syncSet          bool
	full             FullPolicy
	maxBytes         int64
	segmentBytes     int64
	maxRecordBytes   int
	writeBufferBytes int
	writeStall       time.Duration
	maxBatch         int
	maxBatchBytes    int
	exportTimeout    time.Duration
	retryInitial     time.Duration
	retryMax         time.Duration
	includeNonAudit  bool
	onError          func(error)
	meterProvider    metric.MeterProvider
	now              func() time.Time

	// fsync replaces (*os.File).Sync in tests.
	fsync func(f syncer) error
}

type syncer interface{ Sync() error }

// newConfig returns the defaults, overridden by the environment (see
// env.go), overridden by opts.
func newConfig(opts []Option) (config, error) {
	var c config
	var env envconfig.Reader
	c = c.fromEnv(&env)
	if err := env.Err(); err != nil {
		return c, err
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if !c.syncSet {
		c.sync = SyncInterval(DefaultSyncInterval)
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.segmentBytes <= 0 {
		c.segmentBytes = DefaultSegmentBytes
	}
	// Segments are deleted whole: keep at least four within the cap, so
	// that confirmed records free room while the last segment fills.
	c.maxBytes = max(c.maxBytes, 4*minSegmentBytes)
	c.segmentBytes = max(min(c.segmentBytes, c.maxBytes/4), minSegmentBytes)
	if c.maxRecordBytes <= 0 {
		c.maxRecordBytes = DefaultMaxRecordBytes
	}
	if c.writeBufferBytes <= 0 {
		c.writeBufferBytes = DefaultWriteBufferBytes
	}
	c.writeBufferBytes = max(c.writeBufferBytes, 2*c.maxRecordBytes)
	if c.writeStall <= 0 {
		c.writeStall = DefaultWriteStallTimeout
	}
	if c.maxBatch <= 0 {
		c.maxBatch = DefaultMaxBatch
	}
	if c.maxBatchBytes <= 0 {
		c.maxBatchBytes = DefaultMaxBatchBytes
	}
	if c.exportTimeout <= 0 {
		c.exportTimeout = DefaultExportTimeout
	}
	if c.retryInitial <= 0 {
		c.retryInitial = DefaultRetryInitialInterval
	}
	if c.retryMax <= 0 {
		c.retryMax = DefaultRetryMaxInterval
	}
	c.retryMax = max(c.retryMax, c.retryInitial)
	if c.onError == nil {
		c.onError = otel.Handle
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.fsync == nil {
		c.fsync = func(f syncer) error { return f.Sync() }
	}
	return c, nil
}

// WithSync sets when the journal is fsynced. Default:
// SyncInterval([DefaultSyncInterval]).
func WithSync(p SyncPolicy) Option {
	return optionFunc(func(c config) config { c.sync, c.syncSet = p, true; return c })
}

// WithFullPolicy sets what happens to a record appended while the journal
// is at its size cap. Default: [RefuseWhenFull], so that an emitting call
// is never held up; every refused record is counted (Stats.Dropped
// "journal_full") and reported.
func WithFullPolicy(p FullPolicy) Option {
	return optionFunc(func(c config) config { c.full = p; return c })
}

// WithMaxBytes caps the journal's size on disk. Default: [DefaultMaxBytes].
func WithMaxBytes(n int64) Option {
	return optionFunc(func(c config) config { c.maxBytes = n; return c })
}

// WithSegmentBytes sets the size at which a new segment file starts.
// Default: [DefaultSegmentBytes], at most a quarter of the size cap and at
// least 16 KiB. A
// segment is deleted once every exporter has confirmed all its records, so
// smaller segments free disk sooner.
func WithSegmentBytes(n int64) Option {
	return optionFunc(func(c config) config { c.segmentBytes = n; return c })
}

// WithMaxRecordBytes sets the largest encoded record accepted. Default:
// [DefaultMaxRecordBytes]. The writer measures a record after OnEmit has
// returned, so a larger one is refused then: counted, reported, and
// returned to a caller that waits for it (RecordSync, SyncEach).
func WithMaxRecordBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxRecordBytes = n; return c })
}

// WithWriteBuffer bounds the records appended but not yet written to the
// journal file, and how long an append waits for room in it. Defaults:
// [DefaultWriteBufferBytes], [DefaultWriteStallTimeout].
func WithWriteBuffer(bytes int, stall time.Duration) Option {
	return optionFunc(func(c config) config { c.writeBufferBytes, c.writeStall = bytes, stall; return c })
}

// WithBatch bounds the records and encoded bytes of one Export call.
// Defaults: [DefaultMaxBatch], [DefaultMaxBatchBytes].
func WithBatch(records, bytes int) Option {
	return optionFunc(func(c config) config { c.maxBatch, c.maxBatchBytes = records, bytes; return c })
}

// WithExportTimeout bounds each Export call. Default: [DefaultExportTimeout].
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.exportTimeout = d; return c })
}

// RetryConfig shapes the backoff between failed exports of a batch, with
// the field names of the exporters' RetryConfig: the wait is a random time
// up to a backoff that starts at InitialInterval and doubles up to
// MaxInterval. Zero durations mean the defaults. It has no Enabled and no
// MaxElapsedTime, because the journal never gives up on a batch: it holds
// it on disk and retries until it is exported (or dead-lettered, when the
// store refuses its content), whatever the time.
type RetryConfig struct {
	// InitialInterval is the first backoff.
	InitialInterval time.Duration
	// MaxInterval caps the backoff.
	MaxInterval time.Duration
}

// WithRetry shapes the backoff between failed exports of a batch; see
// [RetryConfig].
func WithRetry(rc RetryConfig) Option {
	return optionFunc(func(c config) config { c.retryInitial, c.retryMax = rc.InitialInterval, rc.MaxInterval; return c })
}

// WithIncludeNonAudit journals every record, not only audit records (those
// whose EventName starts with "audit."). Default: other records are skipped
// and counted (Stats.Skipped); they belong to other processors.
func WithIncludeNonAudit() Option {
	return optionFunc(func(c config) config { c.includeNonAudit = true; return c })
}

// WithErrorHandler sets the function that receives refused records,
// failed exports (at most one report per exporter and second) and
// dead-lettered records. Default: [otel.Handle]. It must not block.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c config) config { c.onError = f; return c })
}

// WithMeterProvider sets where the journal's metrics go. Default:
// [otel.GetMeterProvider].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config { c.meterProvider = mp; return c })
}

// withClock and withFsync are for tests.
func withClock(now func() time.Time) Option {
	return optionFunc(func(c config) config { c.now = now; return c })
}

func withFsync(f func(syncer) error) Option {
	return optionFunc(func(c config) config { c.fsync = f; return c })
}
