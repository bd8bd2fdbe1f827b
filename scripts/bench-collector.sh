#!/usr/bin/env bash
# The Collector benchmark (cmd/otelaudit-collector, BenchmarkCollector):
# a million audit events over OTLP/HTTP into the distribution, into
# ClickHouse and into Postgres, against the in-process path on the same
# events in the same run. Prints the scenario=Collector/... lines.
#
#   scripts/bench-collector.sh
#   OTELAUDIT_BENCH_EVENTS=100000 scripts/bench-collector.sh   # a quick run
#
# Runs under scripts/with-services.sh (throwaway servers, durable Postgres
# as for the other benchmarks). The raw output goes to bench/results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="$ROOT/bench/results"
TESTBIN="$RESULTS/otelaudit-collector.test"

if [ "${1:-}" = __run ]; then
	cd "$ROOT/cmd/otelaudit-collector"
	"$TESTBIN" -test.run '^$' -test.bench '^BenchmarkCollector$' -test.benchtime 1x -test.count 1
	exit 0
fi

mkdir -p "$RESULTS"
raw="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).collector.txt"
echo "==> building the collector bench binary" >&2
(cd "$ROOT/cmd/otelaudit-collector" && go test -c -o "$TESTBIN" .)
export OTELAUDIT_SERVICES_DURABLE="${OTELAUDIT_SERVICES_DURABLE:-1}"
echo "==> BenchmarkCollector, ${OTELAUDIT_BENCH_EVENTS:-1000000} events a scenario; raw output: $raw" >&2
"$ROOT/scripts/with-services.sh" "$0" __run >"$raw" 2>"$raw.stderr" || {
	tail -50 "$raw" "$raw.stderr" >&2
	exit 1
}
grep '^scenario=Collector/' "$raw"
