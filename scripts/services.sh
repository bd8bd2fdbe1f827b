#!/usr/bin/env bash
# Throwaway Postgres and ClickHouse servers for the integration tests.
#
#   scripts/services.sh start   start both (reusing them if already healthy),
#                               write $STATE/env
#   scripts/services.sh stop    stop both by their recorded PIDs, remove $STATE
#   scripts/services.sh env     print $STATE/env (eval "$(scripts/services.sh env)")
#   scripts/services.sh status  exit 0 when both answer
#
# $STATE is $OTELAUDIT_SERVICES_DIR, or .services/ at the repository root.
#
# The servers are the machine's own binaries (Debian bookworm: PostgreSQL 15,
# ClickHouse 18.16), started on free random loopback ports with a state
# directory of their own; the system services are never used. When a binary
# is missing and we are root, the Debian package is installed with apt-get.
#
# OTELAUDIT_SERVICES_MODE=docker uses `docker compose up -d --wait` on
# docker-compose.yml instead (needs a running Docker engine; standard ports).
#
# Everything is logged to stderr; `env` alone prints to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${OTELAUDIT_SERVICES_DIR:-$ROOT/.services}"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
MODE="${OTELAUDIT_SERVICES_MODE:-native}"
TIMEOUT="${OTELAUDIT_SERVICES_TIMEOUT:-60}" # seconds to wait for each server
# OTELAUDIT_SERVICES_DURABLE=1 starts Postgres with fsync, synchronous_commit
# and full_page_writes on (the defaults of a real server); tests leave them
# off for speed.
COMPOSE_PROJECT="otelaudit-test"

log() { printf 'services: %s\n' "$*" >&2; }
die() {
	printf 'services: error: %s\n' "$*" >&2
	exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------- packages

apt_updated=0
# apt_install PKG... installs Debian packages, as root only.
apt_install() {
	if ! is_root; then
		die "$1 is not installed and we are not root; install it with: sudo apt-get install -y $*"
	fi
	command -v apt-get >/dev/null || die "$1 is not installed and there is no apt-get to install it"
	if [ "$apt_updated" = 0 ]; then
		log "apt-get update"
		apt-get update >&2 || log "warning: apt-get update failed; trying the install anyway"
		apt_updated=1
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 </dev/null
}

# pg_bin_dir prints the newest PostgreSQL bin directory that has initdb.
pg_bin_dir() {
	local d
	if [ -n "${OTELAUDIT_PG_BIN:-}" ]; then
		[ -x "$OTELAUDIT_PG_BIN/initdb" ] && { echo "$OTELAUDIT_PG_BIN"; return 0; }
		return 1
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

ensure_postgres() {
	PG_BIN="$(pg_bin_dir)" || {
		log "PostgreSQL server binaries (initdb) not found"
		apt_install postgresql
		PG_BIN="$(pg_bin_dir)" || die "postgresql installed, but initdb is still not found under /usr/lib/postgresql/*/bin"
	}
	if is_root; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the server as (PostgreSQL refuses to run as root)"
	fi
}

ch_bin() {
	local b
	for b in "${OTELAUDIT_CLICKHOUSE_SERVER:-}" "$(command -v clickhouse-server 2>/dev/null || true)" /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
		[ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
	done
	return 1
}
ch_client_bin() {
	local b
	for b in "${OTELAUDIT_CLICKHOUSE_CLIENT_BIN:-}" "$(command -v clickhouse-client 2>/dev/null || true)" /usr/bin/clickhouse-client; do
		[ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
	done
	return 1
}

ensure_clickhouse() {
	if ! CH_SERVER="$(ch_bin)" || ! CH_CLIENT="$(ch_client_bin)"; then
		log "clickhouse-server/clickhouse-client not found"
		apt_install clickhouse-server clickhouse-client
		CH_SERVER="$(ch_bin)" || die "clickhouse-server installed, but its binary is not found"
		CH_CLIENT="$(ch_client_bin)" || die "clickhouse-client installed, but its binary is not found"
	fi
}

# ZooKeeper is not a shared service: the cluster tests start their own
# (internal/testenv StartZooKeeper) from Debian's jar and Java; it is only
# installed here.
ensure_zookeeper() {
	local jar="${OTELAUDIT_ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}"
	if [ ! -f "$jar" ] || ! command -v "${OTELAUDIT_JAVA:-java}" >/dev/null 2>&1; then
		log "ZooKeeper ($jar) or java not found"
		apt_install zookeeper
		[ -f "$jar" ] || die "zookeeper installed, but $jar is still missing"
	fi
}

# ------------------------------------------------------------------- ports

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PICKED=" "
PORT=""
# pick_port sets PORT to a loopback port nobody listens on, below the Linux
# ephemeral range (32768+) so outgoing connections cannot grab it meanwhile.
# (No subshell: PICKED must remember the ports handed out.)
pick_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		case "$PICKED" in *" $p "*) continue ;; esac
		if ! port_in_use "$p"; then
			PICKED="$PICKED$p "
			PORT="$p"
			return 0
		fi
	done
	die "no free loopback port found"
}

# --------------------------------------------------------------- processes

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# ours PID PATTERN: PID is alive and its command line contains PATTERN (a
# guard against a recycled PID: we only ever signal our own servers).
ours() {
	alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# ---------------------------------------------------------------- Postgres

as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start_postgres() {
	ensure_postgres
	local pgroot
	pgroot="$STATE/postgres"
	mkdir -p "$pgroot"
	if is_root; then
		chown postgres: "$pgroot"
		if ! runuser -u postgres -- test -w "$pgroot"; then
			# An ancestor of $STATE (say /root) is closed to the postgres user.
			rmdir "$pgroot"
			pgroot="$(mktemp -d "/tmp/otelaudit-pg.XXXXXX")"
			chown postgres: "$pgroot"
			log "postgres cannot reach $STATE; its data directory is $pgroot"
		fi
	fi
	echo "$pgroot" >"$STATE/postgres.root"
	PGDATA_DIR="$pgroot/data"

	log "initdb ($PG_BIN)"
	as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$pgroot/initdb.log" 2>&1 ||
		{ cat "$pgroot/initdb.log" >&2; die "initdb failed"; }
	# Tests run on a fast, non-durable server. Benchmarks ask for a durable
	# one (OTELAUDIT_SERVICES_DURABLE=1): commits then flush the WAL as in
	# production, which is what per-event INSERTs pay for.
	local durable=off
	if [ "${OTELAUDIT_SERVICES_DURABLE:-0}" = 1 ]; then
		durable=on
	fi
	cat >>"$PGDATA_DIR/postgresql.conf" <<-EOF

		# --- scripts/services.sh: a throwaway server ---
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		max_connections = 200
		fsync = $durable
		synchronous_commit = $durable
		full_page_writes = $durable
		shared_buffers = 128MB
		log_min_messages = warning
	EOF

	local attempt
	for attempt in 1 2 3; do
		pick_port
		PG_PORT="$PORT"
		if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$pgroot/postgres.log" -o "-p $PG_PORT" -w -t "$TIMEOUT" start >/dev/null 2>&1; then
			log "$("$PG_BIN/postgres" --version) ready on 127.0.0.1:$PG_PORT (pid $(head -1 "$PGDATA_DIR/postmaster.pid"))"
			return 0
		fi
		log "postgres did not start on port $PG_PORT (attempt $attempt); log:"
		tail -n 20 "$pgroot/postgres.log" >&2 || true
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
	done
	die "postgres failed to start"
}

stop_postgres() {
	local pgroot pgdata pid
	[ -f "$STATE/postgres.root" ] || return 0
	pgroot="$(cat "$STATE/postgres.root")"
	pgdata="$pgroot/data"
	if [ -f "$pgdata/postmaster.pid" ]; then
		pid="$(head -1 "$pgdata/postmaster.pid")"
		PG_BIN="$(pg_bin_dir)" || PG_BIN=""
		if [ -n "$PG_BIN" ] && ours "$pid" "$pgdata"; then
			log "stopping postgres (pid $pid)"
			as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 ||
				as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
		fi
		if ours "$pid" "$pgdata"; then
			log "postgres (pid $pid) still running; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	case "$pgroot" in
	"$STATE"/*) ;; # removed with $STATE
	/tmp/otelaudit-pg.*) rm -rf "$pgroot" ;;
	esac
}

postgres_healthy() {
	local port="$1"
	local ready
	PG_BIN="$(pg_bin_dir)" || return 1
	ready="$PG_BIN/pg_isready"
	# A server-only bin directory (scripts/postgres18.sh) has no client
	# tools; any pg_isready can ask.
	[ -x "$ready" ] || ready="$(command -v pg_isready || ls /usr/lib/postgresql/*/bin/pg_isready 2>/dev/null | head -1)"
	[ -n "$ready" ] && "$ready" -q -h 127.0.0.1 -p "$port" -t 5
}

# -------------------------------------------------------------- ClickHouse

write_clickhouse_config() {
	local dir="$1"
	cat >"$dir/config.xml" <<-EOF
		<?xml version="1.0"?>
		<!-- Generated by scripts/services.sh: a throwaway test server. -->
		<yandex>
		    <logger>
		        <level>information</level>
		        <log>$dir/log/clickhouse-server.log</log>
		        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
		        <size>100M</size>
		        <count>1</count>
		        <console>0</console>
		    </logger>
		    <listen_host>127.0.0.1</listen_host>
		    <tcp_port>$CH_TCP_PORT</tcp_port>
		    <http_port>$CH_HTTP_PORT</http_port>
		    <max_connections>1024</max_connections>
		    <keep_alive_timeout>3</keep_alive_timeout>
		    <max_concurrent_queries>200</max_concurrent_queries>
		    <uncompressed_cache_size>268435456</uncompressed_cache_size>
		    <mark_cache_size>268435456</mark_cache_size>
		    <path>$dir/data/</path>
		    <tmp_path>$dir/tmp/</tmp_path>
		    <user_files_path>$dir/user_files/</user_files_path>
		    <format_schema_path>$dir/format_schemas/</format_schema_path>
		    <users_config>$dir/users.xml</users_config>
		    <default_profile>default</default_profile>
		    <default_database>default</default_database>
		    <timezone>UTC</timezone>
		    <mlock_executable>false</mlock_executable>
		    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
		    <max_session_timeout>3600</max_session_timeout>
		    <default_session_timeout>60</default_session_timeout>
		</yandex>
	EOF
	# Our own users file rather than /etc/clickhouse-server/users.xml, so a
	# locally edited system config cannot change the tests.
	cat >"$dir/users.xml" <<-EOF
		<?xml version="1.0"?>
		<yandex>
		    <profiles>
		        <default>
		            <max_memory_usage>4000000000</max_memory_usage>
		            <use_uncompressed_cache>0</use_uncompressed_cache>
		            <load_balancing>random</load_balancing>
		        </default>
		    </profiles>
		    <users>
		        <default>
		            <password></password>
		            <networks>
		                <ip>127.0.0.1</ip>
		                <ip>::1</ip>
		            </networks>
		            <profile>default</profile>
		            <quota>default</quota>
		        </default>
		    </users>
		    <quotas>
		        <default>
		            <interval>
		                <duration>3600</duration>
		                <queries>0</queries>
		                <errors>0</errors>
		                <result_rows>0</result_rows>
		                <read_rows>0</read_rows>
		                <execution_time>0</execution_time>
		            </interval>
		        </default>
		    </quotas>
		</yandex>
	EOF
}

clickhouse_answers() {
	timeout 10 "$CH_CLIENT" --host 127.0.0.1 --port "$1" -q 'SELECT version()' </dev/null 2>/dev/null
}

start_clickhouse() {
	ensure_clickhouse
	local dir="$STATE/clickhouse" attempt pid deadline version
	for attempt in 1 2 3; do
		rm -rf "$dir"
		mkdir -p "$dir/log" "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
		pick_port
		CH_TCP_PORT="$PORT"
		pick_port
		CH_HTTP_PORT="$PORT"
		write_clickhouse_config "$dir"
		# setsid: its own session, so a terminal's signals reach it only
		# through stop. stdio closed/redirected so no caller's pipe is held.
		setsid "$CH_SERVER" --config-file="$dir/config.xml" </dev/null >>"$dir/log/stdout.log" 2>&1 &
		pid=$!
		echo "$pid" >"$STATE/clickhouse.pid"
		deadline=$((SECONDS + TIMEOUT))
		while :; do
			if version="$(clickhouse_answers "$CH_TCP_PORT")"; then
				log "clickhouse $version ready on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT, pid $pid)"
				return 0
			fi
			if ! alive "$pid"; then
				log "clickhouse-server exited during startup (attempt $attempt); log:"
				tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
				break
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				log "clickhouse did not answer within ${TIMEOUT}s; log:"
				tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
				stop_clickhouse
				die "clickhouse failed to start"
			fi
			sleep 0.2
		done
	done
	die "clickhouse failed to start"
}

stop_clickhouse() {
	local pid
	[ -f "$STATE/clickhouse.pid" ] || return 0
	pid="$(cat "$STATE/clickhouse.pid")"
	if ours "$pid" "$STATE/clickhouse/config.xml"; then
		log "stopping clickhouse (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 150); do # 30 s
			ours "$pid" "$STATE/clickhouse/config.xml" || break
			sleep 0.2
		done
		if ours "$pid" "$STATE/clickhouse/config.xml"; then
			log "clickhouse (pid $pid) ignored SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do
				alive "$pid" || break
				sleep 0.1
			done
		fi
	fi
	rm -f "$STATE/clickhouse.pid"
}

# ------------------------------------------------------------------ docker

docker_compose() { docker compose -f "$ROOT/docker-compose.yml" -p "$COMPOSE_PROJECT" "$@"; }

start_docker() {
	docker info >/dev/null 2>&1 || die "OTELAUDIT_SERVICES_MODE=docker, but no Docker engine answers (docker info failed)"
	echo docker >"$STATE/mode"
	log "docker compose up -d --wait postgres clickhouse"
	docker_compose up -d --wait postgres clickhouse >&2
	PG_PORT=5432 CH_TCP_PORT=9000 CH_HTTP_PORT=8123
	PG_BIN="$(pg_bin_dir 2>/dev/null || true)"
	CH_CLIENT_CMD="docker compose -f $ROOT/docker-compose.yml -p $COMPOSE_PROJECT exec -T clickhouse clickhouse-client --host 127.0.0.1 --port 9000"
}

# --------------------------------------------------------------------- env

# export_line NAME VALUE prints `export NAME='VALUE'`, single-quoted for sh.
export_line() { printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }

write_env() {
	local f="$STATE/env"
	{
		echo "# Generated by scripts/services.sh at $(date -u +%Y-%m-%dT%H:%M:%SZ); source it."
		export_line OTELAUDIT_TEST_POSTGRES_DSN "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
		export_line OTELAUDIT_TEST_POSTGRES_BIN "$PG_BIN"
		export_line OTELAUDIT_TEST_CLICKHOUSE_DSN "clickhouse://default@127.0.0.1:$CH_TCP_PORT/default"
		export_line OTELAUDIT_TEST_CLICKHOUSE_HTTP "127.0.0.1:$CH_HTTP_PORT"
		export_line OTELAUDIT_TEST_CLICKHOUSE_CLIENT "$CH_CLIENT_CMD"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

# env_value NAME reads one variable from $STATE/env.
env_value() {
	(
		set +u
		# shellcheck disable=SC1091
		. "$STATE/env"
		eval "printf '%s' \"\${$1}\""
	)
}

healthy() {
	[ -f "$STATE/env" ] || return 1
	if [ "$(cat "$STATE/mode" 2>/dev/null || echo native)" = docker ]; then
		docker_compose ps --status running -q clickhouse 2>/dev/null | grep -q . &&
			docker_compose ps --status running -q postgres 2>/dev/null | grep -q .
		return
	fi
	local dsn pg_port ch_port
	dsn="$(env_value OTELAUDIT_TEST_POSTGRES_DSN)"
	pg_port="${dsn#*127.0.0.1:}"
	pg_port="${pg_port%%/*}"
	ch_port="$(env_value OTELAUDIT_TEST_CLICKHOUSE_DSN)"
	ch_port="${ch_port#*127.0.0.1:}"
	ch_port="${ch_port%%/*}"
	CH_CLIENT="$(ch_client_bin)" || return 1
	postgres_healthy "$pg_port" && clickhouse_answers "$ch_port" >/dev/null
}

# ---------------------------------------------------------------- commands

MARKER=".otelaudit-services"

on_start_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		log "start failed; cleaning up"
		cmd_stop || true
	fi
	exit "$rc"
}

cmd_start() {
	if [ -d "$STATE" ]; then
		if healthy; then
			log "already running (state in $STATE); reusing"
			return 0
		fi
		if [ -e "$STATE/$MARKER" ]; then
			log "stale state in $STATE; cleaning up first"
		fi
		cmd_stop
	fi
	mkdir -p "$STATE"
	touch "$STATE/$MARKER"
	# The postgres user must be able to traverse it (see start_postgres).
	chmod 0755 "$STATE"
	local t0=$SECONDS
	# Any failure from here on leaves nothing running behind.
	trap on_start_exit EXIT

	if [ "$MODE" = docker ]; then
		start_docker
	else
		[ "$MODE" = native ] || die "OTELAUDIT_SERVICES_MODE must be native or docker, not $MODE"
		echo native >"$STATE/mode"
		# The installs first, so one apt-get update serves them all.
		ensure_postgres
		ensure_clickhouse
		ensure_zookeeper
		start_postgres
		start_clickhouse
		CH_CLIENT_CMD="$CH_CLIENT --host 127.0.0.1 --port $CH_TCP_PORT"
	fi
	write_env
	trap - EXIT
	log "started in $((SECONDS - t0))s; env in $STATE/env"
}

cmd_stop() {
	[ -d "$STATE" ] || return 0
	if [ ! -e "$STATE/$MARKER" ]; then
		# Not made by us: remove it only if it is empty (with-services.sh
		# hands us a fresh mktemp directory).
		rmdir "$STATE" 2>/dev/null || die "$STATE exists but was not created by scripts/services.sh; not touching it"
		return 0
	fi
	if [ "$(cat "$STATE/mode" 2>/dev/null || echo native)" = docker ]; then
		log "docker compose down -v"
		docker_compose down -v >&2 || true
	else
		stop_clickhouse
		stop_postgres
	fi
	rm -rf "$STATE"
}

cmd_env() {
	[ -f "$STATE/env" ] || die "no services running for $STATE; run: scripts/services.sh start"
	cat "$STATE/env"
}

cmd_status() {
	if healthy; then
		log "running (state in $STATE)"
	else
		log "not running (state in $STATE)"
		return 1
	fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
status) cmd_status ;;
*)
	echo "usage: $0 start|stop|env|status" >&2
	exit 2
	;;
esac
