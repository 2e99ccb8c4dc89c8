import sys, struct, subprocess, os, array
# bench/cache_err.py R1 MODEL N — see docs/PERFORMANCE.md (issue 19, accuracy of the cache types)
# cache_err.py R1 MODEL N: logits of N tokens (tokenwise attention: the decode kernel at every
# position) with f32, f16 and bf16 caches; per cache type the largest |Δlogit| / max|logit| over
# positions and how many positions change their argmax
r1, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
toks = ",".join(str((31 * j + 7) % 200 + 3) for j in range(n))
env = dict(os.environ, R1_PREFILL_ATTN="tokenwise")
out = {}
for ct in ["f32", "f16", "bf16"]:
    f = f"/tmp/logits_{ct}.bin"
    subprocess.run([r1, "logits", "-m", model, "--tokens", toks, "-o", f, "--cache-type", ct], check=True, env=env, capture_output=True)
    a = array.array("f"); a.frombytes(open(f, "rb").read()); out[ct] = a
V = len(out["f32"]) // n
for ct in ["f16", "bf16"]:
    worst, flips, late = 0.0, 0, 0.0
    for t in range(n):
        r = out["f32"][t*V:(t+1)*V]; x = out[ct][t*V:(t+1)*V]
        mx = max(abs(v) for v in r)
        d = max(abs(a-b) for a, b in zip(r, x)) / mx
        worst = max(worst, d)
        if t >= n - 100: late = max(late, d)
        flips += max(range(V), key=r.__getitem__) != max(range(V), key=x.__getitem__)
    print(f"{os.path.basename(model)} {ct}: max |dlogit|/max|logit| {worst:.2e} (last 100 positions {late:.2e}), argmax changed at {flips}/{n} positions")
