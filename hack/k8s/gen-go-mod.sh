#!/usr/bin/env bash
# Regenerates hack/k8s/go.mod + go.sum: a wrapper module that builds kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and etcd at one Kubernetes version.
# k8s.io/kubernetes requires its staging modules at v0.0.0 with ./staging replaces that Go
# ignores in dependencies, so we pin each staging module to the matching v0.X.Y tag here.
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
cd "$(dirname "$0")"
staging_version="v0.${K8S_VERSION#v1.}"
modfile="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
etcd_version="$(grep -E '^\s+go.etcd.io/etcd/server/v3 ' "$modfile" | awk '{print $2}')"
{
  echo "module hearth.dev/hack/k8s"
  echo
  echo "go 1.24.0"
  echo
  echo "godebug default=go1.24"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes ${K8S_VERSION}"
  echo "	go.etcd.io/etcd/server/v3 ${etcd_version}"
  echo ")"
  echo
  echo "replace ("
  grep -E '=> \./staging/src/' "$modfile" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
rm -f go.sum
cat > tools.go <<'GO'
//go:build tools

// Package tools pins the commands this wrapper module builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
go mod tidy
echo "wrote go.mod for Kubernetes ${K8S_VERSION} (staging ${staging_version}, etcd ${etcd_version})"
