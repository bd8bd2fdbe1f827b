package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary run the distribution's main instead of
// the tests: the crash tests start the collector as a process of its own,
// which they can SIGKILL, without building another binary.
const childEnv = "OTELAUDIT_COLLECTOR_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is the distribution running as a child process.
type process struct {
	cmd *exec.Cmd
	log string
}

// startProcess runs the distribution (this test binary as main) with the
// config at path, its output in a file of the test's temporary directory
// (printed if the test fails).
func startProcess(t testing.TB, c collector, path string) *process {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	logPath := filepath.Join(t.TempDir(), "collector.log")
	out, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(exe, "--config", "file:"+path)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	out.Close()
	p := &process{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("collector output:\n%s", b)
		}
	})
	waitListening(t, c)
	return p
}

// kill ends the process with SIGKILL, as a crash does, and reaps it.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// stop ends the process with SIGTERM (a graceful shutdown) and waits.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		p.kill(t)
		t.Fatal("collector did not stop within a minute of SIGTERM")
	}
}

// peakRSS returns the process's peak resident set size (VmHWM), in bytes.
func (p *process) peakRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
