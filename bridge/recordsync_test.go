package bridge

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
)

// claimingProcessor stands for a durable processor: it claims the receipt
// of every record and settles it at once with err.
type claimingProcessor struct{ err error }

func (p claimingProcessor) OnEmit(ctx context.Context, _ *sdklog.Record) error {
	rc := otelaudit.ReceiptFromContext(ctx)
	rc.Claim()
	rc.Settle(p.err)
	return nil
}
func (claimingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (claimingProcessor) Shutdown(context.Context) error                         { return nil }
func (claimingProcessor) ForceFlush(context.Context) error                       { return nil }

// TestRecordSync: RecordSync returns nil only when a processor claimed the
// event and settled it without error; the event is emitted in every case
// but a rejected one.
func TestRecordSync(t *testing.T) {
	event := otelaudit.Event{Action: otelaudit.ActionLogin, Actor: testActor}
	var noAuditor *Auditor
	require.ErrorIs(t, noAuditor.RecordSync(context.Background(), event), otelaudit.ErrNotDurable)

	t.Run("no durable processor", func(t *testing.T) {
		h := newHarness(t)
		var ctx context.Context // nil: the background context
		require.ErrorIs(t, h.auditor.RecordSync(ctx, event), otelaudit.ErrNotDurable)
		h.only(t)
	})
	t.Run("a rejected event", func(t *testing.T) {
		h := newHarness(t)
		err := h.auditor.RecordSync(context.Background(), otelaudit.Event{Action: "Not An Action"})
		require.ErrorIs(t, err, ErrRejected)
		require.NotErrorIs(t, err, otelaudit.ErrNotDurable)
		require.Empty(t, h.exp.Records())
	})
	for _, tt := range []struct {
		name   string
		settle error
	}{{"confirmed", nil}, {"refused", errors.New("disk full")}} {
		t.Run(tt.name, func(t *testing.T) {
			exp := &memExporter{}
			provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(claimingProcessor{err: tt.settle}), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
			t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })
			a := New(WithLoggerProvider(provider))
			err := a.RecordSync(context.Background(), event)
			if tt.settle == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, otelaudit.ErrNotDurable)
				require.ErrorIs(t, err, tt.settle)
			}
			require.Len(t, exp.Records(), 1)
		})
	}
}
