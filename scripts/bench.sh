#!/usr/bin/env bash
# Run the benchmarks of the bench/ module and summarise them:
#
#   scripts/bench.sh                      # everything (make bench)
#   BENCH=Emit ROUNDS=5 BENCHTIME=200ms scripts/bench.sh  # a subset, shorter
#   BENCH=Delivery ROUNDS=1 scripts/bench.sh  # the durable journal against
#                                             # the stock BatchProcessor
#
# Prints one line per scenario at the end (internal/cmd/benchfmt: median
# ns/op, allocs/op, custom metrics, and the ratio to the ceiling of the
# group taken in each round, with its median, ratio_min and ratio_max) and
# keeps the raw go test output and the summary under bench/results/
# (gitignored), named by UTC time.
#
# The benchmarks run in ROUNDS rounds of one run each (-count 1), rather than
# one go test -count ROUNDS: each round runs every scenario of a group back to
# back, so a burst of load on the machine hits one round of every scenario
# instead of all the runs of one, and benchfmt's ratios pair each scenario
# with its ceiling of the same round. Scenarios too long to repeat (Delivery/fullspeed_postgres, a
# million events through the durable journal into Postgres in a child
# process, for its disk and memory figures) run in the first round only:
# the later rounds pass the test binary -once=false.
#
# When scripts/with-services.sh exists, the rounds run under it (throwaway
# Postgres and ClickHouse, their env vars exported) for the benchmarks that
# need the databases. The test binary and benchfmt are built first, so no
# compilation competes with the measurements.
#
# Environment:
#   BENCH       -test.bench regexp (default: .)
#   BENCHTIME   -test.benchtime per run (default: 1s)
#   ROUNDS      number of rounds, the medians' sample size (default: 5)
#   BENCHFLAGS  extra flags for the test binary (e.g. -test.cpu=4)
#   BENCHTAGS   build tags of the test binary (default: none). The query
#               benchmark on ClickHouse 26.5 embedded (chDB), which seeds
#               its dataset again in every round:
#                 BENCHTAGS=chdb OTELAUDIT_CLICKHOUSE_ENGINE=chdb \
#                 CHDB_LIB_PATH="$(scripts/chdb.sh lib)" \
#                 BENCH=ClickHouseQuery ROUNDS=1 BENCHTIME=5x scripts/bench.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="$ROOT/bench/results"
TESTBIN="$RESULTS/bench.test"

: "${BENCH:=.}"
: "${BENCHTIME:=1s}"
: "${ROUNDS:=5}"
: "${BENCHFLAGS:=}"
: "${BENCHTAGS:=}"

# Inner mode, run (under with-services.sh when present) by the outer one:
# the rounds, raw output on stdout.
if [ "${1:-}" = __rounds ]; then
	cd "$ROOT/bench"
	# shellcheck disable=SC2086 # BENCHFLAGS is a list of flags
	for ((i = 1; i <= ROUNDS; i++)); do
		echo "# round $i/$ROUNDS"
		once=-once=true
		if [ "$i" -gt 1 ]; then
			once=-once=false
		fi
		"$TESTBIN" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.count 1 "$once" $BENCHFLAGS
	done
	exit 0
fi

mkdir -p "$RESULTS"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
raw="$RESULTS/$stamp.txt"
summary="$RESULTS/$stamp.summary.txt"

echo "==> building the bench test binary and benchfmt" >&2
(cd "$ROOT/bench" && go test -c -tags "$BENCHTAGS" -o "$TESTBIN" .)
(cd "$ROOT" && go build -o "$RESULTS/benchfmt" ./internal/cmd/benchfmt)

runner=("$0" __rounds)
# Benchmarks measure against a durable Postgres (WAL flushed at commit), as
# in production; see scripts/services.sh.
export OTELAUDIT_SERVICES_DURABLE="${OTELAUDIT_SERVICES_DURABLE:-1}"
if [ -x "$ROOT/scripts/with-services.sh" ]; then
	runner=("$ROOT/scripts/with-services.sh" "${runner[@]}")
fi

echo "==> $ROUNDS rounds of -bench '$BENCH' -benchtime $BENCHTIME; raw output: $raw" >&2
{
	echo "# scripts/bench.sh BENCH='$BENCH' BENCHTIME=$BENCHTIME ROUNDS=$ROUNDS BENCHFLAGS='$BENCHFLAGS'"
	echo "# $(go version); GOMAXPROCS=${GOMAXPROCS:-$(getconf _NPROCESSORS_ONLN)}; $(date -u +%FT%TZ)"
} >"$raw"
rc=0
"${runner[@]}" 2>&1 | tee -a "$raw" | "$RESULTS/benchfmt" -passthrough >"$summary" || rc=$?

echo >&2
echo "==> summary ($summary)" >&2
cat "$summary"
if [ "$rc" -ne 0 ]; then
	echo "==> FAILED (exit $rc); see $raw" >&2
fi
exit "$rc"
