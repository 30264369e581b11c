#!/usr/bin/env bash
# `npm run bench` drives its 50-connection runs with wrk (Debian's package): far less CPU per
# request than a Node.js generator, taken from the 2 cores the service shares. Installs it
# when missing; a no-op otherwise. Without it (no root), the bench uses its socket generator.
set -euo pipefail
if command -v wrk >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-wrk: wrk is missing and installing it needs root (apt-get install wrk)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq wrk >/dev/null
command -v wrk
