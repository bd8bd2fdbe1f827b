package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/journal"
)

// loginRecord returns the record of BenchmarkDelivery's OnEmit scenarios:
// a successful login as the Auditor builds it (event id, user, workspace,
// client IP, user agent and session id from the request context, outcome),
// emitted through a provider with the audit settings of newAuditProvider.
func loginRecord() (sdklog.Record, error) {
	exp := &captureExporter{}
	lp := newAuditProvider(sdklog.NewSimpleProcessor(exp), pgService)
	errs := &errorLog{}
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(errs.handle))
	ctx := bridge.ContextWithClient(context.Background(), otelaudit.Client{
		IP:        fixture.clientIP,
		UserAgent: fixture.userAgent,
		SessionID: "sess_7c0e5b1d",
	})
	a.Login(ctx, otelaudit.Actor{UserID: fixture.userID, WorkspaceID: fixture.workspaceID})
	if err := lp.Shutdown(context.Background()); err != nil {
		return sdklog.Record{}, fmt.Errorf("login record: %w", err)
	}
	if err := errs.err(); err != nil {
		return sdklog.Record{}, fmt.Errorf("login record: %w", err)
	}
	records := exp.take()
	if len(records) != 1 {
		return sdklog.Record{}, fmt.Errorf("login record: captured %d records, want 1", len(records))
	}
	return records[0], nil
}

// newJournal opens a journal processor in dir that delivers to exp under
// the name target, with the journal's default options followed by opts.
// What the journal reports goes to the returned log.
func newJournal(dir, target string, exp sdklog.Exporter, opts ...journal.Option) (*journal.Processor, *errorLog, error) {
	errs := &errorLog{}
	opts = append([]journal.Option{journal.WithErrorHandler(errs.handle)}, opts...)
	p, err := journal.New(dir, []journal.Target{{Name: target, Exporter: exp}}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	return p, errs, nil
}

// checkJournal returns an error unless p accepted want records, refused
// none, found no damage, and its target confirmed every one of them
// without dead-lettering any.
func checkJournal(p *journal.Processor, target string, want uint64) error {
	st := p.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	ts, ok := st.Targets[target]
	if !ok {
		return fmt.Errorf("journal has no target %q", target)
	}
	if st.Accepted != want || dropped != 0 || st.Damaged != 0 || ts.Delivered != want || ts.DeadLettered != 0 {
		return fmt.Errorf("journal accepted %d records, dropped %d %v, found %d damaged stretches, delivered %d and dead-lettered %d to %s; want %d accepted and delivered",
			st.Accepted, dropped, st.Dropped, st.Damaged, ts.Delivered, ts.DeadLettered, target, want)
	}
	return nil
}

// emitEvents records events [0, n) of pgEvent through a on the calling
// goroutine, at full speed, and returns how many it recorded (fewer only
// when ctx ends).
func emitEvents(ctx context.Context, a *bridge.Auditor, n int) int {
	for i := range n {
		if i%1024 == 0 && ctx.Err() != nil {
			return i
		}
		a.Record(ctx, pgEvent(i))
	}
	return n
}

// countEvents returns how many rows the audit table of pool holds and how
// many distinct event ids they carry.
func countEvents(ctx context.Context, pool *pgxpool.Pool) (rows, distinct int64, err error) {
	err = pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT event_id) FROM audit_logs").Scan(&rows, &distinct)
	if err != nil {
		return 0, 0, fmt.Errorf("count audit rows: %w", err)
	}
	return rows, distinct, nil
}

// reportLoss reports the events of a run of n that are missing from the
// table (lost) and the rows stored twice (duplicated), and returns them.
func reportLoss(b *testing.B, pool *pgxpool.Pool, n int) (lost, duplicated int64) {
	b.Helper()
	rows, distinct, err := countEvents(context.Background(), pool)
	if err != nil {
		b.Fatal(err)
	}
	lost, duplicated = int64(n)-distinct, rows-distinct
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(duplicated), "duplicated")
	return lost, duplicated
}

// reportRatio reports v/ref under unit, to two decimals, when the
// reference scenario ran before in the same run (ref > 0).
func reportRatio(b *testing.B, v, ref float64, unit string) {
	if ref > 0 {
		b.ReportMetric(math.Round(v/ref*100)/100, unit)
	}
}

// errorLog is an error handler that counts what it receives and keeps the
// first few errors, for a failing scenario to show.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

const errorLogKeep = 3

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.first) < errorLogKeep {
		l.first = append(l.first, err.Error())
	}
}

// count returns how many errors the handler received.
func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// err returns nil when the handler received nothing, else an error with
// the count and the first errors.
func (l *errorLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return nil
	}
	return fmt.Errorf("%d errors reported, the first: %s", l.n, strings.Join(l.first, "; "))
}
