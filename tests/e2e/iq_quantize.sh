#!/usr/bin/env bash
# iq_quantize.sh — the 1-3-bit lattice types end to end through the r1 command: r1 quantize with
# and without an importance matrix (the IQ1/IQ2 mixes refuse without one, a matrix from another
# model is refused by tensor name), the per-tensor types of the lattice and R1 dynamic mixes, and
# synthesized models in those mixes loading and generating. Usage: iq_quantize.sh R1_BIN TEST_DATA_DIR
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

F32=$DATA/models/qwen2-f32.gguf
IM=$DATA/iq/models/qwen2.gguf-imatrix
DSIM=$DATA/iq/models/ds3-new.gguf-imatrix

# refused without an importance matrix, with a message that says what to do
"$R1" quantize "$F32" "$TMP/a.gguf" IQ2_XXS 2>"$TMP/err.txt"
expect "[ $? -eq 2 ] && grep -q 'needs an importance matrix' '$TMP/err.txt' && [ ! -e '$TMP/a.gguf' ]" \
  "IQ2_XXS without --imatrix is refused"
# a matrix made from another model has no statistics for these tensors
"$R1" quantize "$F32" "$TMP/a.gguf" IQ1_S --imatrix "$DSIM" 2>"$TMP/err.txt"
expect "[ $? -ne 0 ] && grep -q 'no statistics for this tensor' '$TMP/err.txt'" \
  "an imatrix of another model is refused"
# not an imatrix at all
"$R1" quantize "$F32" "$TMP/a.gguf" IQ1_S --imatrix "$F32" 2>"$TMP/err.txt"
expect "[ $? -ne 0 ] && grep -q 'not an importance matrix' '$TMP/err.txt'" "a model as imatrix is refused"

for mix in IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S; do
  out="$TMP/q-$mix.gguf"
  expect "'$R1' quantize '$F32' '$out' $mix --imatrix '$IM' 2>/dev/null" "quantize $mix"
  "$R1" info -m "$out" >"$TMP/info.txt" 2>&1
  # the mix's own type is there (the 256-wide matrices of the fixture), output.weight is not it
  expect "grep -q '^  $mix ' '$TMP/info.txt'" "info lists $mix tensors"
  expect "'$R1' logits -m '$out' --tokens 0,300,17,450 --out '$TMP/l.f32' 2>/dev/null" "logits $mix"
  a=$("$R1" run -m "$out" -p "Hello" -n 8 --temp 0 --raw 2>/dev/null)
  b=$("$R1" run -m "$out" -p "Hello" -n 8 --temp 0 --raw -t 1 2>/dev/null)
  expect "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]" "greedy run $mix deterministic across threads"
done
# lattice mixes keep the output higher: Q5_K for IQ1/IQ2, Q6_K for IQ3
expect "'$R1' info -m '$TMP/q-IQ1_S.gguf' | grep -q '^  Q5_K '" "IQ1_S mix: output in Q5_K"
expect "'$R1' info -m '$TMP/q-IQ3_S.gguf' | grep -q '^  Q6_K '" "IQ3_S mix: output in Q6_K"
# requantizing is deterministic whatever the thread count
"$R1" quantize "$F32" "$TMP/t1.gguf" IQ2_XS --imatrix "$IM" -t 1 2>/dev/null
expect "cmp -s '$TMP/t1.gguf' '$TMP/q-IQ2_XS.gguf'" "quantize IQ2_XS: same file with 1 thread"

# r1's own importance matrix (README as calibration text) serves r1 quantize
expect "'$R1' imatrix -m '$F32' -f '$DATA/../../README.md' -o '$TMP/im.gguf' --chunk 64 --chunks 8 2>'$TMP/err.txt'" \
  "r1 imatrix"
expect "grep -q 'wrote .*15 tensors, 8 chunks of 64 tokens' '$TMP/err.txt'" "imatrix: 14 matrices + output, 8 chunks"
expect "'$R1' quantize '$F32' '$TMP/own.gguf' IQ1_M --imatrix '$TMP/im.gguf' 2>/dev/null && '$R1' run -m '$TMP/own.gguf' -p Hi -n 4 --temp 0 >/dev/null 2>&1" \
  "quantize IQ1_M with r1's own imatrix, then run"
"$R1" imatrix -m "$F32" -f /dev/null -o "$TMP/x.gguf" 2>"$TMP/err.txt"
expect "[ $? -ne 0 ] && [ ! -e '$TMP/x.gguf' ]" "imatrix of an empty text fails cleanly"

# R1's dynamic mix on a DeepSeek-V3-layout model whose rows fit 256-blocks (deepseek2-mini, one
# dense and one MoE layer): routed experts low-bit, the rest Q4_K, output Q6_K; loads, generates
syn="$TMP/mini.gguf"
# (about a minute in a Release build; skipped under the sanitizers, where it takes ten)
if "$R1" --version 2>/dev/null | grep -q asan; then
  echo "sanitizer build: deepseek2-mini R1-IQ1_S synth skipped"
else
expect "'$R1' synth --preset deepseek2-mini --layers 2 --type R1-IQ1_S -o '$syn' 2>/dev/null" \
  "synth deepseek2-mini R1-IQ1_S"
"$R1" info -m "$syn" >"$TMP/info.txt" 2>&1
expect "grep -q '^  IQ1_S ' '$TMP/info.txt' && grep -q '^  Q4_K ' '$TMP/info.txt' && grep -q '^  Q6_K ' '$TMP/info.txt'" \
  "R1-IQ1_S: IQ1_S experts, Q4_K rest, Q6_K output"
expect "grep -q '^memory:' '$TMP/info.txt'" "info gives the memory estimate"
a=$("$R1" run -m "$syn" -p "Hello" -n 4 --temp 0 --raw -v 2>&1 >/dev/null | grep -c 'tokens')
expect "[ \"\$a\" -ge 1 ]" "R1-IQ1_S model generates"
fi
for ty in IQ1_M IQ2_XXS IQ3_XXS; do
  expect "'$R1' synth --preset tiny-qwen2 --type $ty -o '$TMP/s-$ty.gguf' 2>/dev/null && '$R1' run -m '$TMP/s-$ty.gguf' -p Hi -n 4 --temp 0 >/dev/null 2>&1" \
    "synth + run tiny-qwen2 $ty"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
