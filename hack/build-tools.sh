#!/usr/bin/env bash
# Builds (once per machine) the tools the chart's tests use besides the control plane, in a cache
# of their own so the control-plane cache (hack/build-control-plane.sh) is never invalidated:
#   promtool  — Prometheus' rule unit tester, from the Prometheus Go module (go install)
#   keda-crds — KEDA's CustomResourceDefinitions, from KEDA's Go module (config/crd/bases)
#   moto      — a venv with moto's server (PyPI, pinned): the S3-compatible store that s3://
#               artifacts are tested against (`moto/bin/python -m moto.server`)
# Cached by version under ${HEARTH_CACHE:-~/.cache/hearth}/tools/; prints progress; prints the
# directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The Go module of Prometheus v3.5 (LTS), as pinned in hack/tools/go.mod.
PROM_VERSION="$(sed -n 's/^\tgithub.com\/prometheus\/prometheus \(v[0-9.]*\).*$/\1/p' "$here/tools/go.mod")"
KEDA_VERSION="${KEDA_VERSION:-v2.17.2}"
MOTO_VERSION="5.2.5"
cache="${HEARTH_CACHE:-$HOME/.cache/hearth}"
dir="$cache/tools"
mkdir -p "$dir"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

PROGRESS_LABEL=tools
# shellcheck source=hack/progress.sh
source "$here/progress.sh"

promtool="$dir/promtool-$PROM_VERSION"
if [[ ! -x "$promtool" ]]; then
  # Prometheus' go.mod has a replace directive, which `go install pkg@version` refuses: build
  # inside the wrapper module hack/tools (it repeats the replace; go.sum pins everything).
  cd "$here/tools"
  log "promtool: downloading Go modules for hack/tools/go.mod"
  with_heartbeat "promtool modules" go mod download
  log "promtool: compiling github.com/prometheus/prometheus/cmd/promtool $PROM_VERSION (5-10 minutes on 2 cores)"
  with_heartbeat "promtool" go build -ldflags "-s -w" -o "$promtool.tmp" github.com/prometheus/prometheus/cmd/promtool
  mv "$promtool.tmp" "$promtool"
  cd - >/dev/null
fi
ln -sfn "promtool-$PROM_VERSION" "$dir/promtool"

keda="$dir/keda-crds-$KEDA_VERSION"
if [[ ! -d "$keda" ]]; then
  log "keda-crds: go mod download github.com/kedacore/keda/v2@$KEDA_VERSION"
  src="$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src/config/crd/bases" ]] || { log "no config/crd/bases in $src"; exit 1; }
  mkdir -p "$keda.tmp"
  cp "$src"/config/crd/bases/*.yaml "$keda.tmp/"
  mv "$keda.tmp" "$keda"
  log "keda-crds: $(ls "$keda" | wc -l) CRDs"
fi
ln -sfn "keda-crds-$KEDA_VERSION" "$dir/keda-crds"

moto="$dir/moto-$MOTO_VERSION"
if [[ ! -x "$moto/bin/python" ]]; then
  # Built aside and moved into place: `bin/python -m …` works from the moved venv.
  rm -rf "$moto.tmp"
  python3 -m venv "$moto.tmp"
  log "moto: pip install moto[s3,server]==$MOTO_VERSION"
  with_heartbeat "moto" "$moto.tmp/bin/python" -m pip install --quiet --disable-pip-version-check "moto[s3,server]==$MOTO_VERSION"
  mv "$moto.tmp" "$moto"
fi
ln -sfn "moto-$MOTO_VERSION" "$dir/moto"
echo "$dir"
