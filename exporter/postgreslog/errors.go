package postgreslog

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// ErrTimeOutOfRange matches, with errors.Is, the error of a record or event
// refused for its time (reason auditrow.ReasonTimeOutOfRange): before year
// 1 or after year 9999, or a time whose partition does not exist and that
// the table's partition function does not create, being outside its window
// (pgschema.Options.Back and Ahead).
var ErrTimeOutOfRange = errors.New("postgreslog: time outside years 1 to 9999")

// timeRangeError is the error of a time out of range.
type timeRangeError struct{ t time.Time }

func (e timeRangeError) Error() string {
	return "time " + e.t.UTC().String() + " outside years 1 to 9999"
}

// Is makes errors.Is(err, ErrTimeOutOfRange) true.
func (e timeRangeError) Is(target error) bool { return target == ErrTimeOutOfRange }

// windowError is the error of a time whose partition does not exist and
// that the partition function refuses to create (SQLSTATE 22008): outside
// the window of partitions it creates (pgschema.Options.Back and Ahead).
// It matches [ErrTimeOutOfRange] and wraps the server's error.
type windowError struct {
	t   time.Time
	err error
}

func (e *windowError) Error() string {
	return "time " + e.t.UTC().Format(time.RFC3339Nano) + " has no partition, and the partition function does not create it: " + e.err.Error()
}

func (e *windowError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrTimeOutOfRange) true.
func (e *windowError) Is(target error) bool { return target == ErrTimeOutOfRange }

// isWindowRefusal reports whether err is the partition function's refusal
// to create a partition for a time (SQLSTATE 22008,
// datetime_field_overflow: outside its window, or outside years 1 to
// 9999).
func isWindowRefusal(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22008"
}

// ErrRejected matches every [*RejectError] with errors.Is.
var ErrRejected = auditrow.ErrRejected

// RejectError is what the error handler and the reject hook receive for a
// record that was not stored and will never be: it is counted under Reason
// (one of auditrow's Reason constants) in Stats().Rejected, and the other
// records of its batch are unaffected. It is the type every exporter of
// this module reports.
type RejectError = auditrow.RejectError

// errorClass says what to do about an error of a COPY.
type errorClass int

const (
	// classPermanent: the statement cannot succeed (a missing table, a
	// missing privilege, a closed pool); the chunk fails.
	classPermanent errorClass = iota
	// classTransient: the connection or the server had a problem; retry
	// with backoff.
	classTransient
	// classRecord: a row's value was refused; bisect to find it.
	classRecord
	// classDuplicate: a row is already stored; write through the staging
	// table.
	classDuplicate
	// classNoPartition: no partition for some row (retention dropped one
	// that was cached); ensure partitions and retry.
	classNoPartition
)

// classify sorts an error of a write by SQLSTATE for server errors; every
// other error that is not the caller's context ending is the connection's
// (reset, EOF, timeout) and transient.
func classify(ctx context.Context, err error) errorClass {
	var re *rowError
	if errors.As(err, &re) {
		return classRecord
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case code == "23505": // unique_violation
			return classDuplicate
		case code == "23514" && pgErr.ConstraintName == "":
			// check_violation without a constraint: "no partition of
			// relation found for row".
			return classNoPartition
		case code == "40001", code == "40P01", // serialization failure, deadlock
			code == "55P03",                                   // lock_not_available
			code == "57014",                                   // query_canceled (statement_timeout)
			code == "57P01", code == "57P02", code == "57P03", // admin/crash shutdown, cannot connect now
			code == "58030",               // io_error
			strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"): // insufficient resources
			return classTransient
		case strings.HasPrefix(code, "22"), // data exception
			strings.HasPrefix(code, "23"), // integrity constraint violation
			strings.HasPrefix(code, "54"): // program limit exceeded (index row size)
			return classRecord
		}
		return classPermanent
	}
	switch {
	case ctx.Err() != nil, errors.Is(err, puddle.ErrClosedPool):
		return classPermanent
	}
	return classTransient
}

// rowError marks an error that some row of a chunk causes: bisect.
type rowError struct{ err error }

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

// acquireError is a failure to get a connection: nothing was sent.
type acquireError struct{ err error }

func (e *acquireError) Error() string     { return "acquire a connection: " + e.err.Error() }
func (e *acquireError) Unwrap() error     { return e.err }
func (e *acquireError) SafeToRetry() bool { return true }
