#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: install the packages (Prometheus 2.42 included), the npm
# dependencies, build, and run the whole loop on real components: a real containerd with real pods carrying
# replayed Chaos Mesh state, the agent's CLI, then `serve` scraped by a real Prometheus with the shipped alerts;
# Prometheus' view (pods with active injections, alerts pending or firing) is printed, then everything is torn
# down. --keep leaves it all running with the URLs printed, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npm run build
node dist/scripts/demo.js "$@"
