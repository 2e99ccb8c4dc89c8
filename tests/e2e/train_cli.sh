#!/usr/bin/env bash
# train_cli.sh — `r1 train` and `r1 grpo` end to end on a small model: a short SFT run writes a
# GGUF, a checkpoint, a log and an SVG; stopping half way and resuming from the checkpoint gives a
# byte-identical model (also with another thread count); the model runs in `r1 run`; `r1 train
# gen` / `eval` work; one GRPO step writes its log and curves; the MTP module is trained, logged
# and exported by default and absent with --mtp-lambda 0; bad options are refused.
# Usage: train_cli.sh R1_BIN TEST_DATA_DIR
set -u
R1=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { if eval "$1"; then ok; else bad "$2"; fi; }

SMALL="--dim 32 --layers 2 --heads 2 --q-lora 16 --kv-lora 16 --nope 8 --rope 8 --v-head 8 \
  --inter 48 --experts 4 --active 2 --moe-inter 16 --max-len 128 --batch 4 --tasks add:1-2,countdown:3 \
  --log-every 2 --eval-every 4"

expect "'$R1' train -o '$TMP/a.gguf' $SMALL --steps 8 -t 2 2>'$TMP/a.log'" "train 8 steps"
for f in a.gguf a.ckpt a.sft.tsv a.svg; do expect "[ -s '$TMP/$f' ]" "train wrote $f"; done
expect "grep -q 'held-out' '$TMP/a.log'" "train logs the held-out loss"
expect "grep -q '<svg' '$TMP/a.svg'" "curves are an SVG"
expect "grep -q ' mtp [0-9.]* acc ' '$TMP/a.log' && head -1 '$TMP/a.sft.tsv' | grep -q mtp_acc" "train logs the MTP loss and accuracy"
expect "grep -q 'MTP' '$TMP/a.svg'" "curves include the MTP module"
expect "'$R1' info -m '$TMP/a.gguf' | grep -q nextn_predict_layers" "the model has its MTP module"
expect "'$R1' train -o '$TMP/n.gguf' $SMALL --steps 2 --mtp-lambda 0 -t 1 2>'$TMP/n.log'" "train without MTP"
expect "! grep -q ' mtp ' '$TMP/n.log' && ! '$R1' info -m '$TMP/n.gguf' | grep -q nextn" "--mtp-lambda 0: no MTP module"

# stop after 4 steps, resume with another thread count: the same model, byte for byte
expect "'$R1' train -o '$TMP/b.gguf' $SMALL --steps 8 --stop-after 4 -t 1 2>/dev/null" "train half"
expect "'$R1' train --resume '$TMP/b.ckpt' -o '$TMP/b.gguf' -t 2 2>'$TMP/b.log'" "resume"
expect "grep -q 'resuming' '$TMP/b.log'" "resume says so"
expect "cmp -s '$TMP/a.gguf' '$TMP/b.gguf'" "resumed model identical to the straight run"
expect "cmp -s '$TMP/a.ckpt' '$TMP/b.ckpt'" "resumed checkpoint identical to the straight run"

# the engine runs it (chat template from the file, greedy)
expect "'$R1' run -m '$TMP/a.gguf' -p 'Compute 12+34.' -n 8 --temp 0 >/dev/null 2>&1" "r1 run loads the model"
expect "'$R1' info -m '$TMP/a.gguf' | grep -q deepseek2" "r1 info says deepseek2"

expect "'$R1' train gen --tasks mul:2x2 -n 2 | grep -q 'boxed'" "train gen"
expect "'$R1' train gen --tasks add:3 -n 3 --split test --jsonl | grep -c problem | grep -q 3" "train gen jsonl"
expect "'$R1' train eval -m '$TMP/a.gguf' --tasks add:2 -n 3 --max-new 16 -t 2 | grep -q 'add:2'" "train eval"

expect "'$R1' grpo -m '$TMP/a.gguf' -o '$TMP/g.gguf' --tasks add:1-2 --steps 1 --prompts 2 --group 3 \
  --max-new 24 --keep-uniform -t 2 --eval-tasks add:1 --eval-n 2 --eval-every 1 2>'$TMP/g.log'" "grpo 1 step"
for f in g.gguf g.grpo.tsv g.svg; do expect "[ -s '$TMP/$f' ]" "grpo wrote $f"; done
expect "grep -q 'reward' '$TMP/g.log' && grep -q 'held-out' '$TMP/g.log'" "grpo logs reward and held-out accuracy"
expect "grep -q 'SFT' '$TMP/g.svg' && grep -q 'KL' '$TMP/g.svg'" "grpo curves include SFT loss and KL"
expect "grep -q ' mtp [0-9.]* acc ' '$TMP/g.log' && head -1 '$TMP/g.grpo.tsv' | grep -q mtp_acc" "grpo logs the MTP loss and accuracy"

# refusals
expect "! '$R1' train 2>/dev/null" "train without -o"
expect "! '$R1' train -o '$TMP/x.gguf' --tasks div:3 2>/dev/null" "unknown task"
expect "! '$R1' train -o '$TMP/x.gguf' --experts 3 --active 4 2>/dev/null" "bad MoE config"
expect "! '$R1' train -o '$TMP/x.gguf' --mtp-lambda -1 2>/dev/null" "negative MTP weight"
expect "! '$R1' train --resume '$TMP/a.gguf' -o '$TMP/x.gguf' 2>/dev/null" "resume from a model, not a checkpoint"
expect "! '$R1' grpo -m '$TMP/missing.gguf' -o '$TMP/x.gguf' 2>/dev/null" "grpo from a missing model"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
