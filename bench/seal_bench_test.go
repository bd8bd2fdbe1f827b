package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
	"github.com/otelaudit/otelaudit/schema/seal"
)

// sealRows is how many rows BenchmarkSeal seals and verifies: one million,
// or OTELAUDIT_SEAL_ROWS.
func sealRows(b *testing.B) int {
	if s := os.Getenv("OTELAUDIT_SEAL_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("OTELAUDIT_SEAL_ROWS=%q", s)
		}
		return n
	}
	return 1_000_000
}

// sealWindows is how many hour windows the rows are spread over.
const sealWindows = 4

// BenchmarkSeal seals a million rows (the Postgres benchmark event, user,
// workspace, client, resource and action varying) spread over four hour
// windows, written to both stores through the exporters, then verifies one
// store against the digests. Seal always reads Postgres; seal_seconds is
// the time of one Seal run (trees, signatures, leaves written), and
// verify_seconds the time of one Verify of the scenario's store (chain,
// leaves, every row read back and hashed).
func BenchmarkSeal(b *testing.B) {
	n := sealRows(b)
	ctx := context.Background()
	pool := testenv.Postgres(b)
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		b.Fatal(err)
	}
	if _, err := seal.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	conn, db := testenv.ClickHouse(b)
	chOpts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, chOpts)
	if err != nil {
		b.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	writeSealRows(b, pool, conn, chOpts, layout, n, base)
	pgSrc, err := seal.NewPostgresSource(pool)
	if err != nil {
		b.Fatal(err)
	}
	chSrc, err := seal.NewClickHouseSource(conn, chOpts)
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range []struct {
		name string
		src  seal.Source
	}{{"postgres", pgSrc}, {"clickhouse", chSrc}} {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				benchSealOnce(b, pool, sc.src, n)
			}
		})
	}
}

// benchSealOnce seals the table afresh and verifies src.
func benchSealOnce(b *testing.B, pool *pgxpool.Pool, src seal.Source, n int) {
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "TRUNCATE audit_digests, audit_digests_leaves"); err != nil {
		b.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := seal.NewSealer(pool, key)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	rep, err := s.Seal(ctx)
	sealTime := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Rows != int64(n) {
		b.Fatalf("sealed %d rows, want %d", rep.Rows, n)
	}
	v, err := seal.NewVerifier(pool, pub)
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	res, err := v.Verify(ctx, src)
	verifyTime := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	var read int64
	for _, rr := range res.Ranges {
		read += rr.Rows[src.Name()]
	}
	if !res.OK || len(res.Findings) != 0 || read != int64(n) {
		b.Fatalf("verify: ok=%v, %d findings, %d rows read of %d", res.OK, len(res.Findings), read, n)
	}
	b.ReportMetric(float64(n), "rows")
	b.ReportMetric(sealTime.Seconds(), "seal_seconds")
	b.ReportMetric(verifyTime.Seconds(), "verify_seconds")
	b.ReportMetric(0, "ns/op")
}

// writeSealRows writes n rows to both stores through the exporters, in
// batches, spread evenly over sealWindows hours from base.
func writeSealRows(b *testing.B, pool *pgxpool.Pool, conn driver.Conn, chOpts chschema.Options, layout chschema.Layout, n int, base time.Time) {
	ctx := context.Background()
	pgExp, err := postgreslog.New(pool)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = pgExp.Shutdown(ctx) }()
	chExp, err := clickhouselog.New(conn, clickhouselog.WithSchema(chOpts), clickhouselog.WithLayout(layout))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = chExp.Shutdown(ctx) }()
	step := sealWindows * time.Hour / time.Duration(n)
	const batch = 20_000
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		recs := sealRecords(from, to, base, step)
		if err := pgExp.Export(ctx, recs); err != nil {
			b.Fatal(err)
		}
		if err := chExp.Export(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
}

// sealRecords returns the records of events [from, to).
func sealRecords(from, to int, base time.Time, step time.Duration) []sdklog.Record {
	p := &sealCapture{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(p))
	defer func() { _ = lp.Shutdown(context.Background()) }()
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) {}))
	for i := from; i < to; i++ {
		ev := pgEvent(i)
		ev.Time = base.Add(time.Duration(i) * step)
		a.Record(context.Background(), ev)
	}
	return p.records
}

type sealCapture struct{ records []sdklog.Record }

func (p *sealCapture) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.records = append(p.records, r.Clone())
	return nil
}
func (p *sealCapture) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *sealCapture) Shutdown(context.Context) error                         { return nil }
func (p *sealCapture) ForceFlush(context.Context) error                       { return nil }
