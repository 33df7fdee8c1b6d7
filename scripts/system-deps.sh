#!/usr/bin/env bash
# Installs the Debian packages the namespace/daemon tests drive (iproute2, iptables,
# nftables, ipset, bird2, wireguard-tools, wireguard-go; clang, llvm, libbpf-dev and bpftool
# to build and load the eBPF dataplane's tc program, bpf/policy.c), chromium for the browser tests (the
# live fleet page, test/fv/fleet-page.test.ts, and the load test's HTML report,
# test/fv/loadtest-smoke.test.ts, both driven by playwright-core), and kubectl for rendering
# deploy/ (test/unit/deploy.test.ts), when running as root and they are missing. Without root it only
# says what is missing; the tests that need them say so too.
set -euo pipefail
pkgs=(iproute2 iptables ipset nftables bird2 wireguard-tools wireguard-go netcat-openbsd chromium clang llvm libbpf-dev bpftool)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Any kubectl will do (`kubectl kustomize` only); Debian's is in kubernetes-client. Checked by
# command, not package: a kubectl from another package must not be replaced (they conflict).
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing Debian packages: ${missing[*]} (not root or no apt-get: not installing)" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: wireguard-tools would otherwise pull in a kernel image.
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: done" >&2
