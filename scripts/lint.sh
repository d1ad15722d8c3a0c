#!/usr/bin/env bash
# Checks the Go code: gofmt, go vet and staticcheck (configured in
# staticcheck.conf). Installs the pinned staticcheck with `go install` when
# it is missing or another version.
set -euo pipefail
cd "$(dirname "$0")/.."

staticcheck_version=0.8.2
bin="$(go env GOPATH)/bin/staticcheck"
if ! "$bin" -version 2>/dev/null | grep -qF "($staticcheck_version)"; then
  echo "installing staticcheck $staticcheck_version"
  go install "honnef.co/go/tools/cmd/staticcheck@v$staticcheck_version"
fi

out=$(gofmt -l .)
if [ -n "$out" ]; then
  echo "gofmt would change:"
  echo "$out"
  exit 1
fi
# rs and deploy are Go modules of their own (rs/go.mod, deploy/go.mod):
# ./... stops at them.
for dir in . rs deploy; do
  (cd "$dir" && go vet ./... && "$bin" ./...)
done
echo "lint: gofmt, go vet and staticcheck found nothing"
