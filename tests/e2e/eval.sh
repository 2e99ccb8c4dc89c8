#!/usr/bin/env bash
# eval.sh — `r1 eval` end to end on a random-weight model: the report's numbers match a count this
# script does itself from the per-item JSONL; a run cut short (--limit, a torn last line, SIGINT)
# and resumed gives the same records and report as one uninterrupted run, whatever --parallel;
# malformed lines are reported with their line numbers (skipped, or fatal with --strict); choice
# (generated and log-probability), perplexity, --summarize, the trainer's JSONL layout.
# Usage: eval.sh R1_BIN TEST_DATA_DIR
set -u
R1=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }
cd "$TMP" || exit 1

"$R1" synth --preset tiny-deepseek2 --seed 3 -o tiny.gguf 2>/dev/null || { echo "synth failed"; exit 1; }

# 12 math items with one-digit answers (a random model's last number is sometimes right), in the
# AIME/MATH/GSM8K/trainer layouts, and malformed lines at 3, 6, 9 and 12
python3 - <<'EOF' > math.jsonl
import json, random
r = random.Random(7)
layouts = [lambda q, a: {"problem": q, "answer": a}, lambda q, a: {"Problem": q, "Answer": int(a)},
           lambda q, a: {"question": q, "answer": "work... #### " + a},
           lambda q, a: {"problem": q, "solution": "so $\\boxed{%s}$" % a}]
bad = {3: "not json", 6: '{"problem": "no answer"}', 9: '["a list"]', 12: '{"problem": "cut'}
line, n = 1, 0
while n < 12:
    if line in bad:
        print(bad[line])
    else:
        print(json.dumps(layouts[n % 4]("Compute %d + %d." % (n, n + 1), str(r.randint(0, 9)))))
        n += 1
    line += 1
EOF

common=(-m tiny.gguf --task math --data math.jsonl --samples 4 --max-tokens 40 --template chatml
  --seed 11)
"$R1" eval "${common[@]}" -o full.jsonl --json > full.json 2> full.err; rc=$?
expect "[ $rc -eq 0 ]" "full run exits 0 (got $rc)"
for l in 3 6 9 12; do
  expect "grep -q 'math.jsonl:$l:' full.err" "malformed line $l reported"
done
expect "grep -q '4 malformed lines skipped, 12 items' full.err" "malformed lines counted"

# the report against a count from the per-item records
cat > check.py <<'EOF'
import json, math, sys
rep = json.load(open(sys.argv[2]))
items = [o for o in map(json.loads, open(sys.argv[1])) if o["type"] == "item"]
errors = []
def same(name, got, want):
    if abs(got - want) > 1e-5: errors.append("%s: report %r, count %r" % (name, got, want))
k = len(items[0]["samples"])
samples = [s for o in items for s in o["samples"]]
same("n_items", rep["n_items"], len(items))
same("n_samples", rep["n_samples"], len(samples))
same("n_correct", rep["n_correct"], sum(s["correct"] for s in samples))
p1 = [sum(s["correct"] for s in o["samples"]) / k for o in items]
mean = sum(p1) / len(p1)
same("pass@1", rep["pass@1"]["mean"], mean)
if len(p1) > 1:
    sd = math.sqrt(sum((x - mean) ** 2 for x in p1) / (len(p1) - 1))
    same("pass@1 stderr", rep["pass@1"]["stderr"], sd / math.sqrt(len(p1)))
for kk, v in rep["pass@k"].items():
    kk = int(kk)
    def pk(c):
        return 1.0 if k - c < kk else 1 - math.comb(k - c, kk) / math.comb(k, kk)
    same("pass@%d" % kk, v, sum(pk(sum(s["correct"] for s in o["samples"])) for o in items) / len(items))
same("cons@%d" % k, rep["cons@%d" % k], sum(o["cons_correct"] for o in items) / len(items))
same("truncation", rep["truncation_rate"], sum(s["finish"] != "stop" for s in samples) / len(samples))
same("no answer", rep["no_answer_rate"], sum(s["answer"] is None for s in samples) / len(samples))
same("reasoning", rep["mean_reasoning_tokens"], sum(s["n_reasoning_tokens"] for s in samples) / len(samples))
same("answer", rep["mean_answer_tokens"], sum(s["n_answer_tokens"] for s in samples) / len(samples))
same("tokens", rep["generated_tokens"], sum(s["n_tokens"] for s in samples))
for o in items:
    answers = [s["answer"] for s in o["samples"]]
    if (o["cons_answer"] is None) != all(a is None for a in answers):
        errors.append("line %d: cons_answer %r with answers %r" % (o["line"], o["cons_answer"], answers))
    for s in o["samples"]:
        if s["n_answer_tokens"] != s["n_tokens"] - s["n_reasoning_tokens"]:
            errors.append("line %d: token counts" % o["line"])
        a = s["answer"]
        if rep["config"]["task"] == "math" and a is not None and a.lstrip("-").isdigit():
            if s["correct"] != (int(a) == int(o["reference"])):
                errors.append("line %d: %r vs %r scored %r" % (o["line"], a, o["reference"], s["correct"]))
        if rep["config"]["task"] == "choice" and s["correct"] != (a == o["reference"]):
            errors.append("line %d: letter %r vs %r scored %r" % (o["line"], a, o["reference"], s["correct"]))
print("\n".join(errors) if errors else "ok")
sys.exit(1 if errors else 0)
EOF
expect "python3 check.py full.jsonl full.json > check.out" "report matches the count: $(cat check.out 2>/dev/null)"
expect "[ \$(grep -c '\"type\":\"item\"' full.jsonl) -eq 12 ]" "12 item records"
expect "python3 -c \"import json; r=json.load(open('full.json')); assert r['config']['seed']=='11' and r['n_samples']==48\"" "seeds and sample count recorded"
expect "python3 -c \"import json; [int(s['seed']) for o in map(json.loads, open('full.jsonl')) if o['type']=='item' for s in o['samples']]\"" "each sample records its seed"

# the same run cut short by --limit, a torn last line, resumed with other --parallel
"$R1" eval "${common[@]}" -o part.jsonl --limit 5 --parallel 3 > /dev/null 2>&1
printf '{"type":"item","line":99,"samp' >> part.jsonl
"$R1" eval "${common[@]}" -o part.jsonl --resume --parallel 7 --json > part.json 2> part.err; rc=$?
expect "[ $rc -eq 0 ]" "resume exits 0"
expect "grep -q 'resuming part.jsonl: 5 items done, 7 to run' part.err" "resume skips finished items"
expect "grep -q 'incomplete last record' part.err" "torn line dropped"
cat > same.py <<'EOF'
import json, sys
def recs(p):
    return {o["line"]: o for o in map(json.loads, open(p)) if o["type"] == "item"}
def rep(p):
    r = json.load(open(p)); r.pop("timing", None); return r
a, b = recs(sys.argv[1]), recs(sys.argv[2])
ok = a == b and rep(sys.argv[3]) == rep(sys.argv[4]) and len(a) > 0
if not ok: print("differ: %d vs %d records" % (len(a), len(b)))
sys.exit(0 if ok else 1)
EOF
expect "python3 same.py full.jsonl part.jsonl full.json part.json" "resumed run = uninterrupted run"

# interrupted by SIGINT mid-run, then resumed (longer generations so that the signal lands mid-way)
long=(-m tiny.gguf --task math --data math.jsonl --samples 2 --max-tokens 300 --template chatml
  --seed 5 --parallel 1)
"$R1" eval "${long[@]}" -o long_full.jsonl --json > long_full.json 2>/dev/null
"$R1" eval "${long[@]}" -o long_cut.jsonl > /dev/null 2> long_cut.err &
pid=$!
for _ in $(seq 1 200); do
  n=$(grep -c '"type":"item"' long_cut.jsonl 2>/dev/null)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.05
done
kill -INT $pid 2>/dev/null
wait $pid; rc=$?
echo "SIGINT test: exit $rc after $(grep -c '"type":"item"' long_cut.jsonl) items"
if [ $rc -eq 130 ]; then
  expect "grep -q 'add --resume to continue' long_cut.err" "interrupted run says how to resume"
  n_cut=$(grep -c '"type":"item"' long_cut.jsonl)
  expect "[ $n_cut -lt 12 ]" "interrupted before the end ($n_cut items)"
else
  expect "[ $rc -eq 0 ]" "run finished before the signal (rc $rc)"
fi
"$R1" eval "${long[@]}" -o long_cut.jsonl --resume --json > long_cut.json 2>/dev/null
expect "python3 same.py long_full.jsonl long_cut.jsonl long_full.json long_cut.json" "SIGINT + resume = uninterrupted"

# resuming needs the same settings; an existing file is not overwritten by accident
"$R1" eval "${common[@]}" --seed 12 -o full.jsonl --resume > /dev/null 2> err; rc=$?
expect "[ $rc -eq 2 ] && grep -q 'seed was' err" "resume with another seed refused"
"$R1" eval "${common[@]}" -o full.jsonl > /dev/null 2> err; rc=$?
expect "[ $rc -eq 2 ] && grep -q 'exists' err" "existing results file kept"
"$R1" eval "${common[@]}" --strict -o strict.jsonl > /dev/null 2> err; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'math.jsonl:3: not valid JSON' err" "--strict: malformed line is fatal"
printf 'garbage\n\n{"x":1}\n' > allbad.jsonl
"$R1" eval -m tiny.gguf --task math --data allbad.jsonl -o allbad.out > /dev/null 2> err; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'no valid item' err" "no valid item"

# --summarize recomputes the report from the results file alone
"$R1" eval --summarize full.jsonl --json > summary.json
expect "python3 -c \"import json; a=json.load(open('full.json')); b=json.load(open('summary.json')); a.pop('timing'); assert a==b\"" "--summarize = the run's report"
expect "'$R1' eval --summarize full.jsonl | grep -q '| pass@1 |'" "markdown report"

# choice: generated letters and log-probabilities, MMLU and GPQA layouts
cat > choice.jsonl <<'EOF'
{"question": "2+2?", "subject": "arith", "choices": ["3", "4", "5", "6"], "answer": 1}
{"Question": "Capital of France?", "Correct Answer": "Paris", "Incorrect Answer 1": "Rome", "Incorrect Answer 2": "Berlin", "Incorrect Answer 3": "Madrid"}
{"question": "Pick", "options": {"A": "x", "B": "y"}, "answer": "B"}
{"question": "one choice", "choices": ["a"], "answer": 0}
{"question": "Ten", "choices": ["0","1","2","3","4","5","6","7","8","9"], "answer": "J"}
EOF
"$R1" eval -m tiny.gguf --task choice --data choice.jsonl --samples 2 --max-tokens 30 -o ch.jsonl --json > ch.json 2> err; rc=$?
expect "[ $rc -eq 0 ] && grep -q 'choice.jsonl:4:' err" "choice run, bad line reported"
expect "python3 check.py ch.jsonl ch.json > check.out" "choice report matches: $(cat check.out)"
"$R1" eval -m tiny.gguf --task choice --data choice.jsonl --score logprob -o lp.jsonl --json > lp.json 2>/dev/null; rc=$?
expect "[ $rc -eq 0 ] && python3 check.py lp.jsonl lp.json > check.out" "logprob report matches: $(cat check.out)"
expect "python3 -c \"import json; r=[o for o in map(json.loads, open('lp.jsonl')) if o['type']=='item']; assert len(r)==4 and all(len(o['samples'][0]['logprobs'])>=2 and o['samples'][0]['answer'] for o in r)\"" "logprob scores every letter"

# perplexity with its confidence interval
python3 -c "print(' '.join('the quick brown fox %d jumps over the lazy dog.' % i for i in range(300)))" > text.txt
"$R1" eval -m tiny.gguf --task perplexity --data text.txt --ctx 256 --json > ppl.json 2>/dev/null; rc=$?
expect "[ $rc -eq 0 ] && python3 -c \"import json,math; r=json.load(open('ppl.json')); lo,hi=r['ppl_ci95']; assert math.isfinite(r['ppl']) and lo<r['ppl']<hi and r['n_tokens']>1000\"" "perplexity with a CI"

# the trainer's synthetic tasks through the same command
if "$R1" train gen --tasks add:2 -n 6 --split test --jsonl > train.jsonl 2>/dev/null && [ -s train.jsonl ]; then
  "$R1" eval -m tiny.gguf --task math --data train.jsonl --greedy --max-tokens 16 -o tr.jsonl --json > tr.json 2>/dev/null; rc=$?
  expect "[ $rc -eq 0 ] && python3 -c \"import json; assert json.load(open('tr.json'))['n_items']==6\"" "trainer JSONL evaluates"
fi

# usage errors
"$R1" eval -m tiny.gguf --task nope --data math.jsonl > /dev/null 2>&1; rc=$?
expect "[ $rc -eq 2 ]" "unknown task"
"$R1" eval -m tiny.gguf --task math > /dev/null 2>&1; rc=$?
expect "[ $rc -eq 2 ]" "missing --data"
"$R1" eval -m tiny.gguf --task math --data missing.jsonl > /dev/null 2> err; rc=$?
expect "[ $rc -eq 1 ] && grep -q 'missing.jsonl' err" "missing data file"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
