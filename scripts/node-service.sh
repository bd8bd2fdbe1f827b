#!/usr/bin/env bash
# Build examples/node-service, the TypeScript service of the examples:
#
#   scripts/node-service.sh build    install its npm packages when needed, compile
#   scripts/node-service.sh check    exit 0 when node and npm are on the PATH
#
# node and npm come from the PATH; when either is missing and we are root,
# Debian's nodejs and npm packages are installed with apt-get (any Node 18.19
# or later works). The packages are installed with `npm ci` from the
# committed package-lock.json into examples/node-service/node_modules (not
# committed), and again only when the lock file changes; npm keeps its own
# download cache. Then `npm run build` compiles src/ to dist/ with tsc.
# Concurrent runs wait for each other (flock).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/examples/node-service"

log() { printf 'node-service: %s\n' "$*" >&2; }
die() {
	printf 'node-service: error: %s\n' "$*" >&2
	exit 1
}

have_node() { command -v node >/dev/null && command -v npm >/dev/null; }

ensure_node() {
	have_node && return 0
	[ "$(id -u)" = 0 ] || die "node and npm are needed; install Node.js 18.19 or later (sudo apt-get install -y nodejs npm)"
	command -v apt-get >/dev/null || die "node and npm are needed and there is no apt-get to install them"
	log "apt-get install nodejs npm"
	apt-get update >&2 || log "warning: apt-get update failed; trying the install anyway"
	DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm >&2 </dev/null
	have_node || die "nodejs and npm installed, but node or npm is still not on the PATH"
}

build() {
	ensure_node
	cd "$DIR"
	exec 9>"$DIR/.build.lock"
	flock 9
	local want have=""
	want="$(sha256sum package-lock.json | cut -d' ' -f1)"
	[ -f node_modules/.otelaudit-lock-sha256 ] && have="$(cat node_modules/.otelaudit-lock-sha256)"
	if [ "$want" != "$have" ]; then
		log "npm ci ($(node --version))"
		npm ci --no-audit --no-fund --loglevel=error >&2
		echo "$want" >node_modules/.otelaudit-lock-sha256
	fi
	npm run --silent build >&2
}

case "${1:-}" in
build) build ;;
check) have_node ;;
*)
	echo "usage: $0 build|check" >&2
	exit 2
	;;
esac
