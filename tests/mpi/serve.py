#!/usr/bin/env python3
"""serve.py R1 MODEL MPIEXEC [FLAGS...] — `r1 serve` under mpirun (docs/distributed.md):

1. a model split over 2 ranks answers the OpenAI API as the single-process server does: the same
   greedy completion (non-streaming and streaming), rank 0 alone listening;
2. SIGUSR1 to mpirun (which forwards it) stops the job gracefully: exit status 0, "stopped";
3. a worker that stops answering mid-generation (SIGSTOP, as a hung machine or a lost network):
   the streaming request gets a `model_unavailable` error event, the non-streaming one and the one
   waiting in the queue get HTTP 503 `model_unavailable`, all naming rank 1; the job then exits
   non-zero within 30 s instead of leaving clients a server that can only fail.

Standard library only (urllib, threads), so it runs wherever CI runs the other MPI tests.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

r1, model, mpiexec = sys.argv[1:4]
flags = sys.argv[4:]
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp()
failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures += 1


def start(cmd, log, extra_env=None):
    f = open(log, "w")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=dict(env, **(extra_env or {})))
    deadline = time.time() + 60
    while time.time() < deadline:
        text = open(log).read()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", text)
        if m and "r1 serve: ready" in text:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.1)
    print(open(log).read())
    p.kill()
    raise SystemExit("FAIL: the server did not become ready")


def post(port, body, timeout=60):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        return 0, str(e)


def ask(stream, max_tokens=24):
    return {"messages": [{"role": "user", "content": "What is 17+25?"}], "temperature": 0,
            "max_tokens": max_tokens, "stream": stream}


def stream_text(body):
    """reasoning + answer text of an SSE body, and its error objects"""
    text, errors = "", []
    for line in body.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        o = json.loads(line[6:])
        if "error" in o:
            errors.append(o["error"])
            continue
        for c in o.get("choices", []):
            d = c.get("delta", {})
            text += (d.get("reasoning_content") or "") + (d.get("content") or "")
    return text, errors


def message_text(body):
    m = json.loads(body)["choices"][0]["message"]
    return (m.get("reasoning_content") or "") + (m.get("content") or "")


def worker_pid(launcher):
    """rank 1's pid (Open MPI: OMPI_COMM_WORLD_RANK, MPICH: PMI_RANK)"""
    out = subprocess.run(["pgrep", "-f", f"{r1} serve"], capture_output=True, text=True).stdout
    for pid in out.split():
        try:
            e = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"OMPI_COMM_WORLD_RANK=1" in e or b"PMI_RANK=1" in e:
            return int(pid)
    return None


def wait_exit(p, seconds):
    try:
        return p.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


serve = [r1, "serve", "-m", model, "--port", "0", "-t", "1"]
mpi = [mpiexec, "-n", "2"] + flags

# 1. the single-process answer, then the same requests to a split model
p, port = start(serve, f"{tmp}/single.log")
st, ref_body = post(port, ask(False))
check(st == 200, f"single process: HTTP {st}")
ref = message_text(ref_body) if st == 200 else ""
p.send_signal(signal.SIGTERM)
wait_exit(p, 30)

p, port = start(mpi + serve, f"{tmp}/split.log")
st, body = post(port, ask(False))
check(st == 200 and message_text(body) == ref,
      f"2 ranks, non-streaming: HTTP {st}, the single-process greedy text {ref!r}")
st, body = post(port, ask(True))
text, errors = stream_text(body) if st == 200 else ("", [])
check(st == 200 and text == ref and not errors and body.rstrip().endswith("data: [DONE]"),
      "2 ranks, streaming: the same text, ending in [DONE]")
log = open(f"{tmp}/split.log").read()
check(log.count("listening on") == 1, "only rank 0 listens")

# 2. the graceful stop under mpirun
t0 = time.time()
p.send_signal(signal.SIGUSR1)
rc = wait_exit(p, 30)
log = open(f"{tmp}/split.log").read()
check(rc == 0 and "r1 serve: stopped" in log,
      f"SIGUSR1 to mpirun: exit status {rc} after {time.time() - t0:.1f} s, 'stopped' logged")
if rc is None:
    p.kill()

# 3. a worker stops answering mid-generation; one slot, so the third request waits in the queue
p, port = start(mpi + serve + ["-np", "1", "--debug-step-delay-ms", "200"], f"{tmp}/fault.log",
                {"R1_DIST_TIMEOUT": "3"})
results = {}


def run(name, body):
    results[name] = post(port, body, timeout=60)


threads = [threading.Thread(target=run, args=("stream", ask(True, 400)))]
threads[0].start()
time.sleep(1.0)  # the streaming request holds the only slot
for name in ("plain", "queued"):
    threads.append(threading.Thread(target=run, args=(name, ask(False, 400))))
    threads[-1].start()
time.sleep(0.5)
w = worker_pid(p)
check(w is not None, "found rank 1")
t0 = time.time()
if w:
    os.kill(w, signal.SIGSTOP)
rc = wait_exit(p, 30)
secs = time.time() - t0
for t in threads:
    t.join(10)
if w:
    try:
        os.kill(w, signal.SIGKILL)  # a stopped worker mpirun could not end
    except ProcessLookupError:
        pass
log = open(f"{tmp}/fault.log").read()
check(rc is not None and rc != 0, f"SIGSTOP to rank 1: the job exits non-zero ({rc}) after "
      f"{secs:.1f} s (limit 30)")
if rc is None:
    p.kill()
check("not answering: 1" in log, "the log names rank 1")
st, body = results.get("stream", (0, ""))
text, errors = stream_text(body) if st == 200 else ("", [])
check(st == 200 and len(errors) == 1 and errors[0].get("code") == "model_unavailable"
      and "1" in errors[0].get("message", ""),
      f"the streaming request ends with a model_unavailable error event ({errors})")
for name in ("plain", "queued"):
    st, body = results.get(name, (0, ""))
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    check(st == 503 and code == "model_unavailable",
          f"the {name} request: HTTP {st} {code} (503 model_unavailable expected)")
if failures:
    for f in ("split.log", "fault.log"):
        print(f"--- {f}\n" + open(f"{tmp}/{f}").read())
sys.exit(1 if failures else 0)
