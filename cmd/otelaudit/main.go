package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitNotMigrated = 3
	exitVerify      = 4
	exitInterrupted = 130
)

// env is the command's view of its environment, so that tests run it in
// process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal reports whether progress may be drawn on stderr.
	terminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, terminal: isTerminal(os.Stderr)}
	os.Exit(run(ctx, os.Args[1:], e))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, e env) error
}

func commands() []command {
	return []command{
		{"migrate", "create or update the tables of both stores (as their owner)", runMigrate},
		{"search", "find events in Postgres or ClickHouse", runSearch},
		{"tail", "print the newest events; with -f, follow new ones", runTail},
		{"query", "run a query of the ClickHouse query pack, or print its SQL", runQuery},
		{"export", "export every event of one user, as actor or target (GDPR subject access)", runExport},
		{"erase", "pseudonymise one user's personal data in both stores (GDPR erasure)", runErase},
		{"retention", "drop the partitions older than a date, in both stores", runRetention},
		{"seal", "seal the closed time windows (signed Merkle digests)", runSeal},
		{"verify", "verify both stores against the seals", runVerify},
		{"keygen", "create an Ed25519 key pair for seal and verify", runKeygen},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: otelaudit <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Connections: --postgres or OTELAUDIT_POSTGRES_DSN, --clickhouse or OTELAUDIT_CLICKHOUSE_DSN.")
	fmt.Fprintln(w, "Run 'otelaudit <command> -h' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 error, 2 usage, 3 tables missing (run otelaudit migrate), 4 verification failed, 130 interrupted.")
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], e)
		if err == nil {
			return exitOK
		}
		code := exitCode(ctx, err)
		if code != exitOK && !errors.Is(err, errHelp) {
			fmt.Fprintf(e.stderr, "otelaudit %s: %v\n", c.name, describe(err))
		}
		return code
	}
	fmt.Fprintf(e.stderr, "otelaudit: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}
