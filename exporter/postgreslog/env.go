package postgreslog

import (
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
)

// fromEnv sets what the environment variables of the package
// documentation's "Configuration" section set; env collects the values
// that cannot be used. New, Open and NewTxWriter call it before applying the options.
func (c config) fromEnv(env *envconfig.Reader) config {
	if v, ok := env.String(envconfig.PostgresSchema); ok {
		c.schema.Schema = v
	}
	if v, ok := env.String(envconfig.PostgresTable); ok {
		c.schema.Table = v
	}
	if v, ok := env.Bytes(envconfig.PostgresMaxCopyBytes); ok {
		c.maxCopyBytes = int(min(v, 1<<40))
	}
	if v, ok := env.Int(envconfig.PostgresWriters); ok {
		c.writers = v
	}
	if v, ok := env.Bool(envconfig.PostgresRetryEnabled); ok {
		c.retry.Enabled = v
	}
	if v, ok := env.Duration(envconfig.PostgresRetryInitialInterval); ok {
		c.retry.InitialInterval = v
	}
	if v, ok := env.Duration(envconfig.PostgresRetryMaxInterval); ok {
		c.retry.MaxInterval = v
	}
	if v, ok := env.Duration(envconfig.PostgresRetryMaxElapsedTime); ok {
		c.retry.MaxElapsedTime = v
	}
	return c
}
