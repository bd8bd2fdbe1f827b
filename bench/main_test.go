package bench

import (
	"os"
	"testing"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// TestMain runs the tests and benchmarks, or, when the environment holds
// childEnv, the child process of the full-speed Delivery scenario, and
// closes the chDB engine if one was opened.
func TestMain(m *testing.M) {
	if js, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(js))
	}
	// testenv.Exit closes the chDB engine when the benchmarks ran on it.
	testenv.Exit(m.Run())
}
