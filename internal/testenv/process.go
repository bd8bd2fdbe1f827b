//go:build linux

package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of every wait on a private server's processes.
const (
	startTimeout = 60 * time.Second // until the server answers
	stopTimeout  = 30 * time.Second // after the polite signal, before SIGKILL
	killTimeout  = 10 * time.Second // after SIGKILL
	sigTimeout   = 5 * time.Second  // for one process to show SIGSTOP took hold
)

// errExited is returned when an operation needs a server process that has
// already exited.
var errExited = errors.New("the server process has exited")

// process is one server process that this package started, as a direct
// child of the test binary. Its PID cannot be recycled under us: the
// process stays unreaped until the goroutine that closes done waits for it,
// and os.Process signals it through a pidfd on Linux. Its descendants are
// signalled through pidfds too (see signalPID).
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // the result of Wait; read only after done is closed
}

// startProcess runs path with args in directory dir and a session of its
// own, with stdin from /dev/null and stdout and stderr appended to logPath,
// as the user of cred (nil: as ourselves).
//
// If the test binary dies without cleaning up (say on a -timeout panic),
// the kernel sends the process SIGKILL (Pdeathsig), so that a forgotten
// server does not outlive the run. (Strictly, Pdeathsig fires when the OS
// thread that started the process ends; the Go runtime ends a thread only
// when a goroutine locked to it exits, which tests do not do.)
func startProcess(path string, args []string, dir, logPath string, cred *syscall.Credential) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	// The child gets its own copy of the descriptor.
	defer logFile.Close()

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and reports whether it has.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// signal sends sig to the process itself.
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return errExited
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return errExited
		}
		return fmt.Errorf("send %v to pid %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// shutdown sends sig to the process and waits up to stopTimeout for it to
// exit; then it kills the process and its descendants with SIGKILL and
// waits up to killTimeout. A stopped (paused) process is continued first,
// so that it can act on sig.
func (p *process) shutdown(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	var errs []error
	if err := p.resume(); err != nil && !errors.Is(err, errExited) {
		errs = append(errs, fmt.Errorf("resume before %v: %w", sig, err))
	}
	if err := p.signal(sig); err != nil && !errors.Is(err, errExited) {
		errs = append(errs, err)
	}
	if p.wait(stopTimeout) {
		return nil
	}
	errs = append(errs, fmt.Errorf("pid %d did not exit within %v of %v; killed it", p.cmd.Process.Pid, stopTimeout, sig))
	if err := p.kill(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pause stops the process and all its descendants with SIGSTOP: the
// process first, then its children once it is stopped, then theirs, so
// that no stopped process can start another one meanwhile. It returns once
// every one of them is stopped.
func (p *process) pause() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	root := p.cmd.Process.Pid
	if err := waitStopped(root); err != nil {
		return err
	}
	stopped := map[int]bool{root: true}
	level := []int{root}
	for len(level) > 0 {
		parents := level
		kids, err := children(parents)
		if err != nil {
			return err
		}
		level = nil
		for _, pid := range kids {
			if stopped[pid] {
				continue
			}
			if err := signalPID(pid, parents, syscall.SIGSTOP); err != nil {
				return err
			}
			if err := waitStopped(pid); err != nil {
				return err
			}
			stopped[pid] = true
			level = append(level, pid)
		}
	}
	return nil
}

// resume sends SIGCONT to the process and all its descendants, the
// deepest first and the process itself last.
func (p *process) resume() error {
	if p.exited() {
		return errExited
	}
	tree, err := descendants(p.cmd.Process.Pid)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(tree) - 1; i >= 0; i-- {
		errs = append(errs, signalPID(tree[i].pid, []int{tree[i].ppid}, syscall.SIGCONT))
	}
	if err := p.signal(syscall.SIGCONT); err != nil && !errors.Is(err, errExited) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// kill stops the process tree (so that no new process appears), sends
// SIGKILL to every descendant and then to the process, and waits up to
// killTimeout for the process to exit.
func (p *process) kill() error {
	var errs []error
	if err := p.pause(); err != nil && !errors.Is(err, errExited) {
		// A process in uninterruptible sleep may not stop in time; kill
		// what we can see anyway.
		errs = append(errs, fmt.Errorf("stop before SIGKILL: %w", err))
	}
	if !p.exited() {
		tree, err := descendants(p.cmd.Process.Pid)
		errs = append(errs, err)
		for i := len(tree) - 1; i >= 0; i-- {
			errs = append(errs, signalPID(tree[i].pid, []int{tree[i].ppid}, syscall.SIGKILL))
		}
		if err := p.signal(syscall.SIGKILL); err != nil && !errors.Is(err, errExited) {
			errs = append(errs, err)
		}
	}
	if !p.wait(killTimeout) {
		errs = append(errs, fmt.Errorf("pid %d still running %v after SIGKILL", p.cmd.Process.Pid, killTimeout))
	}
	return errors.Join(errs...)
}

// signalPID sends sig to pid, a process found in /proc as a child of one of
// parents. It opens a pidfd first and then checks that the process it names
// is still a child of one of parents, so that a PID recycled since /proc was
// read is never signalled. A process that has gone meanwhile is no error.
func signalPID(pid int, parents []int, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	_, ppid, err := procStat(pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ours := false
	for _, p := range parents {
		ours = ours || p == ppid
	}
	if !ours {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("send %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// waitStopped waits up to sigTimeout for pid to be stopped (or gone).
func waitStopped(pid int) error {
	deadline := time.Now().Add(sigTimeout)
	for {
		state, _, err := procStat(pid)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		switch state {
		case 'T', 't', 'Z', 'X':
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d not stopped within %v of SIGSTOP (state %c)", pid, sigTimeout, state)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// procStat returns the state letter and the parent PID of pid from
// /proc/PID/stat; the error wraps os.ErrNotExist when there is no such
// process.
func procStat(pid int) (state byte, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "PID (COMM) STATE PPID ...", where COMM may hold spaces and ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: no \")\"", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %q", pid, b)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return f[0][0], ppid, nil
}

// children lists the processes whose parent is one of parents.
func children(parents []int) ([]int, error) {
	all, err := processes()
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, p := range all {
		for _, parent := range parents {
			if p.ppid == parent {
				kids = append(kids, p.pid)
			}
		}
	}
	return kids, nil
}

type pidPair struct{ pid, ppid int }

// descendants lists the descendants of root, parents before their children.
func descendants(root int) ([]pidPair, error) {
	all, err := processes()
	if err != nil {
		return nil, err
	}
	byParent := make(map[int][]int)
	for _, p := range all {
		byParent[p.ppid] = append(byParent[p.ppid], p.pid)
	}
	var out []pidPair
	level := []int{root}
	seen := map[int]bool{root: true}
	for len(level) > 0 {
		var next []int
		for _, parent := range level {
			for _, pid := range byParent[parent] {
				if !seen[pid] {
					seen[pid] = true
					out = append(out, pidPair{pid, parent})
					next = append(next, pid)
				}
			}
		}
		level = next
	}
	return out, nil
}

// processes reads the PID and parent PID of every process in /proc.
func processes() ([]pidPair, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []pidPair
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		_, ppid, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		out = append(out, pidPair{pid, ppid})
	}
	return out, nil
}

// logTail returns the last n lines of the file at path, for error messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return filepath.Base(path) + ":\n\t" + strings.Join(lines, "\n\t")
}
