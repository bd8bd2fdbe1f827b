package otelauditexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelaudit/otelaudit/exporter/otelauditexporter/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, "postgres://audit@localhost:5432/audit", cfg.Postgres.DSN)
	assert.Equal(t, NonAuditDrop, cfg.NonAudit)
	assert.Equal(t, DefaultTimeout, cfg.Timeout)
	assert.True(t, cfg.QueueConfig.HasValue(), "the sending queue is on by default")
	assert.True(t, cfg.BackOffConfig.Enabled)

	cfg, err = loadConfig(t, "full")
	require.NoError(t, err)
	assert.Equal(t, PostgresConfig{DSN: "postgres://audit@localhost:5432/audit", Schema: "audit", Table: "events", Migrate: true}, cfg.Postgres)
	assert.Equal(t, ClickHouseConfig{DSN: "clickhouse://default@localhost:9000/audit", Database: "audit", Table: "events", Migrate: true}, cfg.ClickHouse)
	assert.Equal(t, NonAuditStore, cfg.NonAudit)
	assert.Equal(t, 10*time.Second, cfg.Timeout)
	require.True(t, cfg.QueueConfig.HasValue())
	q := cfg.QueueConfig.Get()
	assert.Equal(t, int64(5000), q.QueueSize)
	require.NotNil(t, q.StorageID)
	assert.Equal(t, "file_storage", q.StorageID.String())
	assert.Equal(t, time.Duration(0), cfg.BackOffConfig.MaxElapsedTime)
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

func TestConfigValidate(t *testing.T) {
	for name, want := range map[string]string{
		"nostore":     "no store",
		"badnonaudit": `non_audit: "keep"`,
		"badtable":    "postgres:",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
