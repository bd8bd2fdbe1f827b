package chschema_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if they leave goroutines behind
// (connections are closed by testenv's cleanups before this runs).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
