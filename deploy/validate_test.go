package deploy

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The distribution itself accepts collector.yaml: every component it names
// is in the distribution and every setting validates (otelcol's validate
// subcommand: configuration only, no connection to the stores).
func TestCollectorConfigValidatesWithTheDistribution(t *testing.T) {
	dir := filepath.Join(root, "cmd", "otelaudit-collector")
	if _, err := os.Stat(filepath.Join(dir, "main.go")); errors.Is(err, fs.ErrNotExist) {
		t.Skip("the distribution's source (cmd/otelaudit-collector/main.go) is not in this tree")
	}
	bin := filepath.Join(t.TempDir(), "otelaudit-collector")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the distribution:\n%s", out)

	out, err = exec.Command(bin, "validate", "--config=collector.yaml").CombinedOutput()
	require.NoError(t, err, "otelaudit-collector validate --config=collector.yaml:\n%s", out)
}
