#!/usr/bin/env bash
# make demo: the pipeline as deployed, on throwaway servers.
#
#   scripts/demo.sh [FLAG...]
#
# Builds examples/demo, then runs it under scripts/with-services.sh:
# throwaway Postgres and ClickHouse servers on loopback, stopped afterwards
# whatever happens. The program builds and starts the collector and the
# example services, loads their workloads through the collector, prints the
# answers and stops what it started (see examples/demo/main.go; FLAGs go to
# it, e.g. -webportal 10000). Prints the elapsed time, servers included.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO="${GO:-go}"
export GO
SECONDS=0

tmp="$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-demo-bin.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT" && "$GO" build -o "$tmp/demo" ./examples/demo)
rc=0
"$ROOT/scripts/with-services.sh" "$tmp/demo" -root "$ROOT" -bin "$ROOT/bin" "$@" </dev/null || rc=$?
if [ "$rc" = 0 ]; then
	echo "make demo: done in ${SECONDS}s (servers, builds, load, queries and shutdown)"
else
	echo "make demo: failed (exit $rc) after ${SECONDS}s" >&2
fi
exit "$rc"
