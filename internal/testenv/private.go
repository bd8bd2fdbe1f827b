//go:build linux

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// server is what [PostgresServer] and [ClickHouseServer] share: one server
// process at a time on a fixed port, with its files in root.
type server struct {
	kind       string         // "Postgres" or "ClickHouse", for messages
	root       string         // the server's private directory, removed at cleanup
	stopSignal syscall.Signal // asks the server to shut down
	logs       []string       // log files worth quoting when something fails
	// launch starts the server process on port; it does not wait.
	launch func(port int) (*process, error)
	// probe returns nil once the server on port answers and is ours.
	probe func(ctx context.Context, port int) error

	port atomic.Int32 // set by firstStart, cleared by cleanup
	// fixedPort, when set, is the port firstStart uses (reserved by the
	// caller with freePort), with no second attempt on another port.
	fixedPort int

	mu     sync.Mutex
	proc   *process // nil while stopped
	paused bool
}

// attempts is how often the first start tries a fresh port, in case
// another process took the one picked before the server could bind it.
const attempts = 3

// cleanup is registered on tb as soon as root exists: it resumes and stops
// the server (whatever state the test left it in) and removes its files.
func (s *server) cleanup(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Errorf("testenv: private %s server: %v", s.kind, err)
	}
	if err := os.RemoveAll(s.root); err != nil {
		tb.Errorf("testenv: private %s server: remove its files: %v", s.kind, err)
	}
	if port := s.port.Swap(0); port != 0 {
		releasePort(int(port))
	}
}

// firstStart starts the server on a free port, and on another one when the
// process exits during startup (the port may have been taken meanwhile).
func (s *server) firstStart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fixedPort != 0 {
		s.port.Store(int32(s.fixedPort))
		return s.startLocked()
	}
	var errs []error
	for range attempts {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.port.Store(int32(port))
		err = s.startLocked()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errExited) {
			break
		}
		releasePort(port)
		s.port.Store(0)
	}
	return errors.Join(errs...)
}

// start starts a stopped server again on its port; a running server is
// left alone.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return nil
	}
	s.proc, s.paused = nil, false
	return s.startLocked()
}

func (s *server) startLocked() error {
	p, err := s.launch(s.currentPort())
	if err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		if kerr := p.kill(); kerr != nil {
			err = errors.Join(err, kerr)
		}
		return err
	}
	s.proc = p
	return nil
}

// waitReady waits until the server answers on its port, its process exits
// (an error wrapping errExited), or startTimeout passes.
func (s *server) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.probe(ctx, s.currentPort())
		cancel()
		if err == nil && !p.exited() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w during startup on 127.0.0.1:%d (%v)\n%s", errExited, s.currentPort(), p.err, s.logTails())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering on 127.0.0.1:%d within %v: %w\n%s", s.currentPort(), startTimeout, err, s.logTails())
		}
	}
}

// stop shuts a running or paused server down (see process.shutdown); a
// stopped server is left alone.
func (s *server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc, s.paused = nil, false
	if p == nil {
		return nil
	}
	if err := p.shutdown(s.stopSignal); err != nil {
		return fmt.Errorf("stop on 127.0.0.1:%d: %w\n%s", s.currentPort(), err, s.logTails())
	}
	return nil
}

// pause stops the server's processes with SIGSTOP; pausing a paused server
// does nothing.
func (s *server) pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return fmt.Errorf("pause on 127.0.0.1:%d: the server is not running", s.currentPort())
	}
	if s.paused {
		return nil
	}
	// Even a pause that fails half way leaves processes to continue.
	s.paused = true
	if err := s.proc.pause(); err != nil {
		return fmt.Errorf("pause on 127.0.0.1:%d: %w", s.currentPort(), err)
	}
	return nil
}

// resume continues a paused server's processes; resuming a running server
// does nothing.
func (s *server) resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return fmt.Errorf("resume on 127.0.0.1:%d: the server is not running", s.currentPort())
	}
	if !s.paused {
		return nil
	}
	s.paused = false
	if err := s.proc.resume(); err != nil {
		return fmt.Errorf("resume on 127.0.0.1:%d: %w", s.currentPort(), err)
	}
	return nil
}

// currentPort returns the server's port.
func (s *server) currentPort() int {
	return int(s.port.Load())
}

func (s *server) logTails() string {
	var out string
	for _, l := range s.logs {
		out += logTail(l, 20) + "\n"
	}
	return out
}
