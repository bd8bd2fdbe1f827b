package auditrow_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/journal"
)

func TestReasons(t *testing.T) {
	require.Equal(t, []string{"non_audit", "invalid_action", "time_out_of_range", "refused_by_server", "other"}, auditrow.Reasons())
	r := auditrow.Reasons()
	r[0] = "changed"
	require.Equal(t, auditrow.ReasonNonAudit, auditrow.Reasons()[0], "a fresh slice on every call")

	require.Equal(t, auditrow.ReasonNonAudit, auditrow.ReasonOf(fmt.Errorf("map: %w", auditrow.ErrNotAudit)))
	require.Equal(t, auditrow.ReasonInvalidAction, auditrow.ReasonOf(auditrow.ErrInvalidAction))
	require.Equal(t, auditrow.ReasonOther, auditrow.ReasonOf(errors.New("something else")))
}

func TestRejectError(t *testing.T) {
	err := error(&auditrow.RejectError{
		Exporter: "postgreslog",
		Reason:   auditrow.ReasonRefusedByServer,
		EventID:  uuid.MustParse("01900000-0000-7000-8000-000000000001"),
		Err:      errors.New("index row too large"),
	})
	require.EqualError(t, err, "postgreslog: record rejected (refused_by_server), event id 01900000-0000-7000-8000-000000000001: index row too large")
	require.ErrorIs(t, err, auditrow.ErrRejected)
	require.EqualError(t, &auditrow.RejectError{Exporter: "clickhouselog", Reason: auditrow.ReasonNonAudit},
		"clickhouselog: record rejected (non_audit)")
}

func TestContextWithRejectHook(t *testing.T) {
	require.Nil(t, auditrow.RejectHookFromContext(context.Background()))

	var got []*auditrow.RejectError
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(re *auditrow.RejectError) { got = append(got, re) })
	f := auditrow.RejectHookFromContext(ctx)
	require.NotNil(t, f)
	re := &auditrow.RejectError{Reason: auditrow.ReasonOther}
	f(re)
	require.Equal(t, []*auditrow.RejectError{re}, got)

	type key struct{}
	child := context.WithValue(ctx, key{}, 1)
	require.NotNil(t, auditrow.RejectHookFromContext(child), "inherited")
	require.Nil(t, auditrow.RejectHookFromContext(auditrow.ContextWithRejectHook(child, nil)), "a nil hook hides the parent's")
}

func TestExportStatsSettled(t *testing.T) {
	s := auditrow.ExportStats{
		Received: 20, Written: 5, AlreadyStored: 4, Failed: 3, Retried: 9, Sanitized: 7,
		Rejected: map[string]uint64{auditrow.ReasonNonAudit: 2, auditrow.ReasonRefusedByServer: 1},
	}
	require.Equal(t, uint64(15), s.Settled(), "Retried and Sanitized are not outcomes")
	require.Zero(t, auditrow.ExportStats{}.Settled())
}

// TestRejectionsMatchAcrossPackages checks that an event the Auditor
// refuses and a record the mapping refuses, both for an invalid action,
// match the same sentinels with errors.Is, whichever package's name the
// caller uses, and are counted under the same reason.
func TestRejectionsMatchAcrossPackages(t *testing.T) {
	var bridgeErr error
	emit(t, func(a *bridge.Auditor) {
		a.Record(context.Background(), otelaudit.Event{Action: "Not Valid"})
	}, bridge.WithErrorHandler(func(err error) { bridgeErr = err }))
	var be *bridge.RejectError
	require.ErrorAs(t, bridgeErr, &be)

	var r sdklog.Record
	r.SetEventName("audit.Not Valid")
	_, mapErr := auditrow.NewMapper(auditrow.Options{}).MapRecord(&r)
	require.Error(t, mapErr)
	exporterErr := error(&auditrow.RejectError{Exporter: "postgreslog", Reason: auditrow.ReasonOf(mapErr), Err: mapErr})

	for name, err := range map[string]error{"bridge": bridgeErr, "exporter": exporterErr} {
		for _, target := range []error{otelaudit.ErrRejected, bridge.ErrRejected, auditrow.ErrRejected} {
			require.ErrorIs(t, err, target, "%s rejection vs %v", name, target)
		}
		for _, target := range []error{otelaudit.ErrInvalidAction, auditrow.ErrInvalidAction} {
			require.ErrorIs(t, err, target, "%s rejection vs %v", name, target)
		}
		require.NotErrorIs(t, err, auditrow.ErrNotAudit, name)
	}
	require.NotErrorIs(t, mapErr, otelaudit.ErrRejected, "a mapping error is not a rejection until an exporter reports it")

	// One reason name for one cause, in the bridge, the exporters and the journal.
	require.Equal(t, auditrow.ReasonInvalidAction, be.Reason)
	require.Equal(t, auditrow.ReasonInvalidAction, auditrow.ReasonOf(mapErr))
	require.Equal(t, auditrow.ReasonInvalidAction, journal.ReasonInvalidAction)
}
