package pipeline_test

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines behind: a
// pipeline's shutdown, and a Setup that fails, must close every
// connection the stores opened.
//
// It computes the SDK's default resource first, before any test sets
// OTEL_SERVICE_NAME: the SDK caches it for the process, and Setup must
// take the service name from the environment as it is when Setup runs.
func TestMain(m *testing.M) {
	_ = resource.Default()
	goleak.VerifyTestMain(m)
}
