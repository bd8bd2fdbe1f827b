package pipeline

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// ErrNoStore is returned by [Setup] when no store is configured: neither
// OTELAUDIT_POSTGRES_DSN nor OTELAUDIT_CLICKHOUSE_DSN is set, and neither
// [WithPostgres] nor [WithClickHouse] is given.
var ErrNoStore = errors.New("pipeline: no store configured (set " + envconfig.PostgresDSN + " or " + envconfig.ClickHouseDSN + ")")

// Setup builds the durable audit pipeline described in the package
// documentation and returns its Auditor and the function that shuts it
// down. It opens no connection itself (the stores connect when they first
// deliver) but it opens the journal, which delivers what an earlier run
// left in it. On error, what it built is shut down again.
func Setup(ctx context.Context, opts ...Option) (*bridge.Auditor, func(context.Context) error, error) {
	c := newConfig(opts)
	var env envconfig.Reader
	if _, ok := env.String(envconfig.PostgresDSN); ok {
		c.postgres = true
	}
	if _, ok := env.String(envconfig.ClickHouseDSN); ok {
		c.clickhouse = true
	}
	if !c.postgres && !c.clickhouse {
		return nil, nil, ErrNoStore
	}

	var targets []journal.Target
	closeTargets := func() {
		for _, t := range targets {
			_ = t.Exporter.Shutdown(context.WithoutCancel(ctx))
		}
	}
	if c.postgres {
		exp, err := postgreslog.Open(ctx, c.postgresDSN, c.postgresOpts...)
		if err != nil {
			return nil, nil, fmt.Errorf("pipeline: %w", err)
		}
		targets = append(targets, journal.Target{Name: TargetPostgres, Exporter: exp})
	}
	if c.clickhouse {
		exp, err := clickhouselog.Open(ctx, c.clickhouseDSN, c.clickhouseOpts...)
		if err != nil {
			closeTargets()
			return nil, nil, fmt.Errorf("pipeline: %w", err)
		}
		targets = append(targets, journal.Target{Name: TargetClickHouse, Exporter: exp})
	}

	res := c.resource
	if res == nil {
		var err error
		if res, err = detectResource(ctx); err != nil {
			closeTargets()
			return nil, nil, fmt.Errorf("pipeline: %w", err)
		}
	}

	proc, err := journal.New(c.journalDir, targets, c.journalOpts...)
	if err != nil {
		closeTargets()
		return nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(proc),
		sdklog.WithResource(res),
		sdklog.WithAllowKeyDuplication(),
	)
	auditor := bridge.New(append(c.auditorOpts[:len(c.auditorOpts):len(c.auditorOpts)], bridge.WithLoggerProvider(lp))...)
	return auditor, lp.Shutdown, nil
}

// detectResource returns the SDK's default resource (service.name
// "unknown_service:<executable>", the SDK's attributes) merged with what
// the SDK detects now: OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME and the
// host name. The default resource is computed once per process; the
// variables are read again here, so they win.
func detectResource(ctx context.Context) (*resource.Resource, error) {
	detected, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil {
		if detected == nil {
			return nil, fmt.Errorf("detect the resource: %w", err)
		}
		otel.Handle(fmt.Errorf("pipeline: detect the resource: %w", err)) // partial: go on with what was found
	}
	merged, err := resource.Merge(resource.Default(), detected)
	if err != nil {
		return detected, nil // schema URLs differ: what was detected is what matters
	}
	return merged, nil
}
