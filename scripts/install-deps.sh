#!/usr/bin/env bash
# Debian packages the agent and its tests use: the netns tools, a real containerd + runc + CNI plugins,
# a real dockerd, busybox (static) to build a local image, capsh/setpriv for the capability tests, debootstrap
# for the container image built without a registry (scripts/build-image.sh), Prometheus + promtool (2.42)
# for the Prometheus tests and the quick start, which run their own server on a free port, and openssl for the
# fake kube-apiserver's self-signed certificate (test/helpers/fake-kube-apiserver.ts).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(iptables ipset iproute2 util-linux procps libcap2-bin containerd runc containernetworking-plugins busybox-static docker.io debootstrap nftables ebtables openssl)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

# Debian's prometheus package starts and enables a system-wide server on :9090 where systemd runs. Nothing here
# uses it, so a fresh install is kept from starting it (invoke-rc.d and deb-systemd-invoke obey policy-rc.d) and
# its unit is disabled; an existing installation is left as it is.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'install ok installed'; then
  policy=/usr/sbin/policy-rc.d
  ours=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# install-deps.sh: no service starts while prometheus is installed\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ours=1
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if (( ours )); then
    rm -f "$policy"
    trap - EXIT
  fi
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl disable --quiet prometheus.service || echo "install-deps: could not disable prometheus.service" >&2
  fi
fi
pkgs+=(prometheus)
echo "install-deps: ${pkgs[*]} installed"
