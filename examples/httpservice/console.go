package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// lineExporter prints one line per audit event: time, action, outcome,
// user, client IP and resource, and the error type of a failure. It reads
// the records through auditrow, the mapping the stores use, so a line says
// what a row holds. Records that are not audit records are skipped.
type lineExporter struct {
	mu     sync.Mutex
	w      io.Writer
	mapper *auditrow.Mapper
}

var _ sdklog.Exporter = (*lineExporter)(nil)

func newLineExporter(w io.Writer) *lineExporter {
	return &lineExporter{w: w, mapper: auditrow.NewMapper(auditrow.Options{})}
}

func (e *lineExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range records {
		row, err := e.mapper.Map(&records[i], "")
		if err != nil {
			continue
		}
		if _, err := io.WriteString(e.w, line(&row)); err != nil {
			return err
		}
	}
	return nil
}

func (*lineExporter) Shutdown(context.Context) error   { return nil }
func (*lineExporter) ForceFlush(context.Context) error { return nil }

// line formats one event:
//
//	2026-11-25T09:30:00.000Z  login             failure  user=ada  ip=203.0.113.7  resource=-  error=invalid_password
func line(r *auditrow.Row) string {
	ip := "-"
	if r.ClientIP.IsValid() {
		ip = r.ClientIP.String()
	}
	resource := r.ResourceType
	if r.ResourceID != "" {
		resource += "/" + r.ResourceID
	}
	s := fmt.Sprintf("%s  %-16s  %-7s  user=%s  ip=%s  resource=%s",
		r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Action, r.Outcome, orDash(r.UserID), ip, orDash(resource))
	if r.ErrorType != "" {
		s += "  error=" + r.ErrorType
	}
	return s + "\n"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
