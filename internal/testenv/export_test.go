//go:build linux

package testenv

import "context"

// Internals for the package's own tests.

// PostgresServerDir returns the directory holding s's files.
func PostgresServerDir(s *PostgresServer) string { return s.srv.root }

// ClickHouseServerDir returns the directory holding s's files.
func ClickHouseServerDir(s *ClickHouseServer) string { return s.srv.root }

// PostgresBinDir is postgresBinDir.
var PostgresBinDir = postgresBinDir

// PostgresProbe runs the readiness check of s against the server on port.
func PostgresProbe(ctx context.Context, s *PostgresServer, port int) error { return s.probe(ctx, port) }

// ClickHouseProbe runs the readiness check of s against the server on port.
func ClickHouseProbe(ctx context.Context, s *ClickHouseServer, port int) error {
	return s.probe(ctx, port)
}

// PostgresPort returns the port of a private server.
func PostgresPort(s *PostgresServer) int { return s.srv.currentPort() }

// ClickHousePort returns the port of a private server.
func ClickHousePort(s *ClickHouseServer) int { return s.srv.currentPort() }

// PostgresProcesses returns the PIDs of the postmaster of s and of every
// process below it.
func PostgresProcesses(s *PostgresServer) ([]int, error) {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	root := s.srv.proc.cmd.Process.Pid
	tree, err := descendants(root)
	pids := []int{root}
	for _, p := range tree {
		pids = append(pids, p.pid)
	}
	return pids, err
}

// KillPostgres kills s the way Stop does when a server does not exit in
// time.
func KillPostgres(s *PostgresServer) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.srv.proc.kill()
}

// ProcessState returns the state letter of pid, or 0 when it is gone.
func ProcessState(pid int) byte {
	state, _, err := procStat(pid)
	if err != nil {
		return 0
	}
	return state
}
