#!/usr/bin/env bash
# Mutation testing (make mutate): do the tests catch the bugs that matter?
#
#   scripts/with-services.sh scripts/mutate.sh               # the default set
#   scripts/with-services.sh scripts/mutate.sh ./bridge sql  # a subset
#
# Arguments are package patterns (./bridge, ./schema/...) and the word
# "sql". Default, the slowest last: ./bridge ./exporter/auditrow
# ./exporter/clickhouselog ./schema/... sql ./exporter/postgreslog.
#
# For every package matched, gremlins (github.com/go-gremlins/gremlins,
# installed with go install into a cache directory on first use) mutates the
# package's Go code one mutant at a time and runs the package's tests on each
# mutant; internal/cmd/mutationreport summarises its report. "sql" runs the
# hand-written SQL mutants of internal/mutation (TestSQLMutants, build tag
# mutation) with go test -overlay. See the internal/mutation package doc.
#
# Progress goes to stderr; at the end, stdout gets one line per package and
# per SQL mutant set, each followed by its survivors:
#
#   mutation package=bridge killed=180 survived=17 score=0.91 timed_out=0 not_covered=3 not_viable=0
#   survived bridge/auditor.go:120:9 CONDITIONALS_BOUNDARY
#   mutation sql=total killed=18 survived=4 score=0.82
#   survived sql=pg-ensure-session-timezone schema/pgschema/sql/...:15: what it lets through
#
# Survivors do not fail the run; an error (tests failing unmutated, a
# broken SQL mutant table, gremlins failing) does, with exit status 1.
#
# The integration tests need the databases: run it under
# scripts/with-services.sh (make mutate does); without the services'
# variables it refuses to start, since skipped tests would let every mutant
# survive.
#
# Environment:
#   MUTATE_WORKERS      mutants tested at once (default 2: one per core of
#                       the 2-core CI machine; the databases share them)
#   MUTATE_TIMEOUT      gremlins' --timeout-coefficient: a mutant's tests
#                       time out (and count as killed) after this many times
#                       the duration of the unmutated coverage run (default
#                       10: for a fast package the run is mostly compiling,
#                       which a busy machine slows down a lot)
#   MUTANTS             regexp: run only the SQL mutants whose ID matches
#   OTELAUDIT_TOOLS_DIR where gremlins is installed (default
#                       ${XDG_CACHE_HOME:-~/.cache}/otelaudit/tools)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GREMLINS_VERSION=v0.6.0
MODULE="$(go list -m)"
: "${MUTATE_WORKERS:=2}"
: "${MUTATE_TIMEOUT:=10}"
: "${MUTANTS:=}"

log() { printf 'mutate: %s\n' "$*" >&2; }

# Each long step runs in a process group of its own (set -m), so that a
# signal (Ctrl-C, or with-services.sh stopping us) ends all of it, gremlins,
# go test and the test binaries, before the servers are stopped.
set -m
child=""
forward() {
	if [ -n "$child" ]; then
		kill -TERM -- "-$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	exit "$1"
}
trap 'forward 130' INT
trap 'forward 143' TERM
trap 'forward 129' HUP
# step CMD [ARG...] runs CMD (a command or a function) in its own process
# group and returns its exit status.
step() {
	"$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=""
	return "$rc"
}

if [ -z "${OTELAUDIT_TEST_POSTGRES_DSN:-}" ] || [ -z "${OTELAUDIT_TEST_CLICKHOUSE_DSN:-}" ]; then
	log "error: no test databases; run: scripts/with-services.sh $0 $*"
	exit 2
fi
export OTELAUDIT_TEST_REQUIRE_SERVICES=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(./bridge ./exporter/auditrow ./exporter/clickhouselog ./schema/... sql ./exporter/postgreslog)
fi
for t in "${targets[@]}"; do
	case "$t" in
	sql | ./*) ;;
	*)
		log "error: $t: want a package pattern starting with ./ or the word sql"
		exit 2
		;;
	esac
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/otelaudit-mutate.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
summary="$tmp/summary"
: >"$summary"
failed=0
gremlins=""

# setup_gremlins installs gremlins if needed, builds mutationreport and the
# go wrapper below, once.
setup_gremlins() {
	[ -z "$gremlins" ] || return 0
	local tools="${OTELAUDIT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otelaudit/tools}/gremlins-$GREMLINS_VERSION"
	if [ ! -x "$tools/gremlins" ]; then
		log "installing gremlins $GREMLINS_VERSION into $tools"
		GOBIN="$tools" go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
	fi
	go build -o "$tmp/mutationreport" ./internal/cmd/mutationreport

	# gremlins v0.6.0 finds the package of a mutant by looking for a parent
	# directory named like the Go package; when there is none (package
	# named unlike its directory) it tests the module's root package
	# instead, and every mutant survives. It runs the tests from the
	# package's directory in its copy of the module, so this go wrapper
	# turns that root package argument into ".".
	mkdir "$tmp/bin"
	cat >"$tmp/bin/go" <<EOF
#!/usr/bin/env bash
if [ "\${1:-}" = test ] && [ "\${!#}" = "$MODULE" ]; then
	set -- "\${@:1:\$#-1}" .
fi
exec "$(command -v go)" "\$@"
EOF
	chmod +x "$tmp/bin/go"
	gremlins="$tools/gremlins"
}

# run_gremlins DIR mutates the package in DIR.
run_gremlins() {
	local dir="$1" rel report
	rel="${dir#"$ROOT"/}"
	report="$tmp/$(echo "$rel" | tr / _).json"
	echo '{"files":[]}' >"$report" # gremlins writes nothing when it finds no mutant
	log "gremlins: $rel"
	# -count=1: a cached coverage run would take no time, and gremlins
	# derives each mutant's timeout from it.
	if PATH="$tmp/bin:$PATH" GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1" \
		step "$gremlins" unleash --workers "$MUTATE_WORKERS" --timeout-coefficient "$MUTATE_TIMEOUT" \
		--output "$report" "$dir" >&2 &&
		"$tmp/mutationreport" -package "$rel" "$report" >"$tmp/lines"; then
		cat "$tmp/lines" >&2
		cat "$tmp/lines" >>"$summary"
	else
		echo "mutation package=$rel error=gremlins failed (see above)" | tee -a "$summary" >&2
		failed=1
	fi
}

# sql_test ARG... runs go test ARG... in internal/mutation, its output to
# stderr and $tmp/sql.
sql_test() {
	(cd internal/mutation && go test "$@") 2>&1 | tee "$tmp/sql" >&2
	return "${PIPESTATUS[0]}"
}

# run_sql runs the SQL mutants.
run_sql() {
	local args rc
	log "SQL mutants"
	go vet -tags mutation ./internal/mutation
	# From the package's directory (local directory mode), so that go test
	# prints the report lines as they come.
	args=(-tags mutation -timeout 180m -run '^TestSQLMutants$')
	if [ -n "$MUTANTS" ]; then
		args+=(-mutants "$MUTANTS")
	fi
	rc=0
	step sql_test "${args[@]}" || rc=$?
	grep -E '^(mutation|survived) sql=' "$tmp/sql" >>"$summary" || true
	if [ "$rc" != 0 ]; then
		echo "mutation sql=total error=the SQL mutant runner failed (see above)" | tee -a "$summary" >&2
		failed=1
	fi
}

for t in "${targets[@]}"; do
	if [ "$t" = sql ]; then
		run_sql
		continue
	fi
	setup_gremlins
	mapfile -t dirs < <(go list -f '{{.Dir}}' "$t")
	for dir in "${dirs[@]}"; do
		run_gremlins "$dir"
	done
done

echo "==> mutation testing summary" >&2
cat "$summary"
exit "$failed"
