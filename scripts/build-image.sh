#!/usr/bin/env bash
# Build the chaos-node-agent image with no container registry.
#
# The Dockerfile's base is a Node LTS slim image (node:20-bookworm-slim). Where no registry is reachable this
# script first makes a local stand-in for it: Debian bookworm (debootstrap --variant=minbase, from Debian's
# archive) with this machine's Node (20 or 22) and npm installed under /usr/local as the official image does,
# imported with `docker import`. It then runs `docker build` with the legacy builder (DOCKER_BUILDKIT=0) and
# --network host (npm ci and apt-get in the build need the package registries), and smoke-tests the result.
#
# Talks to the dockerd named by DOCKER_HOST (default: the system one). Needs root, debootstrap, docker.
# Env: CNA_IMAGE (tag to build, default chaos-node-agent:<package version>),
#      CNA_BASE_IMAGE (base to use or create, default chaos-node-agent-local/node:<major>-bookworm-slim),
#      CNA_USE_REGISTRY_BASE=1 (use node:20-bookworm-slim from a registry instead of making one),
#      DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'build-image: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { log "needs $1 on PATH"; exit 2; }; }
need docker

version=$(node -p 'require("./package.json").version')
image=${CNA_IMAGE:-chaos-node-agent:$version}
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

if [[ ${CNA_USE_REGISTRY_BASE:-0} == 1 ]]; then
  base=node:20-bookworm-slim
else
  need node; need debootstrap
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  case $node_major in 20|22) ;; *) log "this machine's node is v$node_major; the base needs Node 20 or 22 (LTS)"; exit 2;; esac
  base=${CNA_BASE_IMAGE:-chaos-node-agent-local/node:$node_major-bookworm-slim}
  if docker image inspect "$base" >/dev/null 2>&1; then
    log "base $base present"
  else
    work=$(mktemp -d /tmp/cna-base-XXXXXX)
    trap 'rm -rf "$work"' EXIT
    rootfs=$work/rootfs
    t0=$SECONDS
    log "debootstrap bookworm (minbase) into $rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    node_bin=$(readlink -f "$(command -v node)")
    npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
    [[ -f $npm_dir/bin/npm-cli.js ]] || { log "cannot find npm's package directory (got $npm_dir)"; exit 1; }
    install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
    mkdir -p "$rootfs/usr/local/lib/node_modules"
    cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    # This machine reaches npm through a TLS-intercepting egress proxy whose CA is in the host bundle (npm's
    # cafile / NODE_EXTRA_CA_CERTS). The stand-in base carries that bundle so `npm ci` works in the build; an
    # image built FROM the real node:*-bookworm-slim does not get it.
    ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
    extra_env=()
    if [[ -f $ca ]]; then
      install -D -m 0644 "$ca" "$rootfs/usr/local/share/cna-build-ca/ca-certificates.crt"
      extra_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/cna-build-ca/ca-certificates.crt')
    fi
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
    chroot "$rootfs" /usr/local/bin/node --version >/dev/null || { log "node does not run in the base rootfs"; exit 1; }
    tar --numeric-owner -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["node"]' "${extra_env[@]}" - "$base" >/dev/null
    log "base $base imported in $((SECONDS - t0)) s"
  fi
fi

t0=$SECONDS
log "docker build $image (legacy builder, FROM $base)"
DOCKER_BUILDKIT=0 docker build --network host --build-arg "NODE_IMAGE=$base" --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" -t "$image" . >&2
log "built $image in $((SECONDS - t0)) s"

# Smoke test, as the DaemonSet runs it: read-only root, no network, every capability dropped.
# The usage is captured whole before it is matched: `docker run ... | grep -q` under pipefail failed in CI when grep
# quit at the first line and docker's next write got a broken pipe.
usage=$(docker run --rm --network none --read-only --cap-drop ALL "$image" --help) \
  || { log "smoke: --help failed"; exit 1; }
grep -q '^Usage: chaos-node-agent' <<<"$usage" \
  || { log "smoke: --help did not print the usage"; exit 1; }
docker run --rm --network none --read-only --cap-drop ALL --entrypoint sh "$image" -c \
  'iptables-legacy-save --version && iptables-nft-save --version && ip6tables-legacy-save --version && ip6tables-nft-save --version && command -v ipset && tc -V && nsenter --version && node --version' >&2 \
  || { log "smoke: a tool is missing from the image"; exit 1; }
log "ok $image"
echo "$image"
