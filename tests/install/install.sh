#!/usr/bin/env bash
# tests/install/install.sh — install r1 into a temporary prefix and build a program against the
# installed tree alone (tests/install/consumer.c): with pkg-config (libr1.so, and libr1.a with
# `pkg-config --static`) and with CMake's find_package(r1) (r1::r1 and r1::r1_static); each binary
# runs on the default model and must print the expected line. Also checks the installed files.
# Usage: install.sh BUILD_DIR MODEL CC [EXTRA_CFLAGS]   (EXTRA_CFLAGS: the sanitizer flags of an
# ASan build, whose libr1 needs the consumer instrumented the same way)
set -euo pipefail
build=$1 model=$2 cc=$3 extra=${4:-}
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/r1 lib/libr1.a lib/libr1.so include/r1.h include/r1_chat.h lib/pkgconfig/r1.pc \
  lib/cmake/r1/r1Config.cmake lib/cmake/r1/r1ConfigVersion.cmake; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
soname=$(objdump -p "$prefix/lib/libr1.so" | awk '/SONAME/ {print $2}')
[[ $soname =~ ^libr1\.so\.[0-9]+$ ]] || { echo "FAIL: SONAME '$soname'" >&2; exit 1; }
[ -e "$prefix/lib/$soname" ] || { echo "FAIL: lib/$soname not installed" >&2; exit 1; }

want="^r1 [0-9]+\.[0-9]+\.[0-9]+: deepseek2, 'Hello, world!' is [0-9]+ tokens, decoded back 'Hello, world!', template deepseek-r1 \(thinking\)$"
check() { # name, command...
  local name=$1 out
  shift
  out=$("$@") || { echo "FAIL: $name exited $?" >&2; exit 1; }
  if ! [[ $out =~ $want ]]; then
    echo "FAIL: $name printed '$out'" >&2
    exit 1
  fi
  echo "ok: $name: $out"
}

# pkg-config: the shared library (found at run time through LD_LIBRARY_PATH), then the static one
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[[ $(pkg-config --modversion r1) =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "FAIL: pkg-config --modversion r1: $(pkg-config --modversion r1 2>&1)" >&2; exit 1; }
# shellcheck disable=SC2046,SC2086
$cc $extra -o "$tmp/pc_shared" "$src/consumer.c" $(pkg-config --cflags --libs r1)
check pkg-config-shared env LD_LIBRARY_PATH="$prefix/lib" "$tmp/pc_shared" "$model"
# (ldd's output kept whole first: `ldd | grep -q` fails under pipefail when grep quits early)
deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/pc_shared")
[[ $deps == *"$prefix/lib/libr1.so"* ]] ||
  { echo "FAIL: pc_shared does not load the installed libr1.so: $deps" >&2; exit 1; }
# static: libr1.a by path, then what `pkg-config --static` says it needs (-lr1 itself left out)
libs=$(pkg-config --static --libs r1 | sed -e 's/\(^\| \)-lr1\( \|$\)/ /')
# shellcheck disable=SC2046,SC2086
$cc $extra -o "$tmp/pc_static" "$src/consumer.c" $(pkg-config --cflags r1) "$prefix/lib/libr1.a" $libs
check pkg-config-static "$tmp/pc_static" "$model"
deps=$(ldd "$tmp/pc_static")
if [[ $deps == *libr1.so* ]]; then
  echo "FAIL: pc_static loads libr1.so" >&2
  exit 1
fi

# find_package(r1)
cmake -S "$src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
check find_package-shared "$tmp/cmake/consumer_shared" "$model"
check find_package-static "$tmp/cmake/consumer_static" "$model"
# the Python package from the installed tree alone (R1_LIB unset: it finds P/lib/libr1.so); not in a
# sanitizer build, whose libr1.so python3 cannot load
if [ -z "$extra" ] && command -v python3 >/dev/null; then
  out=$(cd "$tmp" && env -u R1_LIB PYTHONPATH="$prefix/lib/python" python3 -c '
import sys, r1, r1._lib as L
reply = r1.Model(sys.argv[1], n_threads=1).chat("Compute 47*38.", temperature=0)
print(r1._L._name, "|", reply.answer, "|", len(reply.reasoning))' "$model")
  [[ $out == "$prefix/lib/libr1.so | \boxed{1786} | "[1-9]* ]] ||
    { echo "FAIL: python from the installed tree printed '$out'" >&2; exit 1; }
  echo "ok: python: $out"
fi
echo "install test passed"
