#!/usr/bin/env bash
# server_throughput.sh — aggregate generated tokens/s of `r1 serve` at 1, 4, 8 and 16 concurrent
# streaming clients on one model (continuous batching: every step decodes all running streams in
# one forward pass). Each client asks for TOKENS tokens (EOS masked with logit_bias so every
# stream generates exactly that many); a warm-up request runs first. Loopback only.
#
#   bench/server_throughput.sh R1_BIN [MODEL.gguf] [TOKENS] [THREADS]
#
# Without MODEL it synthesizes r1-distill-qwen-1.5b (Q8_0, random weights, 1.8 GB) in a temp
# folder. Prints a table: streams, tokens, seconds, aggregate tok/s, per stream, speed-up vs 1.
# R1_BENCH_TEMP (default 0: greedy, so the table measures decoding, not the sampler's sort of the
# whole vocabulary; set 0.6 for R1's sampling).
set -euo pipefail
r1=$1; model=${2:-}; tokens=${3:-64}; threads=${4:-$(nproc)}
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
if [ -z "$model" ]; then
  model=$tmp/model.gguf
  "$r1" synth --preset r1-distill-qwen-1.5b -o "$model" >/dev/null
fi
"$r1" serve -m "$model" --port 0 -np 16 -c 1024 -t "$threads" -n "$tokens" 2>"$tmp/log" &
pid=$!
for _ in $(seq 600); do grep -q "r1 serve: ready" "$tmp/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/log"; exit 1; }; sleep 0.2; done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/log")
url=http://127.0.0.1:$port
eos=$(curl -s "$url/tokenize" -d '{"content":"<｜end▁of▁sentence｜>"}' | sed -n 's/.*"tokens":\[\([0-9]*\)\].*/\1/p')
bias=
if [ -n "$eos" ]; then bias="\"logit_bias\":{\"$eos\":-100},"; fi

one() { # $1 = client number, $2 = output file
  curl -sN "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "{\"messages\":[{\"role\":\"user\",\"content\":\"Stream $1: tell me about the sea.\"}],$bias\"max_tokens\":$tokens,\"temperature\":${R1_BENCH_TEMP:-0},\"seed\":$1,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" >"$2"
}
one 0 "$tmp/warm"
grep -q '"completion_tokens"' "$tmp/warm" || { echo "warm-up failed:"; cat "$tmp/warm"; exit 1; }

echo "model: $(basename "$model"), $threads threads, $tokens tokens per stream"
echo "| streams | tokens | seconds | aggregate tok/s | tok/s per stream | vs 1 stream |"
echo "|---|---|---|---|---|---|"
base=
for n in 1 4 8 16; do
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do one "$i" "$tmp/out.$i" & done
  wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
  t1=$(date +%s.%N)
  total=0
  for i in $(seq "$n"); do
    k=$(grep -o '"completion_tokens":[0-9]*' "$tmp/out.$i" | tail -1 | cut -d: -f2)
    total=$((total + ${k:-0}))
  done
  awk -v n="$n" -v tok="$total" -v t0="$t0" -v t1="$t1" -v base="${base:-0}" 'BEGIN {
    s = t1 - t0; r = tok / s; if (base == 0) base = r;
    printf "| %d | %d | %.2f | %.2f | %.2f | %.2fx |\n", n, tok, s, r, r / n, r / base }'
  [ -z "$base" ] && base=$(awk -v tok="$total" -v t0="$t0" -v t1="$t1" 'BEGIN{print tok/(t1-t0)}')
done
