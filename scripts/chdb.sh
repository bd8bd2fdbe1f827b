#!/usr/bin/env bash
# libchdb.so for the tests on modern ClickHouse: ClickHouse 26.5 embedded
# as a library (chDB), from the npm package @chdb/lib-linux-x64-gnu at a
# pinned version, kept in a cache directory so that later runs only check
# it.
#
#   scripts/chdb.sh lib    print the path of libchdb.so, installing it first
#                          when the cache does not hold it
#
# The cache is $OTELAUDIT_CHDB_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/otelaudit/chdb-<version>. npm is
# installed with apt-get when missing and we are root. Any failure is an
# error (exit 1): make test must not go green without the library.
# Everything but the path is logged to stderr.
set -euo pipefail

CHDB_NPM_PACKAGE="@chdb/lib-linux-x64-gnu"
CHDB_VERSION="26.5.3"
DIR="${OTELAUDIT_CHDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otelaudit/chdb-$CHDB_VERSION}"
LIB="$DIR/node_modules/$CHDB_NPM_PACKAGE/libchdb.so"

log() { printf 'chdb: %s\n' "$*" >&2; }
die() {
	printf 'chdb: error: %s\n' "$*" >&2
	exit 1
}

ensure_npm() {
	command -v npm >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "npm is not installed and we are not root; install it with: sudo apt-get install -y npm"
	command -v apt-get >/dev/null || die "npm is not installed and there is no apt-get to install it"
	log "apt-get install npm"
	apt-get update >&2 || log "warning: apt-get update failed; trying the install anyway"
	DEBIAN_FRONTEND=noninteractive apt-get install -y npm >&2 </dev/null
	command -v npm >/dev/null 2>&1 || die "npm installed, but not on PATH"
}

install() {
	ensure_npm
	mkdir -p "$(dirname "$DIR")"
	local tmp
	tmp="$(mktemp -d "$(dirname "$DIR")/.chdb-install.XXXXXX")"
	# shellcheck disable=SC2064 # expand tmp now
	trap "rm -rf '$tmp'" EXIT
	log "npm install $CHDB_NPM_PACKAGE@$CHDB_VERSION into $DIR (about 160 MiB to download, 530 MiB unpacked)"
	npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock \
		"$CHDB_NPM_PACKAGE@$CHDB_VERSION" >&2 </dev/null ||
		die "npm install $CHDB_NPM_PACKAGE@$CHDB_VERSION failed"
	[ -s "$tmp/node_modules/$CHDB_NPM_PACKAGE/libchdb.so" ] ||
		die "$CHDB_NPM_PACKAGE@$CHDB_VERSION holds no libchdb.so"
	rm -rf "$DIR"
	mv "$tmp" "$DIR"
	trap - EXIT
}

cmd_lib() {
	if [ ! -s "$LIB" ]; then
		install
	fi
	[ -s "$LIB" ] || die "no libchdb.so at $LIB"
	printf '%s\n' "$LIB"
}

case "${1:-}" in
lib) cmd_lib ;;
*)
	echo "usage: $0 lib" >&2
	exit 2
	;;
esac
