package journal

import (
	"errors"
	"strings"

	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
)

// fromEnv sets what the environment variables of the package
// documentation's "Configuration" section set; env collects the values
// that cannot be used. New calls it before applying the options.
func (c config) fromEnv(env *envconfig.Reader) config {
	interval, intervalSet := env.Duration(envconfig.JournalSyncInterval)
	if v, ok := env.String(envconfig.JournalSync); ok {
		switch strings.ToLower(v) {
		case "interval":
			c.sync, c.syncSet = SyncInterval(interval), true
		case "each":
			c.sync, c.syncSet = SyncEach(), true
		case "none":
			c.sync, c.syncSet = SyncNone(), true
		default:
			env.Fail(envconfig.JournalSync, v, errors.New(`want "interval", "each" or "none"`))
		}
	} else if intervalSet {
		c.sync, c.syncSet = SyncInterval(interval), true
	}
	if v, ok := env.Bytes(envconfig.JournalMaxBytes); ok {
		c.maxBytes = v
	}
	if v, ok := env.Duration(envconfig.JournalFullWait); ok {
		c.full = WaitWhenFull(v)
	}
	if v, ok := env.Bytes(envconfig.JournalSegmentBytes); ok {
		c.segmentBytes = v
	}
	if v, ok := env.Bytes(envconfig.JournalMaxRecordBytes); ok {
		c.maxRecordBytes = int(min(v, 1<<40))
	}
	if v, ok := env.Bytes(envconfig.JournalWriteBufferBytes); ok {
		c.writeBufferBytes = int(min(v, 1<<40))
	}
	if v, ok := env.Duration(envconfig.JournalWriteStallTimeout); ok {
		c.writeStall = v
	}
	if v, ok := env.Int(envconfig.JournalMaxExportBatchSize); ok {
		c.maxBatch = v
	}
	if v, ok := env.Bytes(envconfig.JournalMaxExportBatchBytes); ok {
		c.maxBatchBytes = int(min(v, 1<<40))
	}
	if v, ok := env.Duration(envconfig.JournalExportTimeout); ok {
		c.exportTimeout = v
	}
	if v, ok := env.Duration(envconfig.JournalRetryInitialInterval); ok {
		c.retryInitial = v
	}
	if v, ok := env.Duration(envconfig.JournalRetryMaxInterval); ok {
		c.retryMax = v
	}
	if v, ok := env.Bool(envconfig.JournalIncludeNonAudit); ok {
		c.includeNonAudit = v
	}
	return c
}
