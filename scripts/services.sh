# shellcheck shell=bash
# Throwaway PostgreSQL and Redis servers for scripts/test.sh and
# scripts/bench.sh, which source this file and then call
#
#   start_services [EXTRA_APT_PACKAGE...]
#
# It installs what is missing with apt-get (the servers, plus the extra
# packages given), starts PostgreSQL and Redis on free loopback ports in a
# temporary directory ($tmp), exports TEST_DATABASE_URL and TEST_REDIS_URL,
# and stops everything and removes $tmp when the script exits. A
# TEST_DATABASE_URL or TEST_REDIS_URL already set is used as is, and that
# server is neither installed nor started. Background processes the caller
# starts itself may be added to pids=() to be stopped on exit too.
#
# $pg_bin is PostgreSQL's bin directory when it is installed here.

pg_bin=""
pids=()
tmp=""

find_pg() {
  pg_bin=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && pg_bin="$d"
  done
  return 0
}

# PostgreSQL refuses to run as root: run it as the postgres user when root.
run_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# free_port picks a port below the kernel's ephemeral range, so that no
# outgoing connection holds it by the time a server binds it.
free_port() {
  local p lo
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$lo" -gt 11000 ] || lo=32768
  while :; do
    p=$(( (RANDOM % (lo - 11000)) + 10000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

cleanup_services() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${pg_started:-}" ]; then
    run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  [ -z "$tmp" ] || rm -rf "$tmp"
}

start_services() {
  local need=("$@") port
  if [ -z "${TEST_DATABASE_URL:-}" ]; then
    find_pg
    [ -n "$pg_bin" ] || need+=(postgresql)
  fi
  if [ -z "${TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then
    need+=(redis-server)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
    find_pg
  fi

  tmp=$(mktemp -d "/tmp/latch-${services_name:-test}.XXXXXX")
  chmod 755 "$tmp"
  trap cleanup_services EXIT
  trap 'exit 130' INT TERM

  if [ -z "${TEST_DATABASE_URL:-}" ]; then
    mkdir -p "$tmp/pg"
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$tmp/pg"; }
    run_pg "$pg_bin/initdb" -D "$tmp/pg" -U latch --auth=trust -E UTF8 >/dev/null
    # A port can still be taken between the check and the bind: try others.
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/log" -w \
        -o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" start >/dev/null; then
        pg_started=1
        break
      fi
      [ "$attempt" -lt 5 ] || { echo "PostgreSQL did not start:"; cat "$tmp/pg/log"; exit 1; }
    done
    export TEST_DATABASE_URL="postgres://latch@127.0.0.1:$port/postgres?sslmode=disable"
  fi
  if [ -z "${TEST_REDIS_URL:-}" ]; then
    # A port can still be taken between the check and the bind: try others.
    local up="" pid
    for _ in 1 2 3 4 5; do
      port=$(free_port)
      redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --databases 1000 --dir "$tmp" >"$tmp/redis.log" 2>&1 &
      pid=$!
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }
        sleep 0.1
      done
      [ -n "$up" ] && { pids+=("$pid"); break; }
      kill "$pid" 2>/dev/null || true
    done
    [ -n "$up" ] || { echo "redis-server did not start:"; cat "$tmp/redis.log"; exit 1; }
    export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  fi
}
