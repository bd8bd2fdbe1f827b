package clickhouselog

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// RejectError reports one record the Exporter did not write although the
// rest of its batch went on: refused by the mapping (Reason is
// auditrow.ReasonOf of Err) or by the server on its own (Reason
// auditrow.ReasonRefusedByServer). It is handed to the error handler and
// to the context's reject hook, not returned. It is the type every
// exporter of this module reports.
type RejectError = auditrow.RejectError

// ErrRejected matches every [*RejectError] with errors.Is.
var ErrRejected = auditrow.ErrRejected

// Server error codes (ClickHouse's ErrorCodes.cpp) the Exporter branches on.
const (
	codeUnexpectedEOF         = 3
	codeCannotParseText       = 6
	codeCannotParseInput      = 27
	codeCannotReadAllData     = 33
	codeBadArguments          = 36
	codeIllegalType           = 43
	codeTypeMismatch          = 53
	codeArgumentOutOfBound    = 69
	codeCannotConvertType     = 70
	codeIncorrectData         = 117
	codeTooLargeStringSize    = 131
	codeCannotAllocateMemory  = 173
	codeTimeoutExceeded       = 159
	codeTooManySimultaneous   = 202
	codeNoFreeConnection      = 203
	codeSocketTimeout         = 209
	codeNetworkError          = 210
	codeAborted               = 236
	codeMemoryLimitExceeded   = 241
	codeTableIsReadOnly       = 242
	codeTooManyParts          = 252
	codeAllConnectionTries    = 279 // a Distributed table reached no replica of a shard
	codeTooFewLiveReplicas    = 285
	codeUnknownStatusOfInsert = 319
	codeQueryWasCancelled     = 394
	codeThrowIf               = 395
	codeSystemError           = 425
	codeCannotScheduleTask    = 439
	codeViolatedConstraint    = 469
	codeKeeperException       = 999
	codePocoException         = 1000
)

// errorClass says what to do after a failed send.
type errorClass int

const (
	// classPermanent: not worth retrying (missing table, bad credentials).
	classPermanent errorClass = iota
	// classTransient: retry the same rows after a backoff.
	classTransient
	// classData: the server refused the rows for their values; bisect to
	// find the rows it refuses on their own.
	classData
	// classMemory: the server would not take a block this large: it ran
	// out of memory for the insert, or closed the connection while the
	// block was being written (what 18.16 does when a block exceeds
	// max_memory_usage). Bisect; a single row is retried as transient.
	classMemory
)

func classify(err error) errorClass {
	if err == nil {
		return classPermanent
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case codeTooManyParts:
			// Also "Too many partitions for single INSERT block": a batch
			// spanning too many months, which smaller batches fix.
			if strings.Contains(ex.Message, "partitions") {
				return classData
			}
			return classTransient
		case codeCannotParseText, codeCannotParseInput, codeCannotReadAllData, codeBadArguments,
			codeIllegalType, codeTypeMismatch, codeArgumentOutOfBound, codeCannotConvertType,
			codeIncorrectData, codeTooLargeStringSize, codeThrowIf, codeViolatedConstraint:
			return classData
		case codeMemoryLimitExceeded, codeCannotAllocateMemory:
			return classMemory
		case codeUnexpectedEOF, codeTimeoutExceeded, codeTooManySimultaneous, codeNoFreeConnection,
			codeSocketTimeout, codeNetworkError, codeAborted, codeTableIsReadOnly,
			codeAllConnectionTries, codeTooFewLiveReplicas, codeUnknownStatusOfInsert, codeQueryWasCancelled, codeSystemError,
			codeCannotScheduleTask, codeKeeperException, codePocoException:
			return classTransient
		}
		return classPermanent
	}
	var colErr *column.Error
	var convErr *column.ColumnConverterError
	if errors.As(err, &colErr) || errors.As(err, &convErr) {
		return classData
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's deadline: retry.Do stops on the context itself; a
		// per-attempt timeout inside the driver is worth another try.
		return classTransient
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "write" {
		return classMemory
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, clickhouse.ErrAcquireConnTimeout), errors.Is(err, clickhouse.ErrConnectionClosed):
		return classTransient
	}
	return classPermanent
}
