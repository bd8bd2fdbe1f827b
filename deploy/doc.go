// Package deploy holds the deployment files of the project and their checks:
// collector.yaml, the Collector configuration that docker-compose.yml mounts
// into the otelaudit distribution, and compose_test.go, which loads the
// repository's docker-compose.yml with the Compose specification's reference
// loader (github.com/compose-spec/compose-go/v2) and checks its services,
// published ports, health checks, start order (depends_on conditions), the
// Dockerfile of every image it builds, and that the collector configuration
// agrees with it. Docker is not needed to run the checks.
//
// It is a module of its own, so that the library's go.mod does not carry the
// Compose loader.
package deploy
