package otelaudit

import "errors"

// ErrRejected matches, with errors.Is, every error that reports an audit
// event or record refused for its content, never to be stored: the
// bridge's *bridge.RejectError (the Auditor refused the event) and the
// exporters' *auditrow.RejectError (a store refused the record). The
// packages that report rejections export this same value as their own
// ErrRejected (bridge.ErrRejected, auditrow.ErrRejected,
// postgreslog.ErrRejected, clickhouselog.ErrRejected), so a check against
// any of them matches the rejections of all.
var ErrRejected = errors.New("otelaudit: audit event rejected")
