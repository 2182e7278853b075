#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from their Go modules into .roster/bin
# (the KUBEBUILDER_ASSETS layout). Idempotent: a stamp records the pins of the last
# build, so nothing rebuilds unless a pin in versions.env changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

state="$root/.roster"
bin="$state/bin"
work="$state/build"
export GOCACHE="$state/go/cache"
export GOMODCACHE="$state/go/mod"
export GOFLAGS="-buildvcs=false -mod=mod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
mkdir -p "$bin" "$work" "$GOCACHE" "$GOMODCACHE"

stamp="$bin/.versions"
want="kubernetes=$KUBERNETES_VERSION etcd=$ETCD_VERSION"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$bin/kube-apiserver" && -x "$bin/etcd" && -x "$bin/kubectl" && -x "$bin/kube-controller-manager" ]]; then
  echo "control plane binaries up to date ($want)"
  exit 0
fi

log() { echo "[controlplane] $*" >&2; }

# --- kube-apiserver and kubectl --------------------------------------------------------
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, k8s.io/apiserver, ...) with
# local paths, which `go install pkg@version` refuses. A wrapper module that requires it and
# points every staging module at its published v0.X.Y release builds the same code.
k8s_mod="$work/kubernetes"
rm -rf "$k8s_mod" && mkdir -p "$k8s_mod"
log "fetching k8s.io/kubernetes@$KUBERNETES_VERSION go.mod"
gomod=$(cd "$k8s_mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }
staging_version="v0.${KUBERNETES_VERSION#v1.}"
{
  echo "module roster.dev/controlplane/kubernetes"
  echo
  echo "go $(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod" | head -n1)"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  # Every `k8s.io/<m> => ./staging/src/k8s.io/<m>` in the tag's own go.mod.
  grep -Eo 'k8s\.io/[A-Za-z0-9._/-]+ => \./staging/src/k8s\.io/[A-Za-z0-9._/-]+' "$gomod" |
    awk -v v="$staging_version" '{ print "replace " $1 " => " $1 " " v }'
} > "$k8s_mod/go.mod"
cat > "$k8s_mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
log "resolving kubernetes dependencies ($(grep -c '^replace' "$k8s_mod/go.mod") staging modules)"
(cd "$k8s_mod" && go mod tidy -e >/dev/null 2>&1 || true; go get "k8s.io/kubernetes@$KUBERNETES_VERSION")
minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
log "building kube-apiserver"
(cd "$k8s_mod" && go build -trimpath -ldflags "$k8s_ldflags" -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
log "building kubectl"
(cd "$k8s_mod" && go build -trimpath -ldflags "$k8s_ldflags" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl)

# kube-controller-manager gives the local control plane what a real cluster has and envtest
# lacks: garbage collection of owned objects, namespace deletion, service-account tokens.
log "building kube-controller-manager"
(cd "$k8s_mod" && go build -trimpath -ldflags "$k8s_ldflags" -o "$bin/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager)

# --- etcd --------------------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 carries package main at its module root and replaces its
# sibling modules with local paths; a wrapper module resolves them to the same release.
etcd_mod="$work/etcd"
rm -rf "$etcd_mod" && mkdir -p "$etcd_mod"
{
  echo "module roster.dev/controlplane/etcd"
  echo
  echo "go 1.24"
  echo
  echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    echo "replace go.etcd.io/etcd/$m => go.etcd.io/etcd/$m $ETCD_VERSION"
  done
} > "$etcd_mod/go.mod"
cat > "$etcd_mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
log "resolving etcd dependencies"
(cd "$etcd_mod" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
log "building etcd"
(cd "$etcd_mod" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)

echo "$want" > "$stamp"
log "built into $bin: $(ls "$bin" | tr '\n' ' ')"
