#!/usr/bin/env bash
# shellcheck disable=SC2317 # cleanup and forward run from traps
# Run a command with throwaway Postgres and ClickHouse servers:
#
#   scripts/with-services.sh go test ./...
#
# Starts the services (scripts/services.sh start), exports the variables of
# their env file plus OTELAUDIT_TEST_REQUIRE_SERVICES=1 (so tests fail rather
# than skip when a service is missing), runs the command, and always stops the
# services afterwards: on success, failure, Ctrl-C or SIGTERM. Exits with the
# command's exit code.
#
# Unless OTELAUDIT_SERVICES_DIR is set, the services get a fresh state
# directory of their own under $TMPDIR, so this neither collides with another
# run nor tears down servers started with `make services-up`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

if [ -z "${OTELAUDIT_SERVICES_DIR:-}" ]; then
	OTELAUDIT_SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-services.XXXXXX")"
fi
export OTELAUDIT_SERVICES_DIR

child=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	"$ROOT/scripts/services.sh" stop || rc=$((rc == 0 ? 1 : rc))
	exit "$rc"
}
trap cleanup EXIT
# Until the command runs, a signal just ends us (and the EXIT trap cleans up).
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$ROOT/scripts/services.sh" start
set -a
# shellcheck disable=SC1091
. "$OTELAUDIT_SERVICES_DIR/env"
set +a
export OTELAUDIT_TEST_REQUIRE_SERVICES=1

# The command runs in the background (with our stdin) so that a signal sent to
# this script alone is handled at once: it is passed on to the command, and the
# services are stopped once the command has ended. It stays in our process
# group, so a terminal's Ctrl-C reaches it directly as well. Bash starts
# background commands with SIGINT and SIGQUIT ignored; GNU env puts them back.
signalled=""
forward() {
	signalled="$2"
	if [ -n "$child" ]; then
		kill -"$1" "$child" 2>/dev/null || true
	fi
}
trap 'forward INT 130' INT
trap 'forward TERM 143' TERM
trap 'forward HUP 129' HUP
if env --default-signal=INT true 2>/dev/null; then
	env --default-signal=INT,QUIT "$@" <&0 &
else
	"$@" <&0 &
fi
child=$!
# wait also returns (>128) when a trapped signal arrives: go on waiting until
# the command has really ended, then wait once more for its own exit status
# (bash remembers it).
while kill -0 "$child" 2>/dev/null; do
	wait "$child" || true
done
if wait "$child"; then rc=0; else rc=$?; fi
# When the command was reaped inside a signal trap, bash 5.2 may report a
# status of -1 (or 127); we know it was signalled, so say so.
if [ "$rc" -lt 0 ] || [ "$rc" -gt 255 ] || { [ "$rc" = 127 ] && [ -n "$signalled" ]; }; then
	rc="${signalled:-1}"
fi
child=""
exit "$rc"
