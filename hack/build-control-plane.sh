#!/usr/bin/env bash
# Builds (once per machine) the control-plane binaries Hearth's tests and dev mode run:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd (from hack/k8s), kwok and helm.
# Cached by version under ${HEARTH_CACHE:-~/.cache/hearth}/k8s-<version>/bin; prints progress.
# Only missing binaries are built. helm is rebuilt once when its build flags change (marker
# file .helm-build beside it), since a helm without upstream's version ldflags believes the
# cluster is Kubernetes v1.20 and refuses `helm template charts/hearth`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="$(sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/k8s/go.mod")"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
cache="${HEARTH_CACHE:-$HOME/.cache/hearth}"
bin="$cache/k8s-${K8S_VERSION}/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

PROGRESS_LABEL=control-plane
# shellcheck source=hack/progress.sh
source "$here/progress.sh"

# helm's build identity: upstream's Makefile sets these ldflags (internal/version and the
# Kubernetes version helm assumes without a cluster, derived from its client-go: v0.X → 1.X).
HELM_BUILD_ID="helm $HELM_VERSION ldflags-v1"
helm_marker="$bin/.helm-build"
helm_current=false
[[ -x "$bin/helm" && "$(cat "$helm_marker" 2>/dev/null)" == "$HELM_BUILD_ID" ]] && helm_current=true

need=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok; do
  [[ -x "$bin/$b" ]] || need+=("$b")
done
$helm_current || need+=(helm)
if [[ ${#need[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi
log "building ${need[*]} into $bin (Kubernetes $K8S_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION)"
[[ ${#need[@]} -gt 2 ]] && log "a cold build takes 15-30 minutes on 2 cores and a few GB of Go module cache"

major="${K8S_VERSION#v}"; major="${major%%.*}"
minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
pkgs=("k8s.io/component-base/version" "k8s.io/client-go/pkg/version")
ldflags="-s -w"
for p in "${pkgs[@]}"; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean"
  ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done
tags="selinux,notest,grpcnotrace"

cd "$here/k8s"
wrapper_needed=false
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; do
  [[ -x "$bin/$b" ]] || wrapper_needed=true
done
if $wrapper_needed; then
  log "downloading Go modules for the wrapper (hack/k8s/go.mod)"
  with_heartbeat "modules" go mod download
fi

build_one() {
  local name="$1" pkg="$2"
  [[ -x "$bin/$name" ]] && return 0
  log "$name: compiling $pkg"
  with_heartbeat "$name" go build -tags "$tags" -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"
  mv "$bin/$name.tmp" "$bin/$name"
}
build_one kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build_one kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build_one kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build_one kubectl k8s.io/kubernetes/cmd/kubectl
build_one etcd go.etcd.io/etcd/server/v3

# Go-installed tools: no replaces needed, so plain `go install` at a pinned version.
install_tool() {
  local name="$1" pkg="$2" flags="${3:-}"
  log "$name: go install $pkg"
  with_heartbeat "$name" env GOBIN="$bin/.$name" go install ${flags:+-ldflags "$flags"} "$pkg"
  # rename over any stale copy: a concurrent reader sees the old or the new binary, never none
  mv -f "$bin/.$name/$name" "$bin/$name" && rmdir "$bin/.$name"
}
[[ -x "$bin/kwok" ]] || install_tool kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

helm_ldflags() {
  local gomod client_go hmajor hminor
  gomod="$(cd "$cache" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  client_go="$(sed -n 's/^\s*k8s.io\/client-go \(v[0-9.]*\).*/\1/p' "$gomod" | head -1)"
  hmajor="${client_go#v}"; hmajor=$(( ${hmajor%%.*} + 1 ))
  hminor="${client_go#v*.}"; hminor="${hminor%%.*}"
  local v="helm.sh/helm/v3/internal/version" f="-s -w"
  f+=" -X $v.version=$HELM_VERSION -X $v.metadata= -X $v.gitCommit=0000000000000000000000000000000000000000 -X $v.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    f+=" -X $p.k8sVersionMajor=$hmajor -X $p.k8sVersionMinor=$hminor"
  done
  printf '%s' "$f"
}
if ! $helm_current; then
  [[ -x "$bin/helm" ]] && log "helm: the cached binary lacks upstream's version ldflags; rebuilding it once"
  install_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$(helm_ldflags)"
  printf '%s' "$HELM_BUILD_ID" > "$helm_marker"
fi
log "all binaries ready"
echo "$bin"
