#!/usr/bin/env bash
# tests/cross/aarch64.sh — r1 on 64-bit ARM, checked from an x86-64 Debian machine: cross-compile
# everything (cmake/aarch64-linux-gnu.cmake) and run the tests under qemu-user, so the NEON
# backend (src/kernels/arm/neon.c; with and without the ARMv8.2 dot product instruction) is
# checked bit for bit against the scalar reference
# (test_kernels) and every fixture model's logits against llama.cpp's (test_fixtures, on the
# NEON, reference and scalar kernels), along with the loaders, batching and the rest.
# Not run here: tests that start the r1 binary themselves (qemu-user cannot exec an ARM binary
# without binfmt_misc), and test_mtp and test_train_sft (10+ minutes each under emulation; the
# kernels they use are covered above).
#
# Then the ARM r1 itself, under qemu: a greedy answer of the default model on 2 threads (tokenizer,
# chat template, reasoning, MTP drafting) must be the native build's, byte for byte, when a native
# r1 is given (.ci/run passes build/r1).
#
# Usage: tests/cross/aarch64.sh [BUILD_DIR [NATIVE_R1]]   (default build-aarch64, no native run)
# As root on Debian it installs what it needs (the cross compiler, qemu-user and the arm64
# multiarch -dev packages); it exits 77 (skipped) when they are missing and cannot be installed.
# Any build or test failure exits non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-aarch64}
native=${2:-}

arm_pkgs="libutf8proc-dev:arm64 libcjson-dev:arm64 libedit-dev:arm64 libcurl4-openssl-dev:arm64
  libssl-dev:arm64 libmicrohttpd-dev:arm64"
have_all() {
  command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null &&
    dpkg -s $arm_pkgs >/dev/null 2>&1
}
if ! have_all; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "aarch64: cross compiler, qemu-user or arm64 libraries missing; skipped" >&2
    exit 77
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { dpkg --add-architecture arm64 && apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu \
      libc6-dev-arm64-cross qemu-user $arm_pkgs >/dev/null; }; then
    echo "aarch64: SKIPPED — the cross toolchain or the arm64 packages could not be installed" >&2
    exit 77
  fi
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DR1_MPI=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
# test_batch's long context at 2100 keys took 820 s of the 900 s limit under qemu: 400 here.
# test_iq_quality (quantizer quality against llama.cpp: platform-independent C, 35 s natively)
# runs natively; test_quant checks the lattice quantizer's round trips here.
R1_TEST_LONG_KEYS=400 ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
  -E '^(e2e_.*|test_mtp|test_train_sft|test_hf|test_quantize|test_convert_rss|test_chat_pty|test_iq_quality)$'
# qemu's default CPU has ARMv8.2's sdot, so the above ran the dotprod kernels; a Cortex-A57
# (ARMv8.0) has not: the plain NEON ones, checked the same way
QEMU_CPU=cortex-a57 ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
  -R '^(test_kernels|test_fixtures)$'

if [ -n "$native" ]; then
  args=(run -m models/r1-tiny.gguf -p "Compute 47*38." --temp 0 -t 2 -n 200)
  want=$("$native" "${args[@]}" 2>/dev/null)
  got=$(qemu-aarch64 -L / "$build/r1" "${args[@]}" 2>/dev/null)
  if [ -z "$want" ] || [ "$got" != "$want" ]; then
    echo "aarch64: r1 run differs from the native build" >&2
    diff <(echo "$want") <(echo "$got") >&2 || true
    exit 1
  fi
  echo "aarch64: r1 run under qemu gives the native answer ($(echo "$want" | tail -1))"
fi
