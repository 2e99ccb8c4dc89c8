#!/usr/bin/env bash
# cli_basics.sh — the r1 command end to end on synthesized models: synth every tiny preset in
# several types, info, deterministic greedy generation, logits file size, and clear errors for bad
# arguments and bad files. Usage: cli_basics.sh R1_BIN TEST_DATA_DIR
set -u
R1=$1
DATA=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }

for preset in tiny-deepseek2 tiny-qwen2 tiny-llama; do
  for type in F32 Q8_0 Q4_K IQ4_XS; do
    f="$TMP/$preset-$type.gguf"
    expect "'$R1' synth --preset $preset --type $type --seed 7 -o '$f' 2>/dev/null" "synth $preset $type"
    expect "'$R1' info -m '$f' > '$TMP/info.txt'" "info $preset $type"
    expect "grep -q 'architecture:' '$TMP/info.txt'" "info output $preset $type"
    a=$("$R1" run -m "$f" -p "Hello, world" -n 12 --temp 0 --raw 2>/dev/null)
    b=$("$R1" run -m "$f" -p "Hello, world" -n 12 --temp 0 --raw -t 1 2>/dev/null)
    expect "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]" "greedy run deterministic across threads $preset $type"
  done
done

# same seed -> same file; different seed -> different file
"$R1" synth --preset tiny-qwen2 --seed 1 -o "$TMP/a.gguf" 2>/dev/null
"$R1" synth --preset tiny-qwen2 --seed 1 -t 1 -o "$TMP/b.gguf" 2>/dev/null
"$R1" synth --preset tiny-qwen2 --seed 2 -o "$TMP/c.gguf" 2>/dev/null
expect "cmp -s '$TMP/a.gguf' '$TMP/b.gguf'" "synth is deterministic for a seed, whatever the threads"
expect "! cmp -s '$TMP/a.gguf' '$TMP/c.gguf'" "synth seeds differ"

# the deepseek2 KV cache holds kv_lora + rope values per token per layer
expect "'$R1' info -m '$TMP/tiny-deepseek2-Q8_0.gguf' | grep -q 'KV cache: *40 values per token per layer'" "MLA cache row = 32 + 8"

# logits: n_tokens x n_vocab float32
expect "'$R1' logits -m '$TMP/tiny-llama-Q8_0.gguf' --tokens 0,5,7,300 --out '$TMP/l.f32'" "logits runs"
expect "[ \$(stat -c %s '$TMP/l.f32') -eq \$((4 * 1024 * 4)) ]" "logits size 4 x 1024 x 4 bytes"

# a real vocabulary carried into a synth model tokenizes exactly like its tokenizer.json
text='Hello world, 12345 你好 <think>x</think>'
for pair in tiny-deepseek2:ds3-new-f32 tiny-qwen2:qwen2-f32 tiny-llama:llama3-f32; do
  preset=${pair%%:*}; tj="$DATA/tokenizer/${pair##*:}.tokenizer.json"
  expect "'$R1' synth --preset $preset --tokenizer '$tj' -o '$TMP/tok.gguf' 2>/dev/null" "synth --tokenizer $preset"
  a=$(printf '%s' "$text" | "$R1" tokenize -m "$TMP/tok.gguf" --ids 2>&1)
  b=$(printf '%s' "$text" | "$R1" tokenize -m "$tj" --ids 2>&1)
  expect "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]" "synth vocabulary tokenizes like $tj"
done

# errors: usage -> 2, runtime -> 1, with a message naming the problem
"$R1" run -m "$TMP/a.gguf" --temp abc >/dev/null 2>"$TMP/err"; rc=$?
expect "[ $rc -eq 2 ] && grep -q 'expects a number' '$TMP/err'" "bad option value"
"$R1" run -m "$TMP/missing.gguf" -p hi >/dev/null 2>"$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'missing.gguf' '$TMP/err'" "missing model file"
printf 'not a gguf file' > "$TMP/junk.gguf"
"$R1" info -m "$TMP/junk.gguf" >/dev/null 2>"$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'is not a model: expected a GGUF file or a Hugging Face folder' '$TMP/err'" "junk file"
"$R1" logits -m "$TMP/a.gguf" --tokens 1,99999 --out "$TMP/x" >/dev/null 2>"$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'outside' '$TMP/err'" "token id out of range"
"$R1" frobnicate >/dev/null 2>&1; rc=$?
expect "[ $rc -eq 2 ]" "unknown command"
head -c 2000 "$TMP/a.gguf" > "$TMP/trunc.gguf"
"$R1" info -m "$TMP/trunc.gguf" >/dev/null 2>"$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -qi 'trunc\|past the end\|more than' '$TMP/err'" "truncated file"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
