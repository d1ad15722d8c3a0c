#!/usr/bin/env bash
# Prints latch's performance figures (ROADMAP "Performance"): builds
# bin/latch, runs it against throwaway PostgreSQL and Redis servers (see
# scripts/services.sh; TEST_DATABASE_URL and TEST_REDIS_URL use servers of
# your own), registers a service client, a first-party public client and a
# user with the latch CLI, records latch's idle RSS, and drives it with the
# load generator in internal/bench: once with RS256 access tokens, then
# client_credentials again with ES256, followed by a soak: mixed traffic
# at 80% of its measured capacity for SOAK (default 3m; 0 skips it).
# BENCH_DURATION (default 5s) is the measured time of each scenario, at
# each of BENCH_CONNECTIONS (default 16,64) concurrent connections. The
# figures are also written as JSON to BENCH_JSON (default
# bench-results/DATE.json), which `make bench-compare A=old.json
# B=new.json` compares with another run. BENCH_PROFILE=DIR also saves a
# CPU profile of latch over each scenario's measured window in DIR (latch
# runs with its profiler on; read one with `go tool pprof -top FILE`).
# BENCH_SCENARIOS=jwks,discovery runs only those, with BENCH_ALG access
# tokens (default RS256; the names: crypto, client_credentials,
# introspection, refresh, jwks, discovery, code_flow, flood, bare). flood
# signs in BENCH_FLOOD (default 500) users at once while it measures
# client_credentials and latch's RSS. bare measures `bench bare`, a bare
# net/http server doing the least work of client_credentials (ES256),
# introspection, JWKS and discovery with the libraries latch uses: what
# those cost on this machine before any of latch's own work, and sets
# latch's CPU per request of the same run beside it (a ratio that holds on
# a busy machine where the figures themselves do not); a full run measures
# it last.
set -euo pipefail
cd "$(dirname "$0")/.."
services_name=bench
# shellcheck source=scripts/services.sh
. scripts/services.sh

duration="${BENCH_DURATION:-5s}"
connections="${BENCH_CONNECTIONS:-16,64}"
json="${BENCH_JSON:-bench-results/$(date -u +%Y%m%d-%H%M%S).json}"
rm -f "$json"
soak="${SOAK:-3m}"
flood="${BENCH_FLOOD:-500}"

latch_pid=""
# start_latch ALG starts latch with access tokens signed with ALG and
# waits until /healthz answers.
start_latch() {
  LATCH_ACCESS_TOKEN_ALG="$1" bin/latch serve >"$tmp/latch-$1.log" 2>&1 &
  latch_pid=$!
  pids+=("$latch_pid")
  for _ in $(seq 300); do
    if ! kill -0 "$latch_pid" 2>/dev/null; then
      echo "latch exited at start:" >&2
      tail -n 20 "$tmp/latch-$1.log" >&2
      exit 1
    fi
    # shellcheck disable=SC2015
    ( exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && IFS= read -r -t 2 line <&3 && [[ "$line" == HTTP/1.?" 200"* ]] ) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "latch did not answer /healthz within 30s:" >&2
  tail -n 20 "$tmp/latch-$1.log" >&2
  exit 1
}

stop_latch() {
  [ -n "$latch_pid" ] || return 0
  kill -TERM "$latch_pid" 2>/dev/null || true
  wait "$latch_pid" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$latch_pid" ] || keep+=("$p"); done
  pids=("${keep[@]}")
  latch_pid=""
}

start_services
trap 'stop_latch; [ -z "${db_url:-}" ] || "$tmp/bench" cleanup "$db_url" "$redis_url" >/dev/null 2>&1 || true; cleanup_services' EXIT

echo "latch bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo)"
echo "$(go version | sed 's/^go version //'); PostgreSQL and Redis on loopback (fsync off)"
echo "latch, PostgreSQL, Redis and the load generator all share these $(nproc) cores,"
echo "as the roadmap's peer figures were measured. Load average before the bench: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(anything above 0 means other work shares the cores and lowers the figures)."

make --no-print-directory -s build
go build -o "$tmp/bench" ./internal/bench

urls=$("$tmp/bench" prepare)
db_url=$(sed -n 1p <<<"$urls")
redis_url=$(sed -n 2p <<<"$urls")
port=$(free_port)
export LATCH_ISSUER="http://127.0.0.1:$port" LATCH_LISTEN="127.0.0.1:$port"
export LATCH_DATABASE_URL="$db_url" LATCH_REDIS_URL="$redis_url"
LATCH_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export LATCH_SECRET LATCH_HIBP=off LATCH_LOG_LEVEL=warn LATCH_SMTP=stdout
# Every login succeeds, but all come from one IP: keep the limits out of
# the way.
export LATCH_LOGIN_LIMIT_ACCOUNT=1000000 LATCH_LOGIN_LIMIT_IP=1000000

bin/latch migrate >/dev/null
service=$(bin/latch clients create <<'EOF'
{"client_id": "bench-service", "client_name": "bench service",
 "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}
EOF
)
secret=$(sed -n 's/^ *"client_secret": *"\([^"]*\)".*/\1/p' <<<"$service")
[ -n "$secret" ] || { echo "no client_secret in: $service" >&2; exit 1; }
redirect_uri="http://127.0.0.1/callback"
bin/latch clients create >/dev/null <<EOF
{"client_id": "bench-spa", "client_name": "bench SPA", "first_party": true,
 "redirect_uris": ["$redirect_uri"], "grant_types": ["authorization_code", "refresh_token"],
 "scope": "openid profile email offline_access", "token_endpoint_auth_method": "none"}
EOF
# The same, with ES256 ID tokens (id_token_signed_response_alg): a refresh
# then makes no RSA signature.
bin/latch clients create >/dev/null <<EOF
{"client_id": "bench-spa-es", "client_name": "bench SPA, ES256 ID tokens", "first_party": true,
 "redirect_uris": ["$redirect_uri"], "grant_types": ["authorization_code", "refresh_token"],
 "scope": "openid profile email offline_access", "token_endpoint_auth_method": "none",
 "id_token_signed_response_alg": "ES256"}
EOF
email=bench@example.com
password="bench-$(head -c 18 /dev/urandom | base64 -w0 | tr '+/' '-_')"
bin/latch users create --email "$email" --password-stdin >/dev/null <<<"$password"

if [ -n "${BENCH_PROFILE:-}" ]; then
  mport=$(free_port)
  export LATCH_METRICS_LISTEN="127.0.0.1:$mport" LATCH_PPROF=on
  profile=(-pprof "http://127.0.0.1:$mport" -profile-dir "$BENCH_PROFILE")
else
  profile=()
fi

bench=("$tmp/bench" -issuer "$LATCH_ISSUER" -duration "$duration" -connections "$connections" -json "$json" "${profile[@]}"
  -client-id bench-service -client-secret "$secret"
  -public-client-id bench-spa -redirect-uri "$redirect_uri"
  -email "$email" -password "$password")

# run_bare measures `bench bare` on the same Redis, with the same client
# and latch's own JWKS and discovery document; latch is running when it is
# called, and is stopped once the bare server has its documents. Its
# argument says whether to print the table's header.
run_bare() {
  : >"$tmp/bare.out"
  "$tmp/bench" bare -redis "$redis_url" -client-id bench-service -client-secret "$secret" -like "$LATCH_ISSUER" >"$tmp/bare.out" 2>&1 &
  local pid=$! url=""
  pids+=("$pid")
  for _ in $(seq 100); do
    url=$(head -n 1 "$tmp/bare.out")
    [ -z "$url" ] || break
    sleep 0.1
  done
  [[ "$url" == http://* ]] || { echo "bench bare did not start: $(cat "$tmp/bare.out")" >&2; exit 1; }
  stop_latch
  sleep 1
  "$tmp/bench" -bare -issuer "$url" -duration "$duration" -connections "$connections" -json "$json" \
    -client-id bench-service -client-secret "$secret" -alg ES256 -pid "$pid" -table-header="$1" \
    -idle-rss-kb "$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" -scenarios client_credentials,introspection,jwks,discovery
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

echo
start_latch RS256
sleep 1 # let start-up work (key generation, first queries) settle
idle_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$latch_pid/status")
if [ -n "${BENCH_SCENARIOS:-}" ]; then
  alg="${BENCH_ALG:-RS256}"
  scenarios=",$BENCH_SCENARIOS,"
  bare=""
  if [[ "$scenarios" == *,bare,* ]]; then
    bare=1
    scenarios="${scenarios//,bare,/,}"
  fi
  scenarios="${scenarios#,}"
  scenarios="${scenarios%,}"
  if [ -n "$scenarios" ]; then
    if [ "$alg" != RS256 ]; then
      stop_latch
      start_latch "$alg"
    fi
    "${bench[@]}" -alg "$alg" -idle-rss-kb "$idle_kb" -pid "$latch_pid" -scenarios "$scenarios" -flood "$flood"
  fi
  if [ -n "$bare" ]; then
    if [ -n "$scenarios" ]; then run_bare false; else run_bare true; fi
  fi
  stop_latch
else
  "${bench[@]}" -alg RS256 -idle-rss-kb "$idle_kb" -pid "$latch_pid" -scenarios crypto,client_credentials,introspection,refresh,jwks,discovery,code_flow
  stop_latch
  start_latch ES256
  "${bench[@]}" -alg ES256 -scenarios refresh -public-client-id bench-spa-es -id-token-alg ES256 -table-header=false -pid "$latch_pid"
  "${bench[@]}" -alg ES256 -scenarios crypto,client_credentials,refresh,flood -flood "$flood" -table-header=false -pid "$latch_pid" -soak "$soak"
  run_bare false
fi

for alg in RS256 ES256; do
  [ -f "$tmp/latch-$alg.log" ] || continue
  if grep -q '"level":"ERROR"\|"level":"WARN"' "$tmp/latch-$alg.log"; then
    echo
    echo "latch ($alg) logged warnings or errors; the first few:"
    grep '"level":"ERROR"\|"level":"WARN"' "$tmp/latch-$alg.log" | head -n 5
  fi
done
echo
echo "figures written to $json (compare two runs: make bench-compare A=old.json B=$json)"
