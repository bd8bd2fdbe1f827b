package clickhouselog

import (
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// fromEnv sets what the environment variables of the package
// documentation's "Configuration" section set; env collects the values
// that cannot be used. New and Open call it before applying the options.
func (c config) fromEnv(env *envconfig.Reader) config {
	if v, ok := env.String(envconfig.ClickHouseDatabase); ok {
		c.schema.Database = v
	}
	if v, ok := env.String(envconfig.ClickHouseTable); ok {
		c.schema.Table = v
	}
	if v, ok := env.String(envconfig.ClickHouseLayout); ok {
		l, err := chschema.ParseLayout(v)
		if err != nil {
			env.Fail(envconfig.ClickHouseLayout, v, err)
		}
		c.layout = l
	}
	if v, ok := env.Bool(envconfig.ClickHouseRetryEnabled); ok {
		c.retry.Enabled = v
	}
	if v, ok := env.Duration(envconfig.ClickHouseRetryInitialInterval); ok {
		c.retry.InitialInterval = v
	}
	if v, ok := env.Duration(envconfig.ClickHouseRetryMaxInterval); ok {
		c.retry.MaxInterval = v
	}
	if v, ok := env.Duration(envconfig.ClickHouseRetryMaxElapsedTime); ok {
		c.retry.MaxElapsedTime = v
	}
	return c
}
