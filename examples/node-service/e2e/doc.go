// Package e2e tests examples/node-service, the TypeScript service, from Go:
// it builds the service (scripts/node-service.sh), runs it against an
// OTLP/HTTP capture endpoint, and checks every record it sends against the
// record contract, by mapping it through exporter/auditrow into the row a
// store would write. It proves that a non-Go service on the official
// OpenTelemetry JS SDK writes the same records as the Go bridge.
//
// Node.js and npm are needed. Without them the tests are skipped, unless
// CI=true or OTELAUDIT_TEST_REQUIRE_SERVICES=1 (set by make test): then the
// build script installs them with apt-get when run as root, and a missing
// Node.js is a failure.
package e2e
