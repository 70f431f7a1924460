#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: install the packages, the npm dependencies, build, and run
# the agent end to end against a real containerd with real pods carrying replayed Chaos Mesh state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npm run build
node dist/scripts/demo.js "$@"
