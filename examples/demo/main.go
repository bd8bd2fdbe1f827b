// Command demo runs the whole pipeline of the project as it is deployed:
// instrumented services send OTLP, a collector forwards it, analysts query
// ClickHouse.
//
//	make demo
//
// starts throwaway Postgres and ClickHouse servers (scripts/with-services.sh)
// and runs this program against them (scripts/demo.sh). The program
//
//   - migrates both stores (schema/pgschema, schema/chschema), which must
//     hold no rows yet (every check counts all of them);
//   - meanwhile builds the collector distribution (cmd/otelaudit-collector)
//     and the Go services examples/webportal and examples/backend (into
//     -bin: make demo uses bin/ of the repository, so that a rerun does not
//     link them again), and the TypeScript service examples/node-service
//     (scripts/node-service.sh build);
//   - starts the collector on free loopback ports with the example
//     configuration cmd/otelaudit-collector/config.yaml: the stores' DSNs,
//     a sending queue on disk in a temporary directory, and its own metrics
//     on a Prometheus endpoint of a free port;
//   - runs the three services' workloads against it, each as soon as it is
//     built: thousands of audit events across four workspaces, their users
//     and every action the services record, with password guessing from a
//     few addresses;
//   - shows the progress (records the collector has accepted, its sending
//     queue, rows stored in each database) on one line redrawn in place on
//     a terminal, as plain lines otherwise (or when CI is set), until every
//     service has exited cleanly and every event the services report is
//     stored exactly once in both stores;
//   - prints the stored events by action and service (and fails when a
//     count differs from what a service reported, or Postgres from
//     ClickHouse), the answers of the analyst query pack
//     (chschema.Queries) and one user's trail as tables;
//   - stops the collector and every process it started, by PID, and removes
//     its temporary directory.
//
// Every process it starts is its own child; Ctrl-C or SIGTERM stops them
// all. It never reads stdin. To run it against servers of your own (both
// stores' tables are created if missing):
//
//	OTELAUDIT_POSTGRES_DSN=postgres://... OTELAUDIT_CLICKHOUSE_DSN=clickhouse://... \
//		go run ./examples/demo
//
// Flags set the size of each service's workload, the random seed and the
// user whose trail is shown; -h lists them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg := config{Out: os.Stdout, Live: isTerminal(os.Stdout)}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&cfg.Root, "root", "", "the repository's root directory (default: found from the working directory)")
	fs.StringVar(&cfg.Bin, "bin", "", "where to build the collector and the Go services (default: a temporary directory)")
	fs.IntVar(&cfg.Webportal, "webportal", 4000, "audit events of the webportal's workload")
	fs.IntVar(&cfg.Backend, "backend", 3000, "audit events of the backend's workload")
	fs.IntVar(&cfg.Node, "node", 3000, "audit events of the node-service's workload")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the workloads")
	fs.StringVar(&cfg.User, "user", "u-ada", "the user whose trail is shown")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	cfg.PostgresDSN = firstEnv("OTELAUDIT_POSTGRES_DSN", "OTELAUDIT_TEST_POSTGRES_DSN")
	cfg.ClickHouseDSN = firstEnv("OTELAUDIT_CLICKHOUSE_DSN", "OTELAUDIT_TEST_CLICKHOUSE_DSN")
	if cfg.PostgresDSN == "" || cfg.ClickHouseDSN == "" {
		fmt.Fprintln(os.Stderr, "demo: set OTELAUDIT_POSTGRES_DSN and OTELAUDIT_CLICKHOUSE_DSN (make demo does it for you)")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// firstEnv returns the value of the first of names that is set.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// isTerminal reports whether f is a terminal that can redraw a line.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return os.Getenv("TERM") != "dumb" && os.Getenv("CI") == ""
}
