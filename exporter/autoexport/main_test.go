package autoexport_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines behind: the
// exporters autoexport makes must close their connections at Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
