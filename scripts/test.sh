#!/usr/bin/env bash
# Runs every test of latch against throwaway PostgreSQL and Redis servers.
# Installs the servers (and Chromium, for the browser tests) with apt-get
# where they are missing. Set TEST_DATABASE_URL and TEST_REDIS_URL to use
# servers of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
pg_bin=""
find_pg() {
  pg_bin=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && pg_bin="$d"
  done
  return 0
}
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  find_pg
  [ -n "$pg_bin" ] || need+=(postgresql)
fi
if [ -z "${TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then
  need+=(redis-server)
fi
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
  find_pg
fi

tmp=$(mktemp -d /tmp/latch-test.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  if [ -n "${pg_started:-}" ]; then
    run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# PostgreSQL refuses to run as root: run it as the postgres user when root.
run_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local p
  while :; do
    p=$(( (RANDOM % 20000) + 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  port=$(free_port)
  mkdir -p "$tmp/pg"
  [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$tmp/pg"; }
  run_pg "$pg_bin/initdb" -D "$tmp/pg" -U latch --auth=trust -E UTF8 >/dev/null
  run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/log" -w \
    -o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" start >/dev/null
  pg_started=1
  export TEST_DATABASE_URL="postgres://latch@127.0.0.1:$port/postgres?sslmode=disable"
fi
if [ -z "${TEST_REDIS_URL:-}" ]; then
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --databases 1000 --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
fi
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

if [ $# -eq 0 ]; then set -- ./...; fi
go test -count=1 -timeout 20m "$@"
