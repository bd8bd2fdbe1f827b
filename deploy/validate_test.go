package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	collectorOnce sync.Once
	collectorBin  string
	collectorErr  error
	collectorDir  = filepath.Join(root, "cmd", "otelaudit-collector")
	collectorTmp  string // removed by TestMain
)

// buildCollector builds the distribution once per test binary and returns
// its path. It skips the test when the distribution's source is not in the
// tree.
func buildCollector(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(collectorDir, "main.go")); errors.Is(err, fs.ErrNotExist) {
		t.Skip("the distribution's source (cmd/otelaudit-collector/main.go) is not in this tree")
	}
	collectorOnce.Do(func() {
		collectorTmp, collectorErr = os.MkdirTemp("", "otelaudit-deploy-test-")
		if collectorErr != nil {
			return
		}
		collectorBin = filepath.Join(collectorTmp, "otelaudit-collector")
		build := exec.Command("go", "build", "-o", collectorBin, ".")
		build.Dir = collectorDir
		if out, err := build.CombinedOutput(); err != nil {
			collectorErr = fmt.Errorf("building the distribution: %w\n%s", err, out)
		}
	})
	require.NoError(t, collectorErr)
	return collectorBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if collectorTmp != "" {
		os.RemoveAll(collectorTmp)
	}
	os.Exit(code)
}

// The distribution itself accepts collector.yaml: every component it names
// is in the distribution and every setting validates (otelcol's validate
// subcommand: configuration only, no connection to the stores).
func TestCollectorConfigValidatesWithTheDistribution(t *testing.T) {
	bin := buildCollector(t)
	out, err := exec.Command(bin, "validate", "--config=collector.yaml").CombinedOutput()
	require.NoError(t, err, "otelaudit-collector validate --config=collector.yaml:\n%s", out)
}
