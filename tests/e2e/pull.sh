#!/usr/bin/env bash
# pull.sh — `r1 pull`, `r1 list`, `r1 rm` against a local HTTP server (pull_server.py on
# 127.0.0.1): a plain download, a connection cut mid-way then resumed (by a second run, and by the
# automatic retry), a server without Range support, SHA-256 checks (--sha256 and Hugging Face's
# X-Linked-Etag; a mismatch leaves no file), a built-in name through HF_ENDPOINT, Hugging Face
# repositories by USER/REPO:QUANT (a single file and a split one, joined), 404 and non-GGUF
# answers, and the store listing. Usage: pull.sh R1_BIN TEST_DATA_DIR
set -u
R1=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }

if ! command -v python3 >/dev/null; then
  echo "pull.sh: python3 is needed for the local HTTP server" >&2
  exit 1
fi

export R1_HOME="$TMP/home"
WWW="$TMP/www"
MODELS="$R1_HOME/models"
mkdir -p "$WWW"
# a real (tiny) model, so that the downloaded file can also be run
"$R1" synth --preset tiny-deepseek2 --type F32 -o "$WWW/tiny.gguf" >/dev/null 2>&1
cp "$WWW/tiny.gguf" "$WWW/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"
printf '<html>not a model</html>' > "$WWW/page.gguf"
SHA=$(sha256sum "$WWW/tiny.gguf" | cut -d' ' -f1)
SIZE=$(stat -c %s "$WWW/tiny.gguf")

python3 "$HERE/pull_server.py" "$WWW" "$TMP/port" &
SERVER_PID=$!
for _ in $(seq 100); do [ -f "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")
URL="http://127.0.0.1:$PORT"

# 1. plain download: stored under the URL's file name, identical, no .part left
expect "'$R1' pull '$URL/tiny.gguf' > '$TMP/out' 2> '$TMP/err'" "plain pull succeeds"
expect "cmp -s '$WWW/tiny.gguf' '$MODELS/tiny.gguf'" "downloaded file is identical"
expect "[ ! -e '$MODELS/tiny.gguf.part' ]" "no .part after a complete download"
expect "grep -q '$SHA' '$TMP/out'" "pull prints the SHA-256"
expect "'$R1' pull '$URL/tiny.gguf' | grep -q 'already stored'" "second pull: already stored"

# 2. list shows the name and size; run by name
expect "'$R1' list | grep -q '^tiny '" "list shows the model"
expect "'$R1' list | grep -q 'kB\|MB'" "list shows a size"
expect "'$R1' run -m tiny -p hi -n 4 --temp 0 --raw > /dev/null 2>&1" "run -m NAME uses the store"

# 3. connection cut mid-way, no retry: exit 1, a .part of half the size, no final file
rm -f "$WWW/requests.log"
cp "$WWW/tiny.gguf" "$WWW/cutme.gguf"
"$R1" pull --retries 0 "$URL/cut/cutme.gguf" > "$TMP/out" 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ]" "cut download exits 1 (got $rc)"
expect "[ ! -e '$MODELS/cutme.gguf' ]" "cut download leaves no final file"
expect "[ -f '$MODELS/cutme.gguf.part' ]" "cut download keeps the .part"
part=$(stat -c %s "$MODELS/cutme.gguf.part" 2>/dev/null || echo 0)
expect "[ $part -gt 0 ] && [ $part -lt $SIZE ]" "the .part holds part of the file ($part of $SIZE)"
expect "grep -q 'resume' '$TMP/err'" "the message says how to resume"
expect "'$R1' list | grep -q 'cutme (partial)'" "list marks the partial download"
# ... the same command again resumes with a Range request from where it stopped
expect "'$R1' pull --retries 0 '$URL/cut/cutme.gguf' > /dev/null 2>&1" "resume succeeds"
expect "grep -q 'range=bytes=$part-' '$WWW/requests.log'" "resume asked for bytes=$part-"
expect "cmp -s '$WWW/tiny.gguf' '$MODELS/cutme.gguf'" "resumed file is identical"
expect "[ ! -e '$MODELS/cutme.gguf.part' ]" "no .part after the resume"

# 4. the automatic retry resumes within one run; the URL is shown once, the resume point in
# bytes, and with stderr not a terminal no escape sequences
cp "$WWW/tiny.gguf" "$WWW/retry.gguf"
expect "'$R1' pull --retries 2 '$URL/cut/retry.gguf' > /dev/null 2> '$TMP/err'" "auto-retry pull succeeds"
expect "cmp -s '$WWW/tiny.gguf' '$MODELS/retry.gguf'" "auto-retried file is identical"
expect "[ \$(grep -c '$URL/cut/retry.gguf' '$TMP/err') -eq 1 ]" "the URL is shown once ($(tr '\n' '|' < "$TMP/err"))"
expect "grep -Eq '^resuming at [0-9.]+ (kB|MB)$' '$TMP/err'" "the retry says where it resumes"
expect "! grep -q \"\$(printf '\\033')\" '$TMP/err' && ! grep -q \"\$(printf '\\r')\" '$TMP/err'" "no escape sequences or carriage returns off a terminal"

# 4b. Ctrl-C: the part stays, the message says how to resume, the same command resumes
cp "$WWW/tiny.gguf" "$WWW/slow.gguf"
"$R1" pull "$URL/slow/slow.gguf" > /dev/null 2> "$TMP/err" &
pull_pid=$!
for _ in $(seq 200); do
  [ "$(stat -c %s "$MODELS/slow.gguf.part" 2> /dev/null || echo 0)" -gt 8192 ] && break
  sleep 0.05
done
kill -INT $pull_pid
wait $pull_pid; rc=$?
expect "[ $rc -eq 130 ] && grep -q 'interrupted with .* received — run the same command to resume' '$TMP/err'" \
  "Ctrl-C: exit 130 and how to resume (rc $rc: $(tr '\n' '|' < "$TMP/err"))"
part=$(stat -c %s "$MODELS/slow.gguf.part" 2> /dev/null || echo 0)
expect "[ $part -gt 0 ] && [ ! -e '$MODELS/slow.gguf' ]" "Ctrl-C keeps the part ($part bytes)"
expect "'$R1' pull '$URL/slow/slow.gguf' > /dev/null 2> '$TMP/err'" "the same command resumes"
expect "grep -q '^resuming at ' '$TMP/err' && cmp -s '$WWW/tiny.gguf' '$MODELS/slow.gguf'" "resumed after Ctrl-C ($(tr '\n' '|' < "$TMP/err"))"

# 5. a server without Range support: the part restarts from 0 and the result is still right
cp "$WWW/tiny.gguf" "$WWW/norange.gguf"
head -c 1000 "$WWW/tiny.gguf" > "$MODELS/norange.gguf.part"
printf 'garbage' >> "$MODELS/norange.gguf.part"
expect "'$R1' pull '$URL/norange/norange.gguf' > /dev/null 2>&1" "pull from a server without ranges"
expect "cmp -s '$WWW/tiny.gguf' '$MODELS/norange.gguf'" "no-range file is identical"

# 6. checksums: right and wrong --sha256, Hugging Face's X-Linked-Etag right and wrong
cp "$WWW/tiny.gguf" "$WWW/sum.gguf"
"$R1" pull --sha256 "$(printf '%064d' 1)" "$URL/sum.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'checksum mismatch' '$TMP/err'" "wrong --sha256 fails (rc $rc)"
expect "[ ! -e '$MODELS/sum.gguf' ] && [ ! -e '$MODELS/sum.gguf.part' ]" "wrong checksum leaves no file"
expect "'$R1' pull --sha256 $SHA '$URL/sum.gguf' 2>/dev/null | grep -q verified" "right --sha256 verifies"
cp "$WWW/tiny.gguf" "$WWW/tagged.gguf"
"$R1" pull "$URL/badetag/tagged.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'X-Linked-Etag' '$TMP/err'" "wrong X-Linked-Etag fails"
expect "[ ! -e '$MODELS/tagged.gguf' ] && [ ! -e '$MODELS/tagged.gguf.part' ]" "bad etag leaves no file"
expect "'$R1' pull '$URL/etag/tagged.gguf' 2>/dev/null | grep -q verified" "right X-Linked-Etag verifies"

# 7. a built-in name through HF_ENDPOINT (the path layout of huggingface.co)
expect "HF_ENDPOINT='$URL/hf' '$R1' pull deepseek-r1:1.5b > '$TMP/out' 2>&1" "pull deepseek-r1:1.5b"
expect "grep -q 'bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF/resolve/main' '$WWW/requests.log'" "built-in name maps to the HF path"
expect "[ -f '$MODELS/deepseek-r1-1.5b.gguf' ] && grep -q verified '$TMP/out'" "stored as deepseek-r1-1.5b.gguf, verified"
expect "'$R1' list | grep -q '^deepseek-r1:1.5b '" "list shows the built-in name"
expect "'$R1' run -m deepseek-r1:1.5b -p hi -n 3 --temp 0 > /dev/null 2>&1" "run -m deepseek-r1:1.5b"
"$R1" run -m deepseek-r1:7b -p hi > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -ne 0 ] && grep -q 'r1 pull deepseek-r1:7b' '$TMP/err'" "a name not pulled says what to run"

# 7b. Hugging Face repositories by name, as Ollama writes them: hf.co/USER/REPO:QUANT and
# USER/REPO[:QUANT] (default Q4_K_M); the file is found in the repository's listing
# (/api/models/USER/REPO), a split one is fetched shard by shard and joined into one GGUF
R="$WWW/repos/bartowski/Tiny-GGUF"
mkdir -p "$R/Q5_K_M"
cp "$WWW/tiny.gguf" "$R/Tiny-Q8_0.gguf"
"$R1" synth --preset tiny-deepseek2 --type F32 --seed 9 -o "$R/Tiny-Q4_K_M.gguf" > /dev/null 2>&1
printf 'not this one' > "$R/mmproj-Tiny-Q4_K_M.gguf"
cp "$WWW/tiny.gguf" "$R/Tiny-IQ4_K_M.gguf" # a longer name containing Q4_K_M
python3 "$HERE/gguf_split.py" "$WWW/tiny.gguf" 3 "$R/Q5_K_M/Tiny-Q5_K_M"
export HF_ENDPOINT="$URL/hf"
expect "'$R1' pull hf.co/bartowski/Tiny-GGUF:Q8_0 > '$TMP/out' 2> '$TMP/err'" "pull hf.co/USER/REPO:QUANT ($(cat "$TMP/err"))"
expect "cmp -s '$WWW/tiny.gguf' '$MODELS/bartowski-Tiny-GGUF-Q8_0.gguf' && grep -q verified '$TMP/out'" "the Q8_0 file, verified"
expect "grep -q '/hf/bartowski/Tiny-GGUF/resolve/main/Tiny-Q8_0.gguf' '$WWW/requests.log'" "fetched from resolve/main"
expect "'$R1' run -m hf.co/bartowski/Tiny-GGUF:Q8_0 -p hi -n 3 --temp 0 --raw > /dev/null 2>&1" "run -m hf.co/USER/REPO:QUANT uses the stored file"
expect "'$R1' pull bartowski/Tiny-GGUF > /dev/null 2> '$TMP/err'" "pull USER/REPO: Q4_K_M by default ($(cat "$TMP/err"))"
expect "cmp -s '$R/Tiny-Q4_K_M.gguf' '$MODELS/bartowski-Tiny-GGUF-Q4_K_M.gguf'" "Q4_K_M: not the mmproj file, not IQ4_K_M"
expect "'$R1' pull bartowski/Tiny-GGUF:q5_k_m > '$TMP/out' 2> '$TMP/err'" "pull a split quant ($(cat "$TMP/err"))"
expect "grep -q 'joined from 3 shards, each verified' '$TMP/out' && [ \$(grep -c '^pulling ' '$TMP/err') -eq 3 ]" "three shards, joined ($(cat "$TMP/out"))"
expect "[ -z \"\$(ls '$MODELS' | grep shard)\" ]" "no shard files left"
a=$("$R1" run -m bartowski/Tiny-GGUF:Q5_K_M -p "hello there" -n 8 --temp 0 --raw 2> /dev/null)
b=$("$R1" run -m "$WWW/tiny.gguf" -p "hello there" -n 8 --temp 0 --raw 2> /dev/null)
expect "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]" "the joined model generates as the original"
"$R1" pull bartowski/Tiny-GGUF:Q2_K > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'has no Q2_K GGUF file' '$TMP/err' && grep -q 'Tiny-Q8_0.gguf' '$TMP/err' && grep -q 'Tiny-Q5_K_M-00001-of-00003' '$TMP/err' && ! grep -q '00002-of' '$TMP/err'" \
  "a quant the repository lacks lists what it has ($(cat "$TMP/err"))"
"$R1" pull nobody/Nothing-GGUF:Q4_K_M > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'no such repository' '$TMP/err'" "a missing repository ($(cat "$TMP/err"))"
"$R1" run -m nobody/Nothing-GGUF:Q4_K_M -p hi > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'r1 pull nobody/Nothing-GGUF:Q4_K_M' '$TMP/err'" "run of a repository not pulled says what to run"
unset HF_ENDPOINT

# 8. errors: 404, an HTML page, an unknown name
"$R1" pull "$URL/missing.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q '404' '$TMP/err'" "404 is an error"
expect "[ ! -e '$MODELS/missing.gguf' ] && [ ! -e '$MODELS/missing.gguf.part' ]" "404 leaves no file"
"$R1" pull "$URL/page.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'GGUF' '$TMP/err'" "non-GGUF content is refused"
expect "[ ! -e '$MODELS/page.gguf' ] && [ ! -e '$MODELS/page.gguf.part' ]" "non-GGUF leaves no file"
"$R1" pull no-such-model > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 2 ] && grep -q 'deepseek-r1:1.5b' '$TMP/err'" "unknown name lists the known ones"
"$R1" pull "http://127.0.0.1:1/x.gguf" --retries 0 > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ]" "unreachable server is an error"
# refused connections: a few quick tries and the reason, not the backoff meant for broken
# transfers (1+2+4+8+16 s with the default --retries 5)
timeout 15 "$R1" pull "http://127.0.0.1:1/y.gguf" > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'cannot reach the server (3 tries): .*\(onnect\|refused\)' '$TMP/err' && ! grep -q 'resuming at' '$TMP/err'" \
  "connection refused fails quickly with the reason (rc $rc: $(tr '\n' '|' < "$TMP/err"))"

# 9. rm
expect "'$R1' rm tiny deepseek-r1:1.5b > /dev/null" "rm two models"
expect "[ ! -e '$MODELS/tiny.gguf' ] && [ ! -e '$MODELS/deepseek-r1-1.5b.gguf' ]" "rm deleted them"
"$R1" rm tiny > /dev/null 2>&1; rc=$?
expect "[ $rc -eq 1 ]" "rm of a missing model fails"
"$R1" rm ../../etc/passwd > /dev/null 2>&1; rc=$?
expect "[ $rc -eq 1 ]" "rm refuses paths"
expect "'$R1' pull --help | grep -q 'deepseek-r1:1.5b'" "pull --help lists the names"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
