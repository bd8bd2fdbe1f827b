package bridge

import (
	"context"

	"github.com/otelaudit/otelaudit"
)

type clientKey struct{}

// ContextWithClient returns a copy of ctx that carries c. [Auditor] methods
// fill the client fields an event leaves empty from it. The HTTP middleware
// ([NewMiddleware]) calls it for every request.
func ContextWithClient(ctx context.Context, c otelaudit.Client) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the client carried by ctx, if any.
func ClientFromContext(ctx context.Context) (otelaudit.Client, bool) {
	if ctx == nil {
		return otelaudit.Client{}, false
	}
	c, ok := ctx.Value(clientKey{}).(otelaudit.Client)
	return c, ok
}
