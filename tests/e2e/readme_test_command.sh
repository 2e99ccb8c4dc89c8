#!/usr/bin/env bash
# readme_test_command.sh — the README's "run the tests" command line, run with stand-ins for sudo,
# apt-get, npm, cmake and ctest that only record their arguments: it must install npm only where
# npm is missing (NodeSource's nodejs ships npm and conflicts with Debian's npm package, so asking
# apt for both fails), as .ci/run does, and still reach the build and ctest.
# Usage: readme_test_command.sh R1_BIN TEST_DATA_DIR
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }

# the command: the line after "Run the tests" in the first ```sh block
cmd=$(awk '/^Run the tests/ {f = 1} f && /^```sh/ {getline; print; exit}' "$ROOT/README.md")
expect "[ -n \"\$cmd\" ] && echo \"\$cmd\" | grep -q 'ctest'" "found the README's test command: $cmd"

# stand-ins: each records "name args" in $TMP/log
mkdir -p "$TMP/bin" "$TMP/with-npm" "$TMP/work/tests/tokenizer" "$TMP/work/tests/server"
for tool in apt-get cmake ctest; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/log"\n' "$tool" "$TMP" > "$TMP/bin/$tool"
done
printf '#!/bin/sh\n"$@"\n' > "$TMP/bin/sudo"
printf '#!/bin/sh\necho "npm $*" >> "%s/log"\n' "$TMP" > "$TMP/with-npm/npm"
chmod +x "$TMP"/bin/* "$TMP/with-npm/npm"
base_path="$TMP/bin" # nothing else: the command needs only shell builtins and the stand-ins
BASH_BIN=$(command -v bash)

run_with() { # PATH, label
  : > "$TMP/log"
  (cd "$TMP/work" && PATH="$1" "$BASH_BIN" -c "$cmd") > "$TMP/out" 2>&1
  echo $?
}

# npm already there (NodeSource): apt-get is never asked for npm
rc=$(run_with "$TMP/with-npm:$base_path" present)
expect "[ $rc -eq 0 ]" "command runs with npm present (rc $rc: $(cat "$TMP/out"))"
expect "! grep -q '^apt-get.*\bnpm\b' '$TMP/log'" "npm not installed when present: $(grep apt-get "$TMP/log")"
expect "grep -q '^npm ci' '$TMP/log' && grep -q '^ctest' '$TMP/log'" "npm ci and ctest ran with npm present"

# npm missing (Debian's nodejs): apt-get installs it
rc=$(run_with "$base_path" missing)
expect "grep -q '^apt-get install -y npm' '$TMP/log'" "npm installed when missing: $(grep apt-get "$TMP/log")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
