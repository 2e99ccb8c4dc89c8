#!/usr/bin/env bash
# chat_script.sh — `r1 run` in scriptable mode on a random-weight tiny model: where the answer and
# the reasoning go (--think show|hide|off), --json (one object with the counts and timings),
# --raw, the prompt on stdin, --verbose timings, --chat-template, exit codes, model names and the
# default model, --help. The interactive chat is tested through a pty by tests/unit/test_chat_pty.c.
# Usage: chat_script.sh R1_BIN TEST_DATA_DIR
set -u
R1=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }
have_python=0
command -v python3 > /dev/null && have_python=1

export R1_HOME="$TMP/home"
M="$TMP/tiny.gguf"
"$R1" synth --preset tiny-deepseek2 --seed 5 -o "$M" > /dev/null 2>&1
run() { "$R1" run -m "$M" --temp 0 "$@"; }

# The R1 template opens the reply with "<think>\n": the random model never closes it, so the
# whole output is reasoning. show -> stderr, hide -> nowhere, stdout gets the (empty) answer.
run -p hello -n 16 --think show > "$TMP/out" 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 0 ]" "show: exit 0"
expect "[ -s '$TMP/err' ]" "show: reasoning on stderr"
run -p hello -n 16 --think hide > "$TMP/out2" 2> "$TMP/err2"; rc=$?
expect "[ $rc -eq 0 ] && [ ! -s '$TMP/err2' ]" "hide: nothing on stderr"
expect "cmp -s '$TMP/out' '$TMP/out2'" "show and hide print the same answer"

# --json: one object, reasoning/content split, counts consistent
run -p hello -n 16 --json > "$TMP/j" 2> /dev/null; rc=$?
expect "[ $rc -eq 0 ]" "json: exit 0"
if [ $have_python = 1 ]; then
  expect "python3 - '$TMP/j' <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
assert set(['reasoning', 'content', 'finish_reason', 'prompt_tokens', 'cached_tokens',
            'completion_tokens', 'reasoning_tokens', 'prompt_tokens_per_second',
            'generation_tokens_per_second', 'prompt_seconds', 'generation_seconds']) <= set(o)
assert o['completion_tokens'] <= 16 and o['finish_reason'] in ('stop', 'length')
assert o['think'] == 'show' and o['template'] == 'deepseek-r1'
assert o['reasoning_tokens'] <= o['completion_tokens']
assert o['prompt_tokens'] == 1 + 1 + 5 + 1 + 2  # BOS <User> hello <Assistant> <think> \n
EOF" "json object fields"
fi
expect "grep -q '\"reasoning\"' '$TMP/j' && [ \$(grep -c '^{' '$TMP/j') -eq 1 ]" "json is one object"

# --think off: the reply starts after an empty <think></think>, so the output is the answer
run -p hello -n 16 --think off --json > "$TMP/j" 2> /dev/null
if [ $have_python = 1 ]; then
  expect "python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o[\"think\"]==\"off\" and o[\"prompt_tokens\"]==8+6, o' '$TMP/j'" "think off prefills <think>\\n\\n</think>\\n\\n"
fi

# --raw: no template, no reasoning split: the continuation goes to stdout
run -p "Hello, world" -n 12 --raw > "$TMP/raw" 2> /dev/null; rc=$?
expect "[ $rc -eq 0 ] && [ -s '$TMP/raw' ]" "raw prints a continuation"
a=$(run -p "Hello, world" -n 12 --raw -t 1 2> /dev/null)
expect "[ \"\$a\" = \"\$(cat '$TMP/raw')\" ]" "raw greedy output is deterministic across threads"

# the prompt on stdin (not a terminal) is the scriptable mode too
echo "Hello, world" | run -n 12 --raw > "$TMP/stdin" 2> /dev/null; rc=$?
expect "[ $rc -eq 0 ] && [ -s '$TMP/stdin' ]" "prompt from stdin"

# --verbose: prompt tokens processed and generated tokens with their speeds
run -p hello -n 8 -v > /dev/null 2> "$TMP/err"
expect "grep -Eq '^prompt: [0-9]+ tokens processed, 0 reused from cache \\([0-9]+ in all\\), [0-9.]+ tok/s \\| generated: [0-9]+ tokens' '$TMP/err'" "verbose timings line"

# --chat-template and --system change the prompt
run -p hello -n 4 --json --chat-template chatml > "$TMP/j" 2> /dev/null
expect "grep -q '\"template\":.*\"chatml\"' '$TMP/j'" "chat template override"
run -p hello -n 4 --chat-template nope > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 2 ] && grep -q 'deepseek-r1' '$TMP/err'" "unknown template lists the known ones"
p1=$(run -p hello -n 1 --json 2> /dev/null | grep '"prompt_tokens":' | tr -dc 0-9)
p2=$(run -p hello -n 1 --json --system "Be brief." 2> /dev/null | grep '"prompt_tokens":' | tr -dc 0-9)
expect "[ \"$p2\" -gt \"$p1\" ]" "--system adds to the prompt ($p1 -> $p2)"

# exit codes and messages
run -p hello --think maybe > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 2 ]" "bad --think is a usage error"
run -p hello --bogus > /dev/null 2>&1; rc=$?
expect "[ $rc -eq 2 ]" "unknown option is a usage error"
long=$(head -c 3000 /dev/zero | tr '\0' 'a')
run -p "$long" -c 64 > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'context' '$TMP/err'" "a prompt over the context is an error that says so"
run -p hi -c 32 -n 0 > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 0 ] || ([ $rc -eq 1 ] && grep -q 'context filled up' '$TMP/err')" "filling the context ends cleanly (rc $rc)"
"$R1" run -m "$TMP/none.gguf" -p hi > /dev/null 2> "$TMP/err"; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'none.gguf' '$TMP/err'" "missing model file"

# model names: a file in the store by name; the default model
mkdir -p "$R1_HOME/models"
cp "$M" "$R1_HOME/models/mine.gguf"
expect "'$R1' run -m mine -p hi -n 2 > /dev/null 2>&1" "run -m NAME finds models/NAME.gguf"
repo_default="$(dirname "$R1")/../models/r1-tiny.gguf"
if [ ! -e "$repo_default" ]; then
  (cd "$TMP" && "$R1" run -p hi > /dev/null 2> "$TMP/err"); rc=$?
  expect "[ $rc -eq 2 ] && grep -q -- '-m' '$TMP/err' && grep -q 'r1 pull' '$TMP/err'" "no default model: says what to pass"
fi
cp "$M" "$R1_HOME/models/default.gguf"
expect "(cd '$TMP' && '$R1' run -p hi -n 2 --temp 0 > /dev/null 2>&1)" "default model from \$R1_HOME/models/default.gguf"

# help reads like a man page
expect "'$R1' run --help | grep -q '^SYNOPSIS'" "run --help has a synopsis"
expect "'$R1' run --help | grep -q '/think\\|--think'" "run --help documents --think"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
