package journal

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

func TestDeliversEveryRecordInOrder(t *testing.T) {
	exp := &memExporter{}
	p := open(t, t.TempDir(), []sdklog.Exporter{exp}, WithBatch(100, 0))
	em := newEmitter(p)
	ctx := context.Background()
	for i := range 5000 {
		em.emit(ctx, i)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, p.ForceFlush(fctx))
	assert.Equal(t, ids(0, 5000), exp.got())
	s := p.Stats()
	assert.EqualValues(t, 5000, s.Accepted)
	assert.EqualValues(t, 5000, s.Targets["t0"].Delivered)
	assert.Zero(t, s.Targets["t0"].Backlog)
}
