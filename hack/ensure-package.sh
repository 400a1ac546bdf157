#!/usr/bin/env bash
# Installs a Debian package when its command is missing (tests that need a system tool call it;
# so does .ci/run). Idempotent: does nothing when the command exists.
#   bash hack/ensure-package.sh COMMAND PACKAGE WHAT-FOR
set -euo pipefail
cmd=$1 pkg=$2 why=$3
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "$cmd is not installed and this user cannot install it: run 'apt-get install -y $pkg' as root" >&2
  exit 1
fi
echo "installing $pkg (Debian package) for $why"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$pkg" >/dev/null
command -v "$cmd"
