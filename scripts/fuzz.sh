#!/usr/bin/env bash
# Runs every native Go fuzz target of latch (func FuzzXxx) for FUZZTIME
# each (default 30s), one after another, against throwaway PostgreSQL and
# Redis servers (scripts/services.sh; TEST_DATABASE_URL and TEST_REDIS_URL
# use servers of your own), as the targets in internal/server start a latch.
# `make test` runs only the seed corpora. Arguments are packages to fuzz in
# place of ./... ; FUZZ, a regular expression, picks targets by name. An input that fails is written to the package's
# testdata/fuzz/FuzzXxx/ and stays there as a seed once the bug is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
services_name=fuzz
# shellcheck source=scripts/services.sh
. scripts/services.sh
start_services

fuzztime="${FUZZTIME:-30s}"
pattern="${FUZZ:-.}"
[ $# -eq 0 ] && set -- ./...

failed=()
for pkg in $(go list "$@"); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$pattern" || true); do
    echo "== $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      failed+=("$pkg $target")
    fi
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
