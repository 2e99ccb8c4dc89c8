#!/usr/bin/env bash
# tests/install/exports.sh — libr1.so exports the public API and nothing else: every dynamic symbol
# it defines is an r1_* function of include/r1*.h, and every function those headers declare is
# exported. Usage: exports.sh LIBR1_SO INCLUDE_DIR
set -euo pipefail
lib=$1 inc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# defined, dynamic: T (code), D/B (data), etc.; the sanitizer runtime's own hooks are not ours
nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^_\(_\)\?\(asan\|ubsan\|sanitizer\|odr_asan\)' |
  grep -v '^_\(init\|fini\|edata\|end\|_bss_start\)$' | sort -u >"$tmp/exported"
grep -ho 'R1_API [^(]*\br1_[a-z0-9_]*(' "$inc"/r1*.h | grep -o 'r1_[a-z0-9_]*($' | tr -d '(' |
  sort -u >"$tmp/declared"
n_exp=$(wc -l <"$tmp/exported") n_decl=$(wc -l <"$tmp/declared")
if grep -v '^r1_' "$tmp/exported" >"$tmp/bad"; then
  echo "FAIL: libr1.so exports symbols outside the r1_* API:" >&2
  head -20 "$tmp/bad" >&2
  exit 1
fi
if ! diff "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
  echo "FAIL: declared (<) and exported (>) public functions differ:" >&2
  cat "$tmp/diff" >&2
  exit 1
fi
[ "$n_decl" -gt 40 ] || { echo "FAIL: only $n_decl R1_API functions found in $inc" >&2; exit 1; }
echo "libr1.so exports exactly the $n_exp r1_* functions the headers declare"
