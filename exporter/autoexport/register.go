package autoexport

import (
	"context"
	"errors"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// Names of the exporters in OTEL_LOGS_EXPORTER.
const (
	namePostgres   = "otelaudit_postgres"
	nameClickHouse = "otelaudit_clickhouse"
)

func init() {
	autoexport.RegisterLogExporter(namePostgres, openPostgres)
	autoexport.RegisterLogExporter(nameClickHouse, openClickHouse)
	autoexport.RegisterLogExporter(namePostgres+","+nameClickHouse, openBoth)
	autoexport.RegisterLogExporter(nameClickHouse+","+namePostgres, openBoth)
}

func openPostgres(ctx context.Context) (sdklog.Exporter, error) {
	return postgreslog.Open(ctx, "")
}

func openClickHouse(ctx context.Context) (sdklog.Exporter, error) {
	return clickhouselog.Open(ctx, "")
}

func openBoth(ctx context.Context) (sdklog.Exporter, error) {
	pg, err := postgreslog.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	ch, err := clickhouselog.Open(ctx, "")
	if err != nil {
		return nil, errors.Join(err, pg.Shutdown(ctx))
	}
	return fanOut{pg, ch}, nil
}
