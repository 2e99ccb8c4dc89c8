#!/usr/bin/env bash
# compare_peers.sh — r1 vs llama.cpp (and ik_llama.cpp) on the same GGUF files, same threads,
# alternating the engines in one session (this VM is noisy: never compare runs from different
# sessions). Prints each engine's median t/s per test and the ratio r1 ÷ peer.
#
#   bench/compare_peers.sh R1_BIN LLAMA_BENCH [IK_LLAMA_BENCH|-] MODEL.gguf [ROUNDS] [THREADS]
#
# The peers are built outside this repository from their public sources (docs/PERFORMANCE.md).
# Tests: pp512 and tg128 (llama-bench -p 512 -n 128), one repetition per round, ROUNDS rounds;
# other sizes with P=... N=... in the environment (N=0: prefill only). ik_llama.cpp runs at its
# best CPU settings, IK_FLAGS (default "-rtr 1 -thp 1": run-time repacking, transparent huge pages;
# its defaults already include -fa 1 -mla 3 -fmoe 1).
set -euo pipefail
r1=$1; llama=$2; ik=$3; model=$4; rounds=${5:-5}; threads=${6:-2}
P=${P:-512}; N=${N:-128}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run_r1() { "$r1" bench -m "$model" -t "$threads" -p "$P" -n "$N" -r 1 --no-mmap 2>/dev/null |
  awk -F'|' '/ pp[0-9]+ | tg[0-9]+ /{gsub(/ /,"",$6); gsub(/ /,"",$7); split($7,a,"±"); print $6, a[1]}'; }
IK_FLAGS=${IK_FLAGS:--rtr 1 -thp 1}
run_llama() { # CSV with quoted fields that may hold commas (ik_llama.cpp's tensor_split "-1,0")
  # shellcheck disable=SC2086 # $2: the engine's extra flags, word-split on purpose
  "$1" -m "$model" -t "$threads" -p "$P" -n "$N" -r 1 -mmp 0 $2 -o csv 2>/dev/null | python3 -c '
import csv, sys
for d in csv.DictReader(sys.stdin):
    if d.get("n_prompt") and d.get("avg_ts"):  # ik_llama.cpp prints warnings into the CSV
        print(("pp" + d["n_prompt"]) if int(d["n_prompt"]) > 0 else ("tg" + d["n_gen"]), d["avg_ts"])'; }

for ((r = 0; r < rounds; r++)); do
  run_r1 | sed 's/^/r1 /' >> "$tmp/all"
  run_llama "$llama" "" | sed 's/^/llama.cpp /' >> "$tmp/all"
  if [ "$ik" != "-" ]; then run_llama "$ik" "$IK_FLAGS" | sed 's/^/ik_llama.cpp /' >> "$tmp/all"; fi
done
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "model: $model, threads: $threads, rounds: $rounds (medians, tokens/s)"
tests="pp$P"; [ "$N" != 0 ] && tests="$tests tg$N"
for test in $tests; do
  r=$(awk -v t=$test '$1=="r1" && $2==t {print $3}' "$tmp/all" | median)
  line="$test: r1 $r"
  for peer in llama.cpp ik_llama.cpp; do
    p=$(awk -v e=$peer -v t=$test '$1==e && $2==t {print $3}' "$tmp/all" | median)
    [ -n "$p" ] && line="$line | $peer $p (r1/peer $(awk -v a=$r -v b=$p 'BEGIN{printf "%.2f", a/b}'))"
  done
  echo "$line"
done
