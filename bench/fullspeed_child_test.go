package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// Some scenarios run in a child process, so that the memory they report
// is that of a fresh process doing nothing but the scenario's work: the
// test binary runs again with childEnv set to the JSON of a childConfig,
// and TestMain hands it to childMain instead of running tests. The parent
// reads the child's peak resident set size (VmHWM) once the child has
// reported; the child reports the largest live heap a garbage collection
// left (peak_live_heap_MiB: marked objects only, no garbage waiting to be
// swept).
const childEnv = "OTELAUDIT_BENCH_CHILD"

// childProfileEnv, when set to a directory, makes each child process write
// a CPU profile and an allocation profile of its scenario there, named
// after the scenario (<scenario>.cpu.pprof, <scenario>.allocs.pprof): read
// them with go tool pprof and the test binary. The profiler costs a few
// percent of the throughput.
const childProfileEnv = "OTELAUDIT_BENCH_PROFILE_DIR"

// The scenarios a child process runs (childConfig.Scenario).
const (
	// childJournalPostgres: Delivery/fullspeed_postgres (fullSpeed).
	childJournalPostgres = "journal_postgres"
	// childPostgresExporter and childClickHouseExporter: the whole path
	// of PostgresInsert/exporter and ClickHouseInsert/exporter.
	childPostgresExporter   = "postgres_exporter"
	childClickHouseExporter = "clickhouse_exporter"
	// childPostgresExportOnly and childClickHouseExportOnly: the exporter
	// alone, PostgresInsert/export_only and ClickHouseInsert/export_only.
	childPostgresExportOnly   = "postgres_export_only"
	childClickHouseExportOnly = "clickhouse_export_only"
	// ClickHouseInsert/export_prebuilt: the exporter alone, every record
	// built before the clock starts.
	childClickHouseExportPre = "clickhouse_export_prebuilt"
)

// childScenarios maps childConfig.Scenario to its work.
var childScenarios = map[string]func(childConfig) (childResult, error){
	childJournalPostgres:      fullSpeed,
	childPostgresExporter:     postgresExporterChild,
	childClickHouseExporter:   clickHouseExporterChild,
	childPostgresExportOnly:   postgresExportOnlyChild,
	childClickHouseExportOnly: clickHouseExportOnlyChild,
	childClickHouseExportPre:  clickHouseExportPrebuiltChild,
}

// childConfig is the child's work.
type childConfig struct {
	// Scenario names the work (childScenarios).
	Scenario string
	// DSN is the pgx URL of a Postgres database, or the DSN of a
	// ClickHouse server, with the audit table migrated.
	DSN string
	// Database is the ClickHouse database of the audit table.
	Database string
	// Dir is the journal directory, empty or missing.
	Dir string
	// Events is how many events to record.
	Events int
	// SegmentBytes is the journal's segment size; 0 keeps the default.
	SegmentBytes int64
	// Timeout bounds the child's run; it gives up when it passes.
	Timeout time.Duration
	// PollEvery is how often the journal directory and size are sampled.
	PollEvery time.Duration
}

// childResult is what the child reports, as one JSON line on its
// standard output.
type childResult struct {
	// Emitted is how many events the Auditor recorded (or the exporter
	// was given, for export_only).
	Emitted int
	// EmitSeconds is how long the emitting goroutine took for them, and
	// Seconds the wall-clock time from the first event to the last row
	// confirmed by the database.
	EmitSeconds, Seconds float64
	// WaitSeconds is, for export_only, how long the exporting goroutine
	// waited for its next batch to be prepared (part of Seconds).
	WaitSeconds float64
	// PeakLiveHeapMiB is the largest live heap a garbage collection left
	// during the run.
	PeakLiveHeapMiB float64
	// Journal is what the journal wrote to disk.
	Journal journalUsage
	// Err is why the run failed, if it did.
	Err string
}

// runChild runs cfg in a child process (a new run of this test binary),
// and returns its result and its peak resident set size in MiB: VmHWM from
// /proc/<pid>/status, read once the child has reported and before it
// exits. The child is killed when ctx ends.
func runChild(ctx context.Context, cfg childConfig) (childResult, float64, error) {
	var res childResult
	exe, err := os.Executable()
	if err != nil {
		return res, 0, fmt.Errorf("child process: %w", err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return res, 0, fmt.Errorf("child process: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, 0, fmt.Errorf("child process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, 0, fmt.Errorf("child process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return res, 0, fmt.Errorf("child process: %w", err)
	}
	line, readErr := bufio.NewReader(stdout).ReadBytes('\n')
	var rss float64
	var rssErr error
	if readErr == nil {
		// The child waits for its standard input to end: it is still
		// there, with all the memory it ever mapped counted.
		rss, rssErr = readVmHWM("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	}
	_ = stdin.Close()
	waitErr := cmd.Wait()
	if readErr != nil {
		return res, 0, fmt.Errorf("child process reported nothing (%w; exit: %v); its standard error:\n%s", readErr, waitErr, stderr.Bytes())
	}
	if err := json.Unmarshal(line, &res); err != nil {
		return res, 0, fmt.Errorf("child process: result %q: %w", line, err)
	}
	if res.Err != "" {
		return res, 0, fmt.Errorf("child process: %s", res.Err)
	}
	if waitErr != nil {
		return res, 0, fmt.Errorf("child process: %w; its standard error:\n%s", waitErr, stderr.Bytes())
	}
	if rssErr != nil {
		return res, 0, fmt.Errorf("child process: peak RSS: %w", rssErr)
	}
	return res, rss, nil
}

// childMain is the child process: it runs the childConfig in js, prints the
// result as one JSON line on standard output, and waits until its standard
// input ends (the parent reads its peak RSS meanwhile). It returns the exit
// status.
func childMain(js string) int {
	var cfg childConfig
	res := childResult{}
	err := json.Unmarshal([]byte(js), &cfg)
	if err == nil {
		run := childScenarios[cfg.Scenario]
		if run == nil {
			err = fmt.Errorf("no child scenario %q", cfg.Scenario)
		} else {
			heap := startLiveHeap()
			stopProfile, perr := startChildProfile(cfg.Scenario)
			res, err = run(cfg)
			res.PeakLiveHeapMiB = heap.stop()
			err = errors.Join(err, perr, stopProfile())
		}
	}
	if err != nil {
		res.Err = err.Error()
	}
	if werr := json.NewEncoder(os.Stdout).Encode(res); werr != nil {
		fmt.Fprintln(os.Stderr, "child process: write result:", werr)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err != nil {
		return 1
	}
	return 0
}

// startChildProfile starts the profiles of childProfileEnv, if set, and
// returns the function that writes them.
func startChildProfile(scenario string) (stop func() error, err error) {
	dir := os.Getenv(childProfileEnv)
	if dir == "" {
		return func() error { return nil }, nil
	}
	runtime.MemProfileRate = 64 << 10
	cpu, err := os.Create(filepath.Join(dir, scenario+".cpu.pprof"))
	if err != nil {
		return func() error { return nil }, fmt.Errorf("profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return func() error { return nil }, errors.Join(fmt.Errorf("profile: %w", err), cpu.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		allocs, err := os.Create(filepath.Join(dir, scenario+".allocs.pprof"))
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		errs = append(errs, pprof.Lookup("allocs").WriteTo(allocs, 0), allocs.Close())
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		return nil
	}, nil
}

// liveHeap follows the live heap a garbage collection leaves
// (runtime/metrics /gc/heap/live:bytes, the objects the last cycle
// marked) and keeps the largest.
type liveHeap struct {
	stopc chan struct{}
	done  sync.WaitGroup
	peak  atomic.Uint64
}

const liveHeapMetric = "/gc/heap/live:bytes"

// startLiveHeap starts sampling every 2 ms.
func startLiveHeap() *liveHeap {
	h := &liveHeap{stopc: make(chan struct{})}
	s := []metrics.Sample{{Name: liveHeapMetric}}
	h.done.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 {
				if v := s[0].Value.Uint64(); v > h.peak.Load() {
					h.peak.Store(v)
				}
			}
			select {
			case <-h.stopc:
				return
			case <-t.C:
			}
		}
	})
	return h
}

// stop ends the sampling and returns the largest live heap in MiB.
func (h *liveHeap) stop() float64 {
	close(h.stopc)
	h.done.Wait()
	return float64(h.peak.Load()) / (1 << 20)
}

// fullSpeed records cfg.Events events (pgEvent) through the Auditor into a
// journal with the default options in front of postgreslog, from one
// goroutine and without pausing, and waits until Postgres has confirmed
// every one. It checks that the journal refused none and delivered all,
// and follows the journal directory meanwhile (journalWatch).
func fullSpeed(cfg childConfig) (childResult, error) {
	var res childResult
	if cfg.Timeout <= 0 || cfg.Events <= 0 || cfg.PollEvery <= 0 {
		return res, fmt.Errorf("invalid configuration %+v", cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.DSN)
	if err != nil {
		return res, fmt.Errorf("open Postgres pool: %w", err)
	}
	defer pool.Close()
	expErrs := &errorLog{}
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(expErrs.handle))
	if err != nil {
		return res, err
	}
	var opts []journal.Option
	if cfg.SegmentBytes > 0 {
		opts = append(opts, journal.WithSegmentBytes(cfg.SegmentBytes))
	}
	proc, jErrs, err := newJournal(cfg.Dir, "postgres", exp, opts...)
	if err != nil {
		return res, errors.Join(err, exp.Shutdown(ctx))
	}
	p := newPipelineWith(proc, pgService)

	w := newJournalWatch(cfg.Dir, proc)
	stop := make(chan struct{})
	var polling sync.WaitGroup
	polling.Go(func() {
		t := time.NewTicker(cfg.PollEvery)
		defer t.Stop()
		for {
			w.poll()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})

	runtime.GC()
	start := time.Now()
	res.Emitted = emitEvents(ctx, p.auditor, cfg.Events)
	res.EmitSeconds = time.Since(start).Seconds()
	flushErr := p.provider.ForceFlush(ctx)
	res.Seconds = time.Since(start).Seconds()
	close(stop)
	polling.Wait()
	usage, watchErr := w.finish()
	res.Journal = usage

	checkErr := checkJournal(proc, "postgres", uint64(cfg.Events))
	shutErr := p.provider.Shutdown(ctx)
	var errs []error
	if flushErr != nil {
		errs = append(errs, fmt.Errorf("waiting for delivery: %w", flushErr))
	}
	if res.Emitted != cfg.Events {
		errs = append(errs, fmt.Errorf("emitted %d events of %d before the time limit", res.Emitted, cfg.Events))
	}
	if n := p.rejected.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("the Auditor rejected %d events", n))
	}
	if checkErr != nil {
		errs = append(errs, checkErr)
	}
	if watchErr != nil {
		errs = append(errs, fmt.Errorf("journal directory: %w", watchErr))
	}
	if shutErr != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", shutErr))
	}
	if err := jErrs.err(); err != nil {
		errs = append(errs, fmt.Errorf("journal: %w", err))
	}
	if err := expErrs.err(); err != nil {
		errs = append(errs, fmt.Errorf("exporter: %w", err))
	}
	return res, errors.Join(errs...)
}
