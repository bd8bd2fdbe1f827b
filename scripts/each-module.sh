#!/usr/bin/env bash
# Run a command in the root Go module and in every nested Go module:
#
#   scripts/each-module.sh go vet ./...
#   scripts/each-module.sh --list
#
# A nested module is any directory below the root, other than .git, .services,
# vendor and testdata trees, that holds a go.mod (today bench/).
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

# Package patterns among the arguments (./...-style): a nested module in
# which they match nothing is skipped, so that `make test PKGS=./bridge/...`
# does not fail in the modules that have no bridge/.
pats=()
for a in "$@"; do
	case "$a" in ./*) pats+=("$a") ;; esac
done

mapfile -t mods < <(modules)
failed=()
for mod in "${mods[@]}"; do
	if [ "$mod" != . ] && [ ${#pats[@]} -gt 0 ] && ! (cd "$mod" && go list "${pats[@]}" >/dev/null 2>&1); then
		echo "==> $mod: no packages match ${pats[*]}; skipped" >&2
		continue
	fi
	echo "==> $mod: $*" >&2
	if ! (cd "$mod" && "$@"); then
		failed+=("$mod")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "==> FAILED in: ${failed[*]}" >&2
	exit 1
fi
