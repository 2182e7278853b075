#!/usr/bin/env bash
# The tools the chart's tests need, idempotently:
# - helm, built from its Go module (no release binary is downloaded) into .roster/bin/helm,
#   with the same GOCACHE/GOMODCACHE under .roster/go as controlplane/build.sh; a stamp
#   records the pin, so nothing rebuilds unless HELM_VERSION changes;
# - lua5.4 from Debian, to run the Argo CD health checks (deploy/argocd) in the unit tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

HELM_VERSION=v4.3.1

state="$root/.roster"
bin="$state/bin"
export GOCACHE="$state/go/cache"
export GOMODCACHE="$state/go/mod"
export GOFLAGS="-buildvcs=false -mod=mod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
mkdir -p "$bin" "$GOCACHE" "$GOMODCACHE"

log() { echo "[setup-helm] $*" >&2; }

stamp="$bin/.helm-version"
if [[ -x "$bin/helm" && -f "$stamp" && "$(cat "$stamp")" == "$HELM_VERSION" ]]; then
  echo "helm up to date ($HELM_VERSION)"
else
  major=${HELM_VERSION%%.*}
  module="helm.sh/helm/$major"
  log "building $module/cmd/helm@$HELM_VERSION"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # `go install pkg@version` would do, but a throwaway module lets us stamp the version
  # with -ldflags exactly as helm's own Makefile does.
  (
    cd "$work"
    go mod init roster.dev/tools/helm >/dev/null 2>&1
    go get "$module@$HELM_VERSION"
    go build -trimpath \
      -ldflags "-s -w -X $module/internal/version.version=$HELM_VERSION -X $module/internal/version.gitTreeState=clean" \
      -o "$bin/helm.new" "$module/cmd/helm"
  )
  mv "$bin/helm.new" "$bin/helm"
  echo "$HELM_VERSION" > "$stamp"
  log "built $("$bin/helm" version --short)"
fi

if ! command -v lua5.4 >/dev/null 2>&1; then
  log "installing lua5.4 (apt)"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.4 >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.4 >/dev/null
  fi
fi
echo "lua5.4 $(lua5.4 -v 2>&1 | head -n1)"
