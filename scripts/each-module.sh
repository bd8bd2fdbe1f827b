#!/usr/bin/env bash
# Run a command in the root Go module and in every nested Go module:
#
#   scripts/each-module.sh go vet ./...
#   scripts/each-module.sh --list
#
# A nested module is any directory below the root, other than .git, .services,
# vendor and testdata trees, that holds a go.mod (today bench/ and
# exporter/autoexport/).
# Every module is run even when an earlier one fails; the exit code is 1 if
# any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

modules() {
	echo .
	find . \( -name .git -o -name .services -o -name vendor -o -name testdata -o -name node_modules \) -prune \
		-o -name go.mod -type f -print |
		sed -e 's|/go.mod$||' | grep -vx '\.' | LC_ALL=C sort
}

if [ "${1:-}" = --list ]; then
	modules
	exit 0
fi
if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...] | --list" >&2
	exit 2
fi

# Package patterns among the arguments (./...-style) are relative to the
# root: in a nested module they are rewritten relative to it, and a module
# they do not reach is skipped, and so is the root module when they name
# only packages of nested modules. With PKGS=./exporter/..., the module in
# exporter/autoexport runs ./... and bench/ is skipped; with
# PKGS=./bridge/..., every nested module is skipped.
pats=()
for a in "$@"; do
	case "$a" in ./*) pats+=("$a") ;; esac
done

# in_module MOD PATTERN prints PATTERN relative to module MOD (a path
# like ./bench), or nothing when it names no package of MOD.
in_module() {
	local m="${1#./}" p="${2#./}" rec=""
	p="${p%/}"
	case "$p" in
	... | */...) rec=1; p="${p%...}"; p="${p%/}" ;;
	esac
	if [ -z "$p" ] || [ "$p" = . ]; then
		[ -n "$rec" ] && echo ./...
		return 0
	fi
	if [ "$m" = "$p" ]; then
		if [ -n "$rec" ]; then echo ./...; else echo .; fi
	elif [ "${m#"$p"/}" != "$m" ]; then
		[ -n "$rec" ] && echo ./...
	elif [ "${p#"$m"/}" != "$p" ]; then
		echo "./${p#"$m"/}${rec:+/...}"
	fi
	return 0
}

mapfile -t mods < <(modules)
failed=()
for mod in "${mods[@]}"; do
	args=()
	kept=()
	npats=0
	for a in "$@"; do
		case "$a" in
		./*)
			npats=$((npats + 1))
			r="$a"
			[ "$mod" != . ] && r="$(in_module "$mod" "$a")"
			if [ -n "$r" ]; then
				args+=("$r")
				kept+=("$r")
			fi
			;;
		*) args+=("$a") ;;
		esac
	done
	if [ "$npats" -gt 0 ] && { [ ${#kept[@]} -eq 0 ] || [ -z "$(cd "$mod" && go list "${kept[@]}" 2>/dev/null)" ]; }; then
		echo "==> $mod: no packages match ${pats[*]}; skipped" >&2
		continue
	fi
	echo "==> $mod: ${args[*]}" >&2
	if ! (cd "$mod" && "${args[@]}"); then
		failed+=("$mod")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "==> FAILED in: ${failed[*]}" >&2
	exit 1
fi
