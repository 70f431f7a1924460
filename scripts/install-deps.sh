#!/usr/bin/env bash
# Debian packages the agent and its tests use: the netns tools, a real containerd + runc + CNI plugins,
# a real dockerd, busybox (static) to build a local image, capsh/setpriv for the capability tests, debootstrap
# for the container image built without a registry (scripts/build-image.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(iptables ipset iproute2 util-linux procps libcap2-bin containerd runc containernetworking-plugins busybox-static docker.io debootstrap nftables ebtables)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: ${pkgs[*]} installed"
