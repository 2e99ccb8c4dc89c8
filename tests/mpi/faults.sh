#!/usr/bin/env bash
# faults.sh R1 DATA MPIEXEC [FLAGS...] — a split model's failures end the job with a message
# (docs/distributed.md, "Faults"):
#   1. a worker killed mid-generation: the job ends non-zero within 30 s, naming rank 1
#   2. a worker stopped (hung, or its network gone): rank 0 names rank 1 after R1_DIST_TIMEOUT
#      seconds and the job ends non-zero within 30 s
#   3. ranks given different model files: refused at load, naming the rank
set -u
r1=$1 data=$2 mpiexec=$3
shift 3
flags=("$@")
model=$data/../../models/r1-tiny.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 R1_DIST_TIMEOUT=5
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }

# rank 1's pid among the launcher's descendants (Open MPI: OMPI_COMM_WORLD_RANK, MPICH: PMI_RANK)
worker_pid() {
    for p in $(pgrep -f "$r1 bench"); do
        if tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -qxE "OMPI_COMM_WORLD_RANK=1|PMI_RANK=1"; then
            echo "$p"
            return
        fi
    done
}

for sig in KILL STOP; do
    "$mpiexec" -n 2 "${flags[@]}" "$r1" bench -m "$model" -p 0 -n 1000000 -r 1 -t 1 \
        >"$tmp/out" 2>&1 </dev/null &
    job=$!
    w=""
    for _ in $(seq 100); do # wait for the model to load and decoding to start
        sleep 0.2
        w=$(worker_pid)
        [ -n "$w" ] && grep -q "^|---" "$tmp/out" && break
    done
    sleep 1
    check '[ -n "$w" ]' "found rank 1 ($sig)"
    [ -n "$w" ] || { kill "$job"; continue; }
    t0=$(date +%s)
    kill -"$sig" "$w"
    for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
        check false "job ended within 30 s after SIG$sig to rank 1"
        kill -KILL "$job" "$w" 2>/dev/null
        continue
    fi
    wait "$job"
    rc=$?
    secs=$(($(date +%s) - t0))
    kill -KILL "$w" 2>/dev/null # a stopped worker the launcher could not end
    check '[ "$rc" != 0 ]' "SIG$sig to rank 1: exit status $rc (non-zero), after ${secs} s"
    if [ "$sig" = KILL ]; then
        # Open MPI's mpirun names the rank; MPICH's hydra ends the job at once and names the pid
        check 'grep -qiE "rank 1|process 1|PID $w RUNNING" "$tmp/out"' "SIGKILL: the output names rank 1"
    else
        check 'grep -q "not answering: 1 " "$tmp/out"' "SIGSTOP: rank 0 names rank 1"
    fi
    [ "$fail" = 0 ] || tail -20 "$tmp/out"
done

# different files on the two ranks (MPMD launch: one command line per rank)
cp "$model" "$tmp/other.gguf"
printf 'x' >>"$tmp/other.gguf"
"$mpiexec" -n 1 "${flags[@]}" "$r1" logits -m "$model" --tokens 1,2,3 -o "$tmp/l" -t 1 : \
    -n 1 "$r1" logits -m "$tmp/other.gguf" --tokens 1,2,3 -o "$tmp/l" -t 1 >"$tmp/out" 2>&1 </dev/null
rc=$?
check '[ "$rc" != 0 ]' "different files: exit status $rc (non-zero)"
check 'grep -q "rank 1 has another file" "$tmp/out"' "different files: named"
[ "$fail" = 0 ] || cat "$tmp/out"
exit $fail
