#!/usr/bin/env bash
# Runs every test of latch against throwaway PostgreSQL and Redis servers.
# Installs the servers (and Chromium, for the browser tests) with apt-get
# where they are missing. Set TEST_DATABASE_URL and TEST_REDIS_URL to use
# servers of your own instead.
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

if [ $# -eq 0 ]; then set -- ./...; fi
go test -count=1 -timeout 20m "$@"
