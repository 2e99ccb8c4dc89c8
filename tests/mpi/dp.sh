#!/usr/bin/env bash
# dp.sh train|grpo R1 DP_DIFF DATA MPIEXEC [FLAGS...] — data-parallel `r1 train` / `r1 grpo` under
# mpirun (docs/distributed.md, "Training"), against one process without mpirun, same seed:
#   - `mpirun -np 1` writes the same model and checkpoint/log, byte for byte
#   - `-np 2` and `-np 3` exit 0, their ranks end with the same weights and optimizer state (the
#     run compares a hash of them over the ranks and says so), and they stay within the documented
#     tolerance of the one-process run: train: loss curve ≤ 1e-6 relative per step, weights ≤ 1e-5
#     (max |a-b| / max |a| per tensor); grpo: the same samples (reward, accuracy, format, length
#     per step), gradient norm ≤ 1e-4 relative, weights ≤ 1e-4
#   - the comparison is not vacuous: a run with another seed is outside those tolerances
#   - train: -np 2 stopped half way and resumed from its checkpoint = the straight -np 2 run
#   - grpo: a rank whose own step fails (its scratch file cannot be written) ends the whole job
set -u
what=$1 r1=$2 diff=$3 data=$4 mpiexec=$5
shift 5
flags=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }

# max over the rows after the header of |a-b| / |a| in column COL of two TSV files
maxrel() {
    paste <(cut -f"$3" "$1") <(cut -f"$3" "$2") |
        awk 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1;
                      r = a > 0 ? d / a : d; if (r > m) m = r }
             END { printf "%.3g\n", m + 0 }'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

if [ "$what" = train ]; then
    args=(--dim 32 --layers 2 --heads 2 --q-lora 16 --kv-lora 16 --nope 8 --rope 8 --v-head 8
        --inter 48 --experts 4 --active 2 --moe-inter 16 --max-len 128 --batch 8
        --tasks add:1-2,countdown:3 --log-every 1 --eval-every 5 --steps 10 --warmup 3 -t 1)
    log=sft.tsv col=2 tol_w=1e-5
    other=(--seed 2)
else
    model=$data/../../models/r1-tiny.gguf
    args=(-m "$model" --tasks mul:2x2,countdown:3 --steps 4 --prompts 5 --group 4 --max-new 64
        --warmup 0 --seed 3 -t 1)
    log=grpo.tsv col=9 tol_w=1e-4
    other=(--seed 4)
fi
run() { # name, then mpirun arguments or none
    local name=$1
    shift
    "$@" "$r1" "$what" "${args[@]}" -o "$tmp/$name.gguf" >"$tmp/$name.out" 2>&1
}

check "run one" "$what: one process"
check "run np1 '$mpiexec' -n 1 ${flags[*]}" "$what: mpirun -np 1"
check "cmp -s '$tmp/one.gguf' '$tmp/np1.gguf'" "$what: -np 1 writes the same model as one process"
if [ "$what" = train ]; then
    check "cmp -s '$tmp/one.ckpt' '$tmp/np1.ckpt'" "train: -np 1 writes the same checkpoint"
    check "cmp -s <(cut -f1-5 '$tmp/one.$log') <(cut -f1-5 '$tmp/np1.$log')" \
        "train: -np 1 logs the same losses and gradient norms"
fi
for np in 2 3; do
    check "run np$np '$mpiexec' -n $np ${flags[*]}" "$what: mpirun -np $np exits 0"
    check "grep -q '$np ranks, weights and optimizer state identical' '$tmp/np$np.out'" \
        "$what: -np $np: every rank has the same weights and optimizer state"
    w=$("$diff" "$tmp/one.gguf" "$tmp/np$np.gguf" "$tol_w")
    check "'$diff' '$tmp/one.gguf' '$tmp/np$np.gguf' $tol_w >/dev/null" \
        "$what: -np $np weights within $tol_w of one process ($w)"
    r=$(maxrel "$tmp/one.$log" "$tmp/np$np.$log" $col)
    if [ "$what" = train ]; then
        check "le $r 1e-6" "train: -np $np loss curve within 1e-6 of one process (max $r)"
    else
        check "cmp -s <(cut -f1-5 '$tmp/one.$log') <(cut -f1-5 '$tmp/np$np.$log')" \
            "grpo: -np $np draws the same samples (reward, accuracy, format, length)"
        check "le $r 1e-4" "grpo: -np $np gradient norms within 1e-4 of one process (max $r)"
    fi
done
if [ "$what" = train ]; then
    # stopped half way and resumed, both under -np 2: the same model as the straight -np 2 run
    check "'$mpiexec' -n 2 ${flags[*]} '$r1' train ${args[*]} --stop-after 5 -o '$tmp/half.gguf' \
        >/dev/null 2>&1" "train: -np 2, first half"
    check "'$mpiexec' -n 2 ${flags[*]} '$r1' train --resume '$tmp/half.ckpt' -o '$tmp/half.gguf' \
        -t 1 >'$tmp/resume.out' 2>&1" "train: -np 2, resumed"
    check "cmp -s '$tmp/half.gguf' '$tmp/np2.gguf' && cmp -s '$tmp/half.ckpt' '$tmp/np2.ckpt'" \
        "train: -np 2 stopped and resumed = straight, byte for byte"
    # a rank that hangs (SIGSTOP: a stuck machine or a lost network) mid-training: the others give
    # up after R1_DIST_TRAIN_TIMEOUT / R1_DIST_TIMEOUT seconds, rank 0 names it, the job ends
    long=("${args[@]}" --steps 1000000) # the last --steps counts
    R1_DIST_TIMEOUT=3 R1_DIST_TRAIN_TIMEOUT=3 "$mpiexec" -n 2 "${flags[@]}" "$r1" train \
        "${long[@]}" -o "$tmp/hang.gguf" >"$tmp/hang.out" 2>&1 </dev/null &
    job=$!
    w=""
    for _ in $(seq 150); do # rank 1's pid (Open MPI: OMPI_COMM_WORLD_RANK, MPICH: PMI_RANK)
        sleep 0.2
        for p in $(pgrep -f "$r1 train"); do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
                grep -qxE "OMPI_COMM_WORLD_RANK=1|PMI_RANK=1" && w=$p
        done
        [ -n "$w" ] && grep -q "^step\|^ *[0-9]" "$tmp/hang.out" && break
    done
    sleep 1
    check '[ -n "$w" ]' "train: found rank 1"
    start=$(date +%s)
    [ -n "$w" ] && kill -STOP "$w"
    for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
        kill -KILL "$job" 2>/dev/null
        check false "train: the job ended within 30 s after SIGSTOP to rank 1"
    else
        wait "$job"
        rc=$?
        check "[ $rc -ne 0 ]" "train: SIGSTOP to rank 1 ends the job (exit $rc in $(($(date +%s) - start)) s)"
    fi
    [ -n "$w" ] && kill -KILL "$w" 2>/dev/null
    check "grep -q 'not answering: 1' '$tmp/hang.out'" "train: rank 0 names rank 1" ||
        tail -5 "$tmp/hang.out"
fi
if [ "$what" = grpo ]; then
    # rank 1 alone cannot write its scratch copy of the weights (a directory is in the way) while
    # rank 0 waits for its samples: the job must end non-zero, soon, saying why
    mkdir -p "$tmp/f.grpo.tsv.scratch.1.gguf"
    start=$(date +%s)
    timeout 60 "$mpiexec" -n 2 "${flags[@]}" "$r1" grpo "${args[@]}" -o "$tmp/f.gguf" \
        >"$tmp/f.out" 2>&1 </dev/null
    rc=$? took=$(($(date +%s) - start))
    check "[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $took -le 30 ]" \
        "grpo: one rank failing alone ends the job (exit $rc in ${took}s)"
    check "grep -q 'scratch.1.gguf.*Is a directory' '$tmp/f.out'" "grpo: the failing rank says why"
fi
# not vacuous: another seed is far outside the tolerances
args+=("${other[@]}")
check "run seed" "$what: another seed"
check "! '$diff' '$tmp/one.gguf' '$tmp/seed.gguf' $tol_w >/dev/null" \
    "$what: another seed's weights are outside $tol_w"
echo "$what: $([ $fail -eq 0 ] && echo all passed || echo FAILED)"
exit $fail
