#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from Go modules into a cache outside
# the repo. Idempotent: a finished build is reused. Prints the bin directory last.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

cache_root="${DBOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbop}"
out="$cache_root/k8s-$K8S_VERSION"
bin="$out/bin"
stamp="$out/.complete-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"

if [[ -f "$stamp" ]]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$out/src"
started=$SECONDS
log() { echo "[cluster build +$((SECONDS - started))s] $*" >&2; }
log "cold build into $out (go $(go env GOVERSION), $(nproc) cores); later runs reuse it"

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Kubernetes: k8s.io/kubernetes replaces its staging modules with local paths,
# so a wrapper module pins each one to the published v0.x.y of the same tag.
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
staging_version="v0.${K8S_VERSION#v1.}"
k8s_src="$out/src/kubernetes"
mkdir -p "$k8s_src"
upstream_mod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  echo "module dbop.local/k8s-build"
  echo
  echo "go $(sed -n 's/^go //p' "$upstream_mod")"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 '"$staging_version"'#p' "$upstream_mod"
} >"$k8s_src/go.mod"
cat >"$k8s_src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
log "resolving Kubernetes $K8S_VERSION modules ($(grep -c '^replace' "$k8s_src/go.mod") staging modules pinned to $staging_version)"
(cd "$k8s_src" && go mod tidy -e >/dev/null 2>&1 || true)
(cd "$k8s_src" && go mod download)
v="k8s.io/component-base/version"
k8s_ldflags="-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$k8s_minor -X $v.gitTreeState=clean -X $v.buildDate=$build_date"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [[ ! -x "$bin/$cmd" ]]; then
    log "building $cmd"
    pkg="k8s.io/kubernetes/cmd/$cmd"
    (cd "$k8s_src" && go build -trimpath -ldflags "$k8s_ldflags" -o "$bin/$cmd.tmp" "$pkg")
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  fi
done

# etcd: the server module's main package is at its root, but its go.mod
# replaces sibling modules with relative paths, so it needs a wrapper too.
etcd_src="$out/src/etcd"
mkdir -p "$etcd_src"
cat >"$etcd_src/go.mod" <<MOD
module dbop.local/etcd-build

go 1.25.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
cat >"$etcd_src/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
if [[ ! -x "$bin/etcd" ]]; then
  log "building etcd $ETCD_VERSION"
  (cd "$etcd_src" && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$etcd_src" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

# kwok (the fake-node controller; the harness starts components itself, so no kwokctl):
# its go.mod has no replace directives, so go install works as is.
for cmd in kwok; do
  if [[ ! -x "$bin/$cmd" ]]; then
    log "building $cmd $KWOK_VERSION"
    GOBIN="$bin" GOFLAGS= go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION" \
      "sigs.k8s.io/kwok/cmd/$cmd@$KWOK_VERSION"
  fi
done

# kwok's own stage definitions, as kwokctl combines them: nodes become Ready and
# keep a heartbeat lease; pods become Running/Ready, complete and get deleted.
kwok_dir="$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
stage_dir="$kwok_dir/kustomize/stage"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  echo "---"
  cat "$stage_dir/$f"
done >"$out/kwok-stages.yaml"

touch "$stamp"
log "done in $((SECONDS - started))s"
echo "$bin"
