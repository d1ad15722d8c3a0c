#!/usr/bin/env bash
# Checks the code (scripts/lint.sh: gofmt, go vet, staticcheck), then runs
# every test of latch with the race detector against throwaway PostgreSQL
# and Redis servers. Installs the servers (and Chromium, for the browser
# tests) with apt-get where they are missing. Set TEST_DATABASE_URL and
# TEST_REDIS_URL to use servers of your own instead. Arguments are passed to
# go test in place of ./... (and skip the lint step, and the tests of the
# rs and deploy modules, each tested from its own directory, and the
# microbenchmarks, which a full run runs once each so they never rot; `go
# test -run '^$' -bench . -benchmem PKG` measures them).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
. scripts/services.sh

extra=()
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  extra+=(chromium)
fi
start_services "${extra[@]}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

if [ $# -eq 0 ]; then
  ./scripts/lint.sh
  (cd rs && go test -race -count=1 ./...)
  (cd deploy && go test -race -count=1 ./...)
  set -- ./...
fi
go test -race -count=1 -timeout 20m "$@"
if [ "$*" = "./..." ]; then
  # One iteration of every microbenchmark: they must keep compiling and
  # working. The figures of a run this short mean nothing.
  mapfile -t benched < <(grep -rl --include='*_test.go' '^func Benchmark' . | grep -v '^\./rs/' | xargs -n1 dirname | sort -u)
  go test -race -count=1 -run '^$' -bench . -benchtime 1x "${benched[@]}" | grep -E '^(Benchmark|FAIL|ok|---)'
  (cd rs && go test -race -count=1 -run '^$' -bench . -benchtime 1x ./... | grep -E '^(Benchmark|FAIL|ok)')
fi
