package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// serviceName is the service name of the events the command records.
const serviceName = "otelaudit-cli"

// operator is who runs the command, the actor of the events it records.
func operator(flagValue string, e env) string {
	for _, v := range []string{flagValue, e.getenv("OTELAUDIT_OPERATOR"), e.getenv("USER")} {
		if v != "" {
			return v
		}
	}
	return "otelaudit"
}

// recordEvent writes ev, through the bridge and the exporters, into every
// store configured, and fails if any refused it.
func recordEvent(ctx context.Context, c *conn, ev otelaudit.Event) error {
	var recs []sdklog.Record
	var mu sync.Mutex
	p := processorFunc(func(r *sdklog.Record) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, r.Clone())
	})
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(p),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, serviceName))))
	var rejected error
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { rejected = err }))
	a.Record(ctx, ev)
	_ = lp.Shutdown(ctx)
	if err := rejected; err != nil {
		return fmt.Errorf("record %s: %w", ev.Action, err)
	}
	if len(recs) != 1 {
		return fmt.Errorf("record %s: the bridge emitted %d records", ev.Action, len(recs))
	}
	if c.pgDSN != "" {
		pool, err := c.postgres(ctx)
		if err != nil {
			return err
		}
		exp, err := postgreslog.New(pool, postgreslog.WithSchema(c.pgOptions()))
		if err != nil {
			return err
		}
		err = errors.Join(exp.Export(ctx, recs), exp.Shutdown(ctx))
		if st := exp.Stats(); err == nil && st.Written+st.AlreadyStored != 1 {
			err = fmt.Errorf("not stored: %+v", st)
		}
		if err != nil {
			return fmt.Errorf("record %s in Postgres: %w", ev.Action, err)
		}
	}
	if c.chDSN != "" {
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		exp, err := clickhouselog.New(ch, clickhouselog.WithSchema(o))
		if err != nil {
			return err
		}
		err = errors.Join(exp.Export(ctx, recs), exp.Shutdown(ctx))
		if st := exp.Stats(); err == nil && st.Written+st.AlreadyStored != 1 {
			err = fmt.Errorf("not stored: %+v", st)
		}
		if err != nil {
			return fmt.Errorf("record %s in ClickHouse: %w", ev.Action, err)
		}
	}
	return nil
}

type processorFunc func(*sdklog.Record)

func (f processorFunc) OnEmit(_ context.Context, r *sdklog.Record) error {
	f(r)
	return nil
}
func (processorFunc) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (processorFunc) Shutdown(context.Context) error                         { return nil }
func (processorFunc) ForceFlush(context.Context) error                       { return nil }
