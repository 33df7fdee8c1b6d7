#!/usr/bin/env bash
# Compiles the eBPF dataplane's tc program (bpf/policy.c) to bpf/build/policy.o. Needs clang
# with the BPF target and libbpf's headers (Debian: clang llvm libbpf-dev; scripts/system-deps.sh
# installs them as root). Fails loudly when they are missing: the bpf tests need the object.
# --if-toolchain (npm pretest): without clang, say so and exit 0 — the bpf tests then fail
# naming what is missing, and the rest of the suite still runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--if-toolchain" ] && ! command -v clang >/dev/null; then
  echo "build:bpf: clang not found: bpf/policy.c not built; the bpf tests will fail (install clang llvm libbpf-dev bpftool)" >&2
  exit 0
fi
if ! command -v clang >/dev/null; then
  echo "build:bpf: clang not found: install clang llvm libbpf-dev bpftool (scripts/system-deps.sh as root)" >&2
  exit 1
fi
arch_inc="/usr/include/$(uname -m)-linux-gnu"
if [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
  echo "build:bpf: <bpf/bpf_helpers.h> not found: install libbpf-dev (scripts/system-deps.sh as root)" >&2
  exit 1
fi
mkdir -p bpf/build
# A temporary per process, then a rename: test files build concurrently, and a reader must
# never see a half-written object.
tmp="bpf/build/policy.o.$$"
clang -O2 -g -Wall -Werror -target bpf -I"$arch_inc" -c bpf/policy.c -o "$tmp"
mv "$tmp" bpf/build/policy.o
