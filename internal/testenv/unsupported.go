//go:build !linux

package testenv

import "testing"

// Private servers need Linux (/proc, pidfds, Pdeathsig). Elsewhere
// StartPostgres and StartClickHouse skip the test, or fail it when
// [Required] is true; the methods below are never reached.

// PostgresServer is a private PostgreSQL server; Linux only.
type PostgresServer struct{}

// StartPostgres skips tb, or fails it if [Required] is true: private
// servers need Linux.
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	unavailable(tb, "private Postgres server: private servers need Linux")
	return nil
}

// DSN returns "".
func (s *PostgresServer) DSN() string { return "" }

// Stop does nothing.
func (s *PostgresServer) Stop(testing.TB) {}

// Start does nothing.
func (s *PostgresServer) Start(testing.TB) {}

// Pause does nothing.
func (s *PostgresServer) Pause(testing.TB) {}

// Resume does nothing.
func (s *PostgresServer) Resume(testing.TB) {}

// ClickHouseServer is a private ClickHouse server; Linux only.
type ClickHouseServer struct{}

// ClickHouseOption configures a private ClickHouse server; Linux only.
type ClickHouseOption interface{ linuxOnly() }

// WithUsersFile returns nil: private servers need Linux.
func WithUsersFile(string, []byte) ClickHouseOption { return nil }

// WithConfigFile returns nil: private servers need Linux.
func WithConfigFile(string, func(int) []byte) ClickHouseOption { return nil }

// WithListenHost returns nil: private servers need Linux.
func WithListenHost(string) ClickHouseOption { return nil }

// StartClickHouse skips tb, or fails it if [Required] is true: private
// servers need Linux.
func StartClickHouse(tb testing.TB, _ ...ClickHouseOption) *ClickHouseServer {
	tb.Helper()
	unavailable(tb, "private ClickHouse server: private servers need Linux")
	return nil
}

// DSN returns "".
func (s *ClickHouseServer) DSN() string { return "" }

// DSNAs returns "".
func (s *ClickHouseServer) DSNAs(string, string) string { return "" }

// Stop does nothing.
func (s *ClickHouseServer) Stop(testing.TB) {}

// Start does nothing.
func (s *ClickHouseServer) Start(testing.TB) {}

// Pause does nothing.
func (s *ClickHouseServer) Pause(testing.TB) {}

// Resume does nothing.
func (s *ClickHouseServer) Resume(testing.TB) {}
