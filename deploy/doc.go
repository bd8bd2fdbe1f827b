// Package deploy holds the deployment files of the project and their checks:
// collector.yaml, the Collector configuration that docker-compose.yml mounts
// into the otelaudit distribution, and the tests that keep both honest
// without Docker:
//
//   - compose_test.go loads the repository's docker-compose.yml with the
//     Compose specification's reference loader
//     (github.com/compose-spec/compose-go/v2) and checks its services,
//     published ports, health checks, start order (depends_on conditions),
//     the Dockerfile of every image it builds, and that collector.yaml
//     agrees with it;
//   - validate_test.go has the distribution (cmd/otelaudit-collector) validate
//     collector.yaml;
//   - pipeline_test.go runs the compose pipeline as processes: the
//     distribution with collector.yaml on throwaway Postgres and ClickHouse
//     databases (internal/testenv), and the workloads of the three example
//     services sent to it as OTLP; every event must be stored once in both
//     stores, by service, action and outcome.
//
// The last two build the distribution from cmd/otelaudit-collector and are
// skipped when its source is not in the tree.
//
// It is a module of its own, so that the library's go.mod does not carry the
// Compose loader.
package deploy
