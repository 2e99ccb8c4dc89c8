#!/usr/bin/env bash
# cli_ux.sh — what a new user meets in the r1 command (issue 22): a fresh sampling seed per run
# (--seed N repeats one), messages that name the real problem (a text file or folder as -m, a
# truncated download, `r1 serve` with a missing model failing before it listens), human units in
# `r1 info`, the version, one help style and one error style for every command.
# Usage: cli_ux.sh R1_BIN TEST_DATA_DIR
set -u
R1=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }

export R1_HOME="$TMP/home"
M="$TMP/tiny.gguf"
"$R1" synth --preset tiny-deepseek2 --seed 5 -o "$M" > /dev/null 2>&1

# ---- 1. sampling: a fresh seed every run, printed by -v; --seed N repeats a run ----------------
gen() { "$R1" run -m "$M" -p "tell me something" -n 24 --temp 1.5 --raw "$@" 2> "$TMP/gen.err"; }
a=$(gen -v); sa=$(sed -n 's/^seed \([0-9]*\) .*/\1/p' "$TMP/gen.err")
b=$(gen -v); sb=$(sed -n 's/^seed \([0-9]*\) .*/\1/p' "$TMP/gen.err")
expect "[ -n '$sa' ] && [ -n '$sb' ] && [ '$sa' != '$sb' ]" "-v prints a fresh seed per run ('$sa', '$sb')"
expect "[ \"\$a\" != \"\$b\" ]" "two runs at temperature 1.5 without --seed differ"
c=$(gen --seed "$sa")
expect "[ -n \"\$a\" ] && [ \"\$a\" = \"\$c\" ]" "--seed with the printed seed repeats the run"
d=$(gen --seed 42); e=$(gen --seed 42 -t 1)
expect "[ -n \"\$d\" ] && [ \"\$d\" = \"\$e\" ]" "--seed 42 twice gives the same text"
expect "\"$R1\" run --help | grep -q 'a fresh one every run'" "run --help documents the seed"

# ---- 5. messages that name the real problem ----------------------------------------------------
echo "hello, this is a text file" > "$TMP/notes.txt"
mkdir -p "$TMP/folder"
for cmd in "run -p hi" info bench "serve --port 0"; do
  for what in notes.txt folder; do
    timeout 20 "$R1" $cmd -m "$TMP/$what" > /dev/null 2> "$TMP/err" < /dev/null; rc=$?
    name=${cmd%% *}
    expect "[ $rc -eq 1 ] && grep -q \"^r1 $name: $TMP/$what is not a model: expected a GGUF file or a Hugging Face folder\" '$TMP/err'" \
      "$name -m $what: not a model (rc $rc: $(head -c 300 "$TMP/err"))"
  done
done
size=$(stat -c %s "$M")
head -c $((size - 1000)) "$M" > "$TMP/cut.gguf"
"$R1" run -m "$TMP/cut.gguf" -p hi > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'looks truncated: expected $size bytes, has $((size - 1000))' '$TMP/err' && grep -q 'r1 pull' '$TMP/err'" \
  "truncated data: expected/has sizes and r1 pull ($(cat "$TMP/err"))"
head -c 2000 "$M" > "$TMP/cut2.gguf"
"$R1" info -m "$TMP/cut2.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'looks truncated' '$TMP/err' && grep -q 'r1 pull' '$TMP/err'" \
  "truncated header ($(cat "$TMP/err"))"
# r1 serve: a missing or broken model fails at once, before the port opens
for bad_model in "$TMP/missing.gguf" "$TMP/cut.gguf" "$TMP/notes.txt"; do
  timeout 20 "$R1" serve -m "$bad_model" --port 0 > "$TMP/out" 2>&1; rc=$?
  expect "[ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q listening '$TMP/out'" \
    "serve -m $(basename "$bad_model") fails before listening (rc $rc: $(head -c 300 "$TMP/out"))"
done

# ---- 4. one interface: --version, man-page help, "r1 CMD: unknown option --x" -------------------
"$R1" --version > "$TMP/v1"; rc1=$?
"$R1" version > "$TMP/v2"; rc2=$?
expect "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s '$TMP/v1' '$TMP/v2'" "--version = version"
for field in '^r1 [0-9]' '^commit: *[0-9a-f]' '^build: *[A-Za-z]' '^kernels: *[a-z]' '^cpu: '; do
  expect "grep -q '$field' '$TMP/v1'" "version shows '$field' ($(tr '\n' '|' < "$TMP/v1"))"
done
commands=$("$R1" --help | awk '/^COMMANDS$/ {f = 1; next} f && /^    [a-z]/ {print $1}')
expect "\"$R1\" --help | head -2 | tr '\\n' ' ' | grep -q '^NAME     r1 - '" "r1 --help is man-page style too"
expect "[ \$(echo \"\$commands\" | wc -w) -ge 17 ]" "r1 --help lists the commands: $commands"
for c in $commands; do
  "$R1" $c --help > "$TMP/h" 2>&1; rc=$?
  expect "[ $rc -eq 0 ] && head -2 '$TMP/h' | tr '\n' ' ' | grep -q '^NAME     r1 $c - ' && grep -q '^SYNOPSIS$' '$TMP/h' && grep -q '^DESCRIPTION$' '$TMP/h'" \
    "r1 $c --help is man-page style (rc $rc: $(head -3 "$TMP/h" | tr '\n' '|'))"
  # an unknown option, alone and before a value, is called that, with the command's prefix
  for args in "--bogus" "--bogus 3"; do
    "$R1" $c $args < /dev/null > /dev/null 2> "$TMP/e"; rc=$?
    expect "[ $rc -eq 2 ] && [ \"\$(head -1 '$TMP/e')\" = 'r1 $c: unknown option --bogus (see \`r1 $c --help\`)' ]" \
      "r1 $c $args: rc $rc, '$(head -1 "$TMP/e")'"
  done
done
for sub in gen eval; do
  expect "\"$R1\" train $sub --help | grep -q 'r1 train $sub'" "r1 train $sub --help (the train page)"
done
"$R1" train --steps > /dev/null 2> "$TMP/e"; rc=$?
expect "[ $rc -eq 2 ] && grep -q '^r1 train: option --steps needs a value' '$TMP/e'" "train: a missing value ($(cat "$TMP/e"))"
"$R1" --bogus > /dev/null 2> "$TMP/e"; rc=$?
expect "[ $rc -eq 2 ] && grep -q '^r1: unknown option --bogus' '$TMP/e'" "r1 --bogus"
touch "$R1_HOME/keep" 2> /dev/null
"$R1" run -m "$M" --temp abc > /dev/null 2> "$TMP/e"; rc=$?
expect "[ $rc -eq 2 ] && grep -q '^r1 run: --temp expects a number' '$TMP/e'" "option values: 'r1 run:' prefix ($(cat "$TMP/e"))"
# sampling settings outside the server's ranges are refused on the command line as in the chat
for bad in "--temp 9" "--temp -1" "--top-p 1.5" "--min-p 2"; do
  "$R1" run -m "$M" -p hi $bad > /dev/null 2> "$TMP/e"; rc=$?
  expect "[ $rc -eq 2 ] && grep -q 'expects a number from 0 to' '$TMP/e'" "run $bad refused ($(cat "$TMP/e"))"
done
"$R1" run -m nosuchmodel > /dev/null 2> "$TMP/e"; rc=$?
expect "[ $rc -eq 1 ] && grep -q '^r1 run: no file or stored model' '$TMP/e'" "model names: 'r1 run:' prefix ($(cat "$TMP/e"))"

# ---- 7. numbers for people ------------------------------------------------------------------------
"$R1" info -m "$M" > "$TMP/info"
expect "grep -Eq '^parameters: +[0-9.]+ [KM] ' '$TMP/info'" "info: parameters in human units ($(grep parameters "$TMP/info"))"
n_ctx=$(sed -n 's/.*trained context \([0-9]*\).*/\1/p' "$TMP/info")
expect "[ -n '$n_ctx' ] && grep -q 'KV cache at $n_ctx tokens' '$TMP/info'" "info: KV cache at the model's own context $n_ctx ($(grep memory "$TMP/info"))"
"$R1" bench -m "$M" -p 8 -n 4 -r 1 -t 1 > "$TMP/bench" 2>&1
expect "grep -Eq '\| [0-9.]+ (KiB|MiB) \| [0-9.]+ [KM] \|' '$TMP/bench'" "bench: size and params in human units ($(grep tg4 "$TMP/bench"))"
"$R1" run -m "$M" -p hi -n 4 --json > "$TMP/j" 2> /dev/null
expect "grep -q '^  \"content\": ' '$TMP/j' && ! grep -q \"\$(printf '\\t')\" '$TMP/j'" "--json: two-space indent, no tabs"
expect "! grep -Eq '_seconds\": [0-9]+\.[0-9]{4,}' '$TMP/j' && ! grep -Eq 'per_second\": [0-9]+\.[0-9]{3,}' '$TMP/j'" \
  "--json: durations to the ms, rates to 0.01 ($(grep -E 'second' "$TMP/j" | tr -d '\n'))"

# ---- 6. names people type: the mixes of r1 quantize in r1 synth; r1 serve without -m ------------
for mix in Q4_K_M Q5_K_S Q3_K_M; do
  "$R1" synth --preset tiny-qwen2 --type $mix -o "$TMP/mix.gguf" > /dev/null 2> "$TMP/e"; rc=$?
  expect "[ $rc -eq 0 ]" "synth --type $mix ($(cat "$TMP/e"))"
  "$R1" info -m "$TMP/mix.gguf" > "$TMP/info" 2>&1
  expect "grep -q '$mix, random weights' '$TMP/info'" "synth $mix names its mix"
done
"$R1" synth --preset tiny-qwen2 --type Q4_K_M -o "$TMP/mix.gguf" > /dev/null 2>&1
"$R1" quantize "$TMP/mix.gguf" "$TMP/mixq.gguf" Q4_K_M > /dev/null 2>&1
"$R1" info -m "$TMP/mix.gguf" | sed -n '/^tensor types:/,/^KV/p' > "$TMP/t1"
"$R1" info -m "$TMP/mixq.gguf" | sed -n '/^tensor types:/,/^KV/p' > "$TMP/t2"
# (tiny rows fall back from Q4_K to Q5_0, and the mix's extra bits to Q8_0: still two types)
expect "[ \$(grep -c 'tensors' '$TMP/t1') -ge 3 ] && cmp -s '$TMP/t1' '$TMP/t2'" \
  "synth Q4_K_M has the tensor types r1 quantize Q4_K_M gives ($(tr '\n' ' ' < "$TMP/t1") vs $(tr '\n' ' ' < "$TMP/t2"))"

# r1 serve without -m serves the default model, as r1 run does ($R1_HOME/models/default.gguf)
mkdir -p "$R1_HOME/models" && cp "$M" "$R1_HOME/models/default.gguf"
"$R1" serve --port 0 > /dev/null 2> "$TMP/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.err" && grep -q loaded "$TMP/serve.err" && break; sleep 0.1; done
kill $serve_pid 2> /dev/null
wait $serve_pid 2> /dev/null
expect "grep -q 'model default.gguf loaded' '$TMP/serve.err' && grep -q 'listening on http://127.0.0.1:' '$TMP/serve.err'" \
  "serve without -m serves the default model ($(tr '\n' '|' < "$TMP/serve.err"))"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
