package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// TestConfigurationFromEnvironment sets every OTELAUDIT_JOURNAL_*
// variable and checks the configuration New would use, then that options
// win over each.
func TestConfigurationFromEnvironment(t *testing.T) {
	for k, v := range map[string]string{
		"OTELAUDIT_JOURNAL_SYNC":                   "interval",
		"OTELAUDIT_JOURNAL_SYNC_INTERVAL":          "250",
		"OTELAUDIT_JOURNAL_MAX_BYTES":              "2GiB",
		"OTELAUDIT_JOURNAL_FULL_WAIT":              "3s",
		"OTELAUDIT_JOURNAL_SEGMENT_BYTES":          "32MiB",
		"OTELAUDIT_JOURNAL_MAX_RECORD_BYTES":       "1MiB",
		"OTELAUDIT_JOURNAL_WRITE_BUFFER_BYTES":     "16MiB",
		"OTELAUDIT_JOURNAL_WRITE_STALL_TIMEOUT":    "2s",
		"OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_SIZE":  "512",
		"OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_BYTES": "4MiB",
		"OTELAUDIT_JOURNAL_EXPORT_TIMEOUT":         "1m",
		"OTELAUDIT_JOURNAL_RETRY_INITIAL_INTERVAL": "20ms",
		"OTELAUDIT_JOURNAL_RETRY_MAX_INTERVAL":     "40000",
		"OTELAUDIT_JOURNAL_INCLUDE_NON_AUDIT":      "true",
	} {
		t.Setenv(k, v)
	}
	c, err := newConfig(nil)
	require.NoError(t, err)
	require.Equal(t, SyncInterval(250*time.Millisecond), c.sync)
	require.Equal(t, int64(2<<30), c.maxBytes)
	require.Equal(t, WaitWhenFull(3*time.Second), c.full)
	require.Equal(t, int64(32<<20), c.segmentBytes)
	require.Equal(t, 1<<20, c.maxRecordBytes)
	require.Equal(t, 16<<20, c.writeBufferBytes)
	require.Equal(t, 2*time.Second, c.writeStall)
	require.Equal(t, 512, c.maxBatch)
	require.Equal(t, 4<<20, c.maxBatchBytes)
	require.Equal(t, time.Minute, c.exportTimeout)
	require.Equal(t, 20*time.Millisecond, c.retryInitial)
	require.Equal(t, 40*time.Second, c.retryMax)
	require.True(t, c.includeNonAudit)

	c, err = newConfig([]Option{
		WithSync(SyncEach()), WithMaxBytes(1 << 30), WithFullPolicy(RefuseWhenFull()),
		WithSegmentBytes(8 << 20), WithMaxRecordBytes(2 << 20), WithWriteBuffer(8<<20, time.Second),
		WithBatch(64, 1<<20), WithExportTimeout(time.Second), WithRetry(RetryConfig{InitialInterval: time.Second, MaxInterval: 2 * time.Second}),
	})
	require.NoError(t, err)
	require.Equal(t, SyncEach(), c.sync)
	require.Equal(t, int64(1<<30), c.maxBytes)
	require.Equal(t, RefuseWhenFull(), c.full)
	require.Equal(t, int64(8<<20), c.segmentBytes)
	require.Equal(t, 2<<20, c.maxRecordBytes)
	require.Equal(t, 8<<20, c.writeBufferBytes)
	require.Equal(t, time.Second, c.writeStall)
	require.Equal(t, 64, c.maxBatch)
	require.Equal(t, 1<<20, c.maxBatchBytes)
	require.Equal(t, time.Second, c.exportTimeout)
	require.Equal(t, time.Second, c.retryInitial)
	require.Equal(t, 2*time.Second, c.retryMax)

	for value, want := range map[string]SyncPolicy{"each": SyncEach(), "NONE": SyncNone()} {
		t.Setenv("OTELAUDIT_JOURNAL_SYNC", value)
		c, err = newConfig(nil)
		require.NoError(t, err)
		require.Equal(t, want, c.sync, value)
	}
	t.Setenv("OTELAUDIT_JOURNAL_SYNC", "")
	c, err = newConfig(nil)
	require.NoError(t, err)
	require.Equal(t, SyncInterval(250*time.Millisecond), c.sync, "SYNC_INTERVAL alone means the interval policy")
	t.Setenv("OTELAUDIT_JOURNAL_SYNC_INTERVAL", "")
	c, err = newConfig(nil)
	require.NoError(t, err)
	require.Equal(t, SyncInterval(DefaultSyncInterval), c.sync)
}

// TestConfigurationFromEnvironmentErrors: New names every variable whose
// value it cannot use, and refuses to start.
func TestConfigurationFromEnvironmentErrors(t *testing.T) {
	bad := map[string]string{
		"OTELAUDIT_JOURNAL_SYNC":                  "sometimes",
		"OTELAUDIT_JOURNAL_MAX_BYTES":             "1TB",
		"OTELAUDIT_JOURNAL_FULL_WAIT":             "-1s",
		"OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_SIZE": "0",
		"OTELAUDIT_JOURNAL_INCLUDE_NON_AUDIT":     "1",
	}
	for k, v := range bad {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	_, err := New(dir, []Target{{Name: "t0", Exporter: &memExporter{}}})
	require.Error(t, err)
	for k := range bad {
		require.ErrorContains(t, err, k)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing created")
}

// TestDirectoryAndBatchFromEnvironment runs a Processor made by New("")
// from OTELAUDIT_JOURNAL_DIR, with the batch size of the environment: the
// journal is in that directory and the exporter gets batches no larger.
func TestDirectoryAndBatchFromEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	t.Setenv("OTELAUDIT_JOURNAL_DIR", dir)
	t.Setenv("OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_SIZE", "7")
	var largest int
	exp := &memExporter{}
	exp.setFail(func(records []sdklog.Record) error { largest = max(largest, len(records)); return nil })
	p, err := New("", []Target{{Name: "store", Exporter: exp}})
	require.NoError(t, err)
	em := newEmitter(p)
	ctx := context.Background()
	for i := range 50 {
		em.emit(ctx, i)
	}
	require.NoError(t, p.ForceFlush(ctx))
	require.NoError(t, em.lp.Shutdown(ctx))
	require.Equal(t, ids(0, 50), exp.got())
	require.Equal(t, 7, largest)
	_, err = os.Stat(filepath.Join(dir, "cursors"))
	require.NoError(t, err, "the journal is in OTELAUDIT_JOURNAL_DIR")

	t.Setenv("OTELAUDIT_JOURNAL_DIR", "")
	_, err = New("", []Target{{Name: "store", Exporter: exp}})
	require.ErrorContains(t, err, "OTELAUDIT_JOURNAL_DIR")
}
