package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// goCommand is the go command: $GO, else go on the PATH.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// build is one build of the demo, running.
type build struct {
	began time.Time
	done  chan struct{}
	err   error // once done is closed
	took  time.Duration
}

// startBuild runs cmd (a build) in the background.
func startBuild(name string, cmd *exec.Cmd) *build {
	b := &build{began: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %s: %w\n%s", name, strings.Join(cmd.Args, " "), err, out)
		}
		b.took = time.Since(b.began)
	}()
	return b
}

// wait waits for the build.
func (b *build) wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startBuilds starts the builds of the collector distribution and the Go
// services (into bin) and of the node-service (in its directory), at once;
// the map's keys are collector and the services' names.
func startBuilds(ctx context.Context, root, bin string) map[string]*build {
	// Without the symbol table and debug information (-s -w): the link,
	// the longest part of a build from a warm cache, takes about half as
	// long, and the demo does not debug them.
	goBuild := func(dir, out string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, goCommand(), "build", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = filepath.Join(root, dir)
		return cmd
	}
	return map[string]*build{
		"collector": startBuild("the collector", goBuild(filepath.Join("cmd", "otelaudit-collector"), filepath.Join(bin, "otelaudit-collector"))),
		"webportal": startBuild("webportal", goBuild(filepath.Join("examples", "webportal"), filepath.Join(bin, "webportal"))),
		"backend":   startBuild("backend", goBuild(filepath.Join("examples", "backend"), filepath.Join(bin, "backend"))),
		"node-service": startBuild("node-service",
			exec.CommandContext(ctx, filepath.Join(root, "scripts", "node-service.sh"), "build")),
	}
}

// findRoot returns the repository's root: dir when given, else the first
// directory from the working directory upwards that holds
// cmd/otelaudit-collector and examples/webportal.
func findRoot(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isDir(filepath.Join(d, "cmd", "otelaudit-collector")) && isDir(filepath.Join(d, "examples", "webportal")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no repository root (with cmd/otelaudit-collector) above %s; pass -root", wd)
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// proc is a process the demo started: it is stopped by its PID, and only
// it.
type proc struct {
	name   string
	cmd    *exec.Cmd
	output *lineWriter
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// stopGrace is how long a process has to exit after SIGTERM before it is
// killed.
const stopGrace = 20 * time.Second

// start starts cmd; each line of its output goes to onLine (which may be
// nil) and the last ones are kept for error messages.
func start(name string, cmd *exec.Cmd, onLine func(string)) (*proc, error) {
	p := &proc{name: name, cmd: cmd, output: &lineWriter{onLine: onLine}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop ends the process if it still runs: SIGTERM, then SIGKILL after
// stopGrace. It returns the exit status, nil when it exited cleanly.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, stopGrace)
	}
	return p.err
}

// failure describes how the process ended, with its last output lines.
func (p *proc) failure(err error) error {
	return fmt.Errorf("%s (pid %d): %w; its last output:\n%s", p.name, p.cmd.Process.Pid, err, p.output.tail())
}

// lineWriter splits a process's output into lines, passes each to onLine
// and keeps the last tailLines.
type lineWriter struct {
	onLine  func(string)
	mu      sync.Mutex
	partial bytes.Buffer
	last    []string
}

const tailLines = 30

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial.Write(b)
	for {
		line, err := w.partial.ReadString('\n')
		if err != nil { // no newline yet: keep the start of the line
			rest := line
			w.partial.Reset()
			w.partial.WriteString(rest)
			return len(b), nil
		}
		line = strings.TrimRight(line, "\r\n")
		w.last = append(w.last, line)
		if len(w.last) > tailLines {
			w.last = w.last[len(w.last)-tailLines:]
		}
		if w.onLine != nil {
			w.onLine(line)
		}
	}
}

func (w *lineWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "  " + strings.Join(w.last, "\n  ")
}
