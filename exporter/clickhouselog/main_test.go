package clickhouselog_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// TestMain fails the package's tests if they leave goroutines behind
// (connections are closed by testenv's cleanups before this runs), and
// closes the chDB engine, if the tests ran on it, before the process exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit))
}
