#!/usr/bin/env bash
# `ensure-package.sh COMMAND PACKAGE`: installs Debian's PACKAGE when COMMAND is missing; a
# no-op otherwise. CI machines start fresh: the dashboard's e2e test drives Debian's chromium,
# and `npm run bench` drives its 50-connection runs with wrk (far less CPU per request than a
# Node.js generator, taken from the 2 cores the service shares).
set -euo pipefail
command=$1
package=$2
if command -v "$command" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-package: $command is missing and installing it needs root (apt-get install $package)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$package" >/dev/null
command -v "$command"
