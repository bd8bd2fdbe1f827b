package journal_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

// The crash test starts this test binary again as the process it kills;
// these variables tell TestMain to run crashChild instead of the tests.
const (
	envCrashChild   = "OTELAUDIT_JOURNAL_CRASH_DIR"     // the journal directory
	envCrashDSN     = "OTELAUDIT_JOURNAL_CRASH_DSN"     // the Postgres database
	envCrashSync    = "OTELAUDIT_JOURNAL_CRASH_SYNC"    // "each" for SyncEach, else the default policy
	envCrashSegment = "OTELAUDIT_JOURNAL_CRASH_SEGMENT" // segment size in bytes, else the default
)

// crashChildLimit is how long a child runs when nobody kills it.
const crashChildLimit = time.Minute

// crashChild records events through a journal into Postgres, one
// goroutine, as fast as it can, and writes "<event id> <unix ns>" on
// stdout, one write per line, after each Record call returned. It runs
// until it is killed: the exit code says why it stopped otherwise.
func crashChild(dir string) int {
	ctx, cancel := context.WithTimeout(context.Background(), crashChildLimit)
	defer cancel()
	pool, err := pgxpool.New(ctx, os.Getenv(envCrashDSN))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	defer pool.Close()
	exp, err := postgreslog.New(pool)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	opts := []journal.Option{journal.WithErrorHandler(func(err error) { fmt.Fprintln(os.Stderr, "crash child: journal:", err) })}
	if os.Getenv(envCrashSync) == "each" {
		opts = append(opts, journal.WithSync(journal.SyncEach()))
	}
	if n, err := strconv.ParseInt(os.Getenv(envCrashSegment), 10, 64); err == nil {
		opts = append(opts, journal.WithSegmentBytes(n))
	}
	proc, err := journal.New(dir, []journal.Target{{Name: pgName, Exporter: exp}}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, "journal-crash"))),
		sdklog.WithAllowKeyDuplication())
	defer func() { _ = lp.Shutdown(context.Background()) }()
	a := bridge.New(bridge.WithLoggerProvider(lp))

	line := make([]byte, 0, 64)
	for i := 0; ctx.Err() == nil; i++ {
		id, err := uuid.NewV7()
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			return 2
		}
		a.Record(ctx, otelaudit.Event{ID: id, Action: otelaudit.ActionLogin,
			Actor: otelaudit.Actor{UserID: fmt.Sprintf("usr_%d", i%1000), WorkspaceID: "ws_crash"}})
		line = append(append(line[:0], id.String()...), ' ')
		line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
		line = append(line, '\n')
		if _, err := os.Stdout.Write(line); err != nil {
			return 3 // the parent is gone
		}
	}
	fmt.Fprintln(os.Stderr, "crash child: not killed within", crashChildLimit)
	return 4
}

// printed is an event id a child wrote, with the time its Record call had
// returned by.
type printed struct {
	id uuid.UUID
	at time.Time
}

// crashBound is the window of records a process crash may lose under the
// default sync policy. The package documentation promises at most the
// last millisecond (appended records reach the operating system within
// the writer's 1 ms nap); on a loaded machine the writer runs late, and
// with two busy cores under the race detector the oldest record lost was
// up to 20 ms old, and up to 120 ms with a load average of 15 on those two
// cores (the writer goroutine was not scheduled). 500 ms leaves room for
// a starved machine; a loss older than that is a bug, not scheduling.
const crashBound = 500 * time.Millisecond

// TestFaultCrash: a process recording events is killed (SIGKILL) in the
// middle of its run; a new Processor on its journal delivers what it had
// journaled. With SyncEach nothing whose Record call returned is lost;
// with the default policy nothing older than crashBound before the kill.
// No event is stored twice, although records confirmed by the killed
// process after its last saved cursor are delivered again.
func TestFaultCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		sync     string
		segBytes int           // 0: the default
		bound    time.Duration // events printed within bound before the kill may be lost
	}{
		{name: "sync each", sync: "each", bound: 0},
		{name: "sync interval", sync: "", bound: crashBound},
		// Segments of 256 KiB fill every 10 ms or so: the kill lands
		// among segment changes, and the writer must not fall behind
		// while old segments are fsynced.
		{name: "sync interval, small segments", sync: "", segBytes: 256 << 10, bound: crashBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			dsn := testenv.PostgresDSN(t)
			pg := openPostgres(t, ctx, dsn)
			dir := t.TempDir()

			got, killedAt, stderr := runAndKill(t, ctx, dir, dsn, tc.sync, tc.segBytes)
			require.NotEmpty(t, got)
			t.Logf("child killed after printing %d event ids", len(got))

			// The parent delivers what the child left.
			p := newPipeline(t, dir, []journal.Target{pg.target(t)})
			p.flush(t, ctx, time.Minute)
			s := p.proc.Stats()
			t.Logf("recovery: %d records delivered, %d damaged stretches (%d bytes)", s.Targets[pgName].Delivered, s.Damaged, s.DamagedBytes)

			rows, distinct, err := pg.counts(ctx)
			require.NoError(t, err)
			stored, err := pg.ids(ctx)
			require.NoError(t, err)
			in := make(map[uuid.UUID]bool, len(stored))
			for _, id := range stored {
				in[id] = true
			}
			var lost, lostInBound int
			var oldestLost time.Duration
			wasPrinted := make(map[uuid.UUID]bool, len(got))
			for _, e := range got {
				wasPrinted[e.id] = true
				if in[e.id] {
					continue
				}
				lost++
				oldestLost = max(oldestLost, killedAt.Sub(e.at))
				if killedAt.Sub(e.at) <= tc.bound {
					lostInBound++
					continue
				}
				if lost-lostInBound <= 5 {
					t.Errorf("event %s, recorded %v before the kill, is not in Postgres", e.id, killedAt.Sub(e.at))
				}
			}
			unprinted := 0
			for id := range in {
				if !wasPrinted[id] {
					unprinted++
				}
			}
			t.Logf("Postgres: %d rows, %d distinct; of %d printed events %d lost (%d of them within %v of the kill; the oldest %v before it); %d stored events not printed",
				rows, distinct, len(got), lost, lostInBound, tc.bound, oldestLost, unprinted)
			if t.Failed() {
				t.Logf("child's stderr:\n%s", stderr)
			}
			assert.Equal(t, rows, distinct, "no event is stored twice")
			// A kill interrupts one write: at most one torn tail.
			assert.LessOrEqual(t, s.Damaged, uint64(1), "damaged stretches")
			// The child records from one goroutine: at most the event
			// whose Record call the kill interrupted is journaled but
			// not printed.
			assert.LessOrEqual(t, unprinted, 1, "stored events the child never recorded")
		})
	}
}

// runAndKill starts a child recording into the journal in dir, kills it
// with SIGKILL about a second into its run, and returns what it printed,
// when it was killed, and its stderr.
func runAndKill(t *testing.T, ctx context.Context, dir, dsn, syncPolicy string, segBytes int) ([]printed, time.Time, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dir, envCrashDSN+"="+dsn, envCrashSync+"="+syncPolicy)
	if segBytes > 0 {
		cmd.Env = append(cmd.Env, envCrashSegment+"="+strconv.Itoa(segBytes))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var waitOnce sync.Once
	var waitErr error
	wait := func() error {
		waitOnce.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = wait() })

	var (
		mu    sync.Mutex
		got   []printed
		bad   []string
		first = make(chan struct{})
		eof   = make(chan struct{})
	)
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			e, ok := parsePrinted(sc.Text())
			mu.Lock()
			if !ok {
				bad = append(bad, sc.Text())
			} else if got = append(got, e); len(got) == 1 {
				close(first)
			}
			mu.Unlock()
		}
	}()

	select {
	case <-first:
	case <-eof:
		_ = wait()
		t.Fatalf("the child printed nothing; stderr:\n%s", stderr.String())
	case <-ctx.Done():
		t.Fatalf("the child printed nothing in time; stderr:\n%s", stderr.String())
	}
	sleepFor(t, ctx, time.Second)
	killedAt := time.Now()
	require.NoError(t, cmd.Process.Kill())
	select {
	case <-eof:
	case <-ctx.Done():
		t.Fatal("the child's stdout stayed open after the kill")
	}
	err = wait()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "killed", "the child died of the kill, not on its own; stderr:\n%s", stderr.String())
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, bad, "lines the child printed")
	return got, killedAt, stderr.String()
}

func parsePrinted(line string) (printed, bool) {
	id, ns, ok := strings.Cut(line, " ")
	if !ok {
		return printed{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return printed{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return printed{}, false
	}
	return printed{id: u, at: time.Unix(0, n)}, true
}
