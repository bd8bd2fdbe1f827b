// Package metadata holds the component type and stability declared in the
// exporter's metadata.yaml.
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the component type of the exporter: "otelaudit" in a Collector
// configuration.
var Type = component.MustNewType("otelaudit")

// LogsStability is the stability of the logs exporter.
const LogsStability = component.StabilityLevelAlpha
