//go:build linux

package testenv

// Internals for the package's own tests.

// PostgresServerDir returns the directory holding s's files.
func PostgresServerDir(s *PostgresServer) string { return s.srv.root }

// ClickHouseServerDir returns the directory holding s's files.
func ClickHouseServerDir(s *ClickHouseServer) string { return s.srv.root }

// PostgresBinDir is postgresBinDir.
var PostgresBinDir = postgresBinDir
