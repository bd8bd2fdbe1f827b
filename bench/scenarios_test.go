package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

// ceiling names the scenario the others are compared with; benchfmt's
// ratio_to_ceiling divides by it.
const ceiling = "direct"

// emitter emits the fixture event once.
type emitter struct {
	emit func(ctx context.Context)
	// check reports anything the scenario noticed going wrong (a rejected
	// event, an id that could not be generated).
	check func() error
}

// scenarios are the ways of emitting the fixture event, in the order they
// run. The ones that convert Go values run last, so that their garbage is
// not collected during the others.
var scenarios = []struct {
	name string
	new  func(lp log.LoggerProvider) emitter
}{
	{"bridge", newBridge},
	{ceiling, newDirect},
	{"otelslog", newOtelslog},
	{"bridge_any", newBridgeAny},
	{"bridge_struct", newBridgeStruct},
}

// newBridge emits through the Auditor, the structured values given as
// attribute values.
func newBridge(lp log.LoggerProvider) emitter {
	var errs atomic.Int64
	a := bridge.New(
		bridge.WithLoggerProvider(lp),
		bridge.WithErrorHandler(func(error) { errs.Add(1) }),
	)
	return emitter{
		emit: func(ctx context.Context) {
			a.Record(ctx, otelaudit.Event{
				Action: fixture.action,
				Actor:  otelaudit.Actor{UserID: fixture.userID, WorkspaceID: fixture.workspaceID},
				Client: otelaudit.Client{IP: fixture.clientIP, UserAgent: fixture.userAgent},
				Resource: otelaudit.Resource{
					Type: fixture.resType,
					ID:   fixture.resID,
				},
				Details:  fixture.details,
				Previous: fixture.previous,
				New:      fixture.next,
			})
		},
		check: rejections(a, &errs),
	}
}

// newBridgeAny emits through the Auditor, the structured values given as
// Go maps and converted per event with otelaudit.Value, as the typed calls
// do with their any arguments.
func newBridgeAny(lp log.LoggerProvider) emitter {
	return bridgeEmitter(lp, func() (details, previous, next attribute.Value) {
		return otelaudit.Value(fixtureGo.details), otelaudit.Value(fixtureGo.previous), otelaudit.Value(fixtureGo.next)
	})
}

// newBridgeStruct is newBridgeAny with the previous and new values given as
// a struct with json tags, which otelaudit.Value converts through
// encoding/json.
func newBridgeStruct(lp log.LoggerProvider) emitter {
	return bridgeEmitter(lp, func() (details, previous, next attribute.Value) {
		return otelaudit.Value(fixtureGo.details), otelaudit.Value(fixtureGo.prevStruct), otelaudit.Value(fixtureGo.nextStruct)
	})
}

// bridgeEmitter emits the fixture through the Auditor's Record, with the
// structured values values returns, called once per event (newBridge does
// without the call, which it does not need).
func bridgeEmitter(lp log.LoggerProvider, values func() (details, previous, next attribute.Value)) emitter {
	var errs atomic.Int64
	a := bridge.New(
		bridge.WithLoggerProvider(lp),
		bridge.WithErrorHandler(func(error) { errs.Add(1) }),
	)
	return emitter{
		emit: func(ctx context.Context) {
			details, previous, next := values()
			a.Record(ctx, otelaudit.Event{
				Action: fixture.action,
				Actor:  otelaudit.Actor{UserID: fixture.userID, WorkspaceID: fixture.workspaceID},
				Client: otelaudit.Client{IP: fixture.clientIP, UserAgent: fixture.userAgent},
				Resource: otelaudit.Resource{
					Type: fixture.resType,
					ID:   fixture.resID,
				},
				Details:  details,
				Previous: previous,
				New:      next,
			})
		},
		check: rejections(a, &errs),
	}
}

// rejections returns the check of an Auditor's scenario: errs counts what
// its error handler received.
func rejections(a *bridge.Auditor, errs *atomic.Int64) func() error {
	return func() error {
		if n := errs.Load(); n > 0 {
			return fmt.Errorf("the Auditor rejected %d events (stats %+v)", n, a.Stats())
		}
		return nil
	}
}

// newDirect is the ceiling: the record a hand-written emitter would build,
// with nothing but what the record contract asks for.
func newDirect(lp log.LoggerProvider) emitter {
	logger := lp.Logger(bridge.ScopeName, log.WithInstrumentationVersion(otelaudit.Version))
	var errs atomic.Int64
	return emitter{
		emit: func(ctx context.Context) {
			id, err := uuid.NewV7()
			if err != nil {
				errs.Add(1)
				return
			}
			var r log.Record
			r.SetEventName(fixture.eventName)
			r.SetTimestamp(time.Now())
			r.SetSeverity(log.SeverityInfo)
			r.AddAttributes(
				attribute.String(otelaudit.KeyEventID, id.String()),
				attribute.String(otelaudit.KeyUserID, fixture.userID),
				attribute.String(otelaudit.KeyWorkspaceID, fixture.workspaceID),
				attribute.String(otelaudit.KeyClientAddress, fixture.clientIP),
				attribute.String(otelaudit.KeyUserAgent, fixture.userAgent),
				attribute.String(otelaudit.KeyResourceType, fixture.resType),
				attribute.String(otelaudit.KeyResourceID, fixture.resID),
				attribute.String(otelaudit.KeyOutcome, otelaudit.OutcomeSuccess),
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: fixture.details},
				attribute.KeyValue{Key: otelaudit.KeyPrevious, Value: fixture.previous},
				attribute.KeyValue{Key: otelaudit.KeyNew, Value: fixture.next},
			)
			logger.Emit(ctx, r)
		},
		check: func() error { return errorsIf(errs.Load(), "id generation failed") },
	}
}

// newOtelslog is the peer: the same attributes as an slog call through the
// contrib otelslog handler, with the action as the message.
func newOtelslog(lp log.LoggerProvider) emitter {
	logger := slog.New(otelslog.NewHandler(bridge.ScopeName,
		otelslog.WithLoggerProvider(lp),
		otelslog.WithVersion(otelaudit.Version),
	))
	msg := string(fixture.action)
	details := slog.AnyValue(fixture.details)
	previous := slog.AnyValue(fixture.previous)
	next := slog.AnyValue(fixture.next)
	var errs atomic.Int64
	return emitter{
		emit: func(ctx context.Context) {
			id, err := uuid.NewV7()
			if err != nil {
				errs.Add(1)
				return
			}
			logger.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.String(otelaudit.KeyEventID, id.String()),
				slog.String(otelaudit.KeyUserID, fixture.userID),
				slog.String(otelaudit.KeyWorkspaceID, fixture.workspaceID),
				slog.String(otelaudit.KeyClientAddress, fixture.clientIP),
				slog.String(otelaudit.KeyUserAgent, fixture.userAgent),
				slog.String(otelaudit.KeyResourceType, fixture.resType),
				slog.String(otelaudit.KeyResourceID, fixture.resID),
				slog.String(otelaudit.KeyOutcome, otelaudit.OutcomeSuccess),
				slog.Attr{Key: otelaudit.KeyDetails, Value: details},
				slog.Attr{Key: otelaudit.KeyPrevious, Value: previous},
				slog.Attr{Key: otelaudit.KeyNew, Value: next},
			)
		},
		check: func() error { return errorsIf(errs.Load(), "id generation failed") },
	}
}

// errorsIf returns an error saying what happened n times, or nil when n is 0.
func errorsIf(n int64, what string) error {
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%s %d times", what, n)
}
