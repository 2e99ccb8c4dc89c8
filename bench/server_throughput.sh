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
# whole vocabulary; set 0.6 for R1's sampling). R1_BENCH_ROUNDS (default 3): rounds over all
# stream counts; the table shows medians.
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
rounds=${R1_BENCH_ROUNDS:-3}
# rounds go over all stream counts in turn, so the machine's drifts hit every count alike
for r in $(seq "$rounds"); do
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
    echo "$n $total $t0 $t1" >> "$tmp/runs"
  done
done
echo "rounds: $rounds (medians of the aggregate rate per stream count)"
echo "| streams | tokens per round | aggregate tok/s (median) | all rounds | tok/s per stream | vs 1 stream |"
echo "|---|---|---|---|---|---|"
awk '{ r = $2 / ($4 - $3); rates[$1] = rates[$1] " " sprintf("%.2f", r); tok[$1] = $2 }
  END {
    split("1 4 8 16", ns, " ");
    for (k = 1; k <= 4; k++) {
      n = ns[k]; m = split(rates[n], v, " ");
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2;
      if (n == 1) base = med;
      printf "| %d | %d | %.2f | %s | %.2f | %.2fx |\n", n, tok[n], med, rates[n], med / n, med / base
    }
  }' "$tmp/runs"
