package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otelaudit/otelaudit/schema/seal"
	"github.com/otelaudit/otelaudit/trail"
)

// errHelp is returned after -h printed a command's flags.
var errHelp = flag.ErrHelp

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errNotMigrated marks a missing table: exit code 3.
var errNotMigrated = errors.New("the audit tables are missing or not up to date: run otelaudit migrate")

// errVerify marks a verification that found problems: exit code 4.
var errVerify = errors.New("verification failed")

func notMigrated(err error) bool {
	if errors.Is(err, errNotMigrated) || errors.Is(err, trail.ErrNotMigrated) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703" || pe.Code == "3F000" || pe.Code == "42883") {
		return true
	}
	var ex *proto.Exception
	return errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81)
}

func exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errVerify), errors.Is(err, seal.ErrVerifyFailed):
		return exitVerify
	case ctx.Err() != nil:
		return exitInterrupted
	case notMigrated(err):
		return exitNotMigrated
	}
	return exitError
}

// describe adds what to do next to errors whose cause is known.
func describe(err error) string {
	if notMigrated(err) && !errors.Is(err, errNotMigrated) && !errors.Is(err, trail.ErrNotMigrated) {
		return err.Error() + " (a table is missing: run otelaudit migrate)"
	}
	return err.Error()
}

// connectionLost reports whether err is a lost or refused connection,
// after which a follower may reconnect and go on from its cursor.
func connectionLost(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pe):
		// admin_shutdown, crash_shutdown, cannot_connect_now
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
