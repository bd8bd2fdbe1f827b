package bench

import (
	"os"
	"testing"
)

// TestMain runs the tests and benchmarks, or, when the environment holds
// childEnv, the child process of the full-speed Delivery scenario.
func TestMain(m *testing.M) {
	if js, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(js))
	}
	os.Exit(m.Run())
}
