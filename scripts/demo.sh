#!/usr/bin/env bash
# Starts `latch serve --dev` and the three examples (examples/api, spa,
# webapp) on loopback, prints what to open, and stops them all on Ctrl-C or
# when one of them stops. Expects bin/latch (make demo builds it first).
# Their logs go to a temporary directory; latch's console output (logins,
# emails) comes here.
set -euo pipefail
cd "$(dirname "$0")/.."

ports=(8080 8082 8083 8084)
for port in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is in use; stop what listens there first" >&2
    exit 1
  fi
done

go build -o bin/ ./examples/api/cmd/demo-api ./examples/spa/cmd/demo-spa ./examples/webapp/cmd/demo-webapp
logs=$(mktemp -d "${TMPDIR:-/tmp}/latch-demo.XXXXXX")

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  echo "demo: stopped; logs are in $logs"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP

# up waits until the process with pid listens on port.
up() {
  local pid=$1 port=$2 name=$3
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: $name stopped; its log ($logs/$name.log):" >&2
      tail -n 20 "$logs/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "demo: $name does not listen on port $port; see $logs/$name.log" >&2
  exit 1
}

# Each runs in a session of its own (setsid), so Ctrl-C reaches only this
# script, which then stops them in turn; the web app registers itself
# (RFC 7591), so client registration is open.
LATCH_LISTEN=127.0.0.1:8080 LATCH_ISSUER=http://localhost:8080 LATCH_CLIENT_REGISTRATION=open \
  setsid ./bin/latch serve --dev 2>"$logs/latch.log" &
pids+=($!)
up "$!" 8080 latch

setsid ./bin/demo-api 2>"$logs/api.log" &
pids+=($!)
up "$!" 8082 api
setsid ./bin/demo-spa 2>"$logs/spa.log" &
pids+=($!)
up "$!" 8083 spa
setsid ./bin/demo-webapp 2>"$logs/webapp.log" &
pids+=($!)
up "$!" 8084 webapp

cat <<EOT

  latch demo — open in a browser:
    http://localhost:8083   single-page app (first-party: no consent page; calls the API)
    http://localhost:8084   third-party web app (consent page on first sign-in; signs out of latch too)
    http://localhost:8082   the API (GET /me, GET /admin, POST /notes; metadata at /.well-known/oauth-protected-resource)
    http://localhost:8080   latch (account page at /account)

  Sign in as "user login" (role user: GET /admin answers 403) or "admin login" (printed above).
  Logs: $logs    Ctrl-C stops everything.

EOT

# Runs until Ctrl-C, or until one of them stops.
wait -n "${pids[@]}"
echo "demo: a process stopped; see the logs in $logs" >&2
exit 1
