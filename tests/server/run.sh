#!/usr/bin/env bash
# run.sh — run node test files of tests/server one after another against R1_BIN and print the
# closing line "N passed, N failed" (exit 1 on any failure). Used by tests/e2e/server*.sh.
# Usage: run.sh R1_BIN FILE.test.mjs...   Env: R1_LOAD_SECONDS, R1_ARTIFACTS (passed through).
set -u
here=$(cd "$(dirname "$0")" && pwd)
R1_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
if ! command -v node >/dev/null 2>&1 || [ ! -d "$here/node_modules/openai" ] ||
  [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "tests/server: node or its packages are missing: run (cd tests/server && npm ci)" >&2
  if [ "${CI:-}" = true ]; then
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$R1_BIN" synth --preset tiny-deepseek2 -o "$tmp/tiny.gguf" >/dev/null 2>&1 || {
  echo "cannot synthesize the test model"
  echo "0 passed, 1 failed"
  exit 1
}
export R1_BIN R1_TEST_MODEL="$tmp/tiny.gguf"
pass=0
fail=0
for f in "$@"; do
  out="$tmp/$(basename "$f").tap"
  (cd "$here" && node --test --test-reporter=tap "$f") >"$out" 2>&1
  rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)
  n=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)
  p=${p:-0}
  n=${n:-0}
  if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then n=1; fi
  grep -E '^# (load|screenshots):|^not ok|^ok' "$out" | sed "s|^|$f: |"
  if [ "$n" -ne 0 ]; then
    echo "---- $f output ----"
    cat "$out"
  fi
  pass=$((pass + p))
  fail=$((fail + n))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
