package main

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/otelaudit/otelaudit/exporter/otelauditexporter"
)

// components are the factories of the distribution: the OTLP receiver
// (gRPC and HTTP), the memory_limiter and batch processors, the
// file_storage extension (for a sending queue on disk) and the otelaudit
// exporter. builder-config.yaml lists the same for the Collector builder.
func components() (otelcol.Factories, error) {
	f := otelcol.Factories{
		Receivers:  map[component.Type]receiver.Factory{},
		Processors: map[component.Type]processor.Factory{},
		Exporters:  map[component.Type]exporter.Factory{},
		Extensions: map[component.Type]extension.Factory{},
		Telemetry:  otelconftelemetry.NewFactory(),
	}
	for _, r := range []receiver.Factory{otlpreceiver.NewFactory()} {
		f.Receivers[r.Type()] = r
	}
	for _, p := range []processor.Factory{memorylimiterprocessor.NewFactory(), batchprocessor.NewFactory()} {
		f.Processors[p.Type()] = p
	}
	for _, e := range []exporter.Factory{otelauditexporter.NewFactory()} {
		f.Exporters[e.Type()] = e
	}
	for _, x := range []extension.Factory{filestorage.NewFactory()} {
		f.Extensions[x.Type()] = x
	}
	return f, nil
}
