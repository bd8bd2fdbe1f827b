// Command otelaudit-collector is an OpenTelemetry Collector distribution
// that receives OTLP logs (gRPC and HTTP) and writes the audit records
// among them into the Postgres and ClickHouse audit tables through the
// otelaudit exporter (exporter/otelauditexporter). It holds the OTLP
// receiver, the memory_limiter and batch processors, the file_storage
// extension and the otelaudit exporter:
//
//	otelaudit-collector --config config.yaml
//
// config.yaml in this directory is an example; builder-config.yaml builds
// the same distribution with the Collector builder (ocb).
package main

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelaudit/otelaudit"
)

func main() {
	if err := otelcol.NewCommand(settings()).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "otelaudit-collector:", err)
		os.Exit(1)
	}
}

// settings are the Collector's settings: the components, and
// configuration read from files ("file:" or a bare path), environment
// variables (${env:NAME}) and inline YAML ("yaml:").
func settings() otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelaudit-collector",
			Description: "OpenTelemetry Collector with the otelaudit exporter",
			Version:     otelaudit.Version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					fileprovider.NewFactory(),
					envprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
}
