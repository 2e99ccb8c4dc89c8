#!/usr/bin/env bash
# include_graph.sh — the house has no include circles between modules (issue 23).
#
# Builds the #include "..." graph of src/ apps/ eval/ train/ tools/ and fails when it has a cycle that
# crosses modules. A module is a file's folder (src/model, src/kernels/ref, apps/cli, eval); a unit
# is a header and the source of the same name in one folder (model/forward.{c,h}), .inc files
# their own units. Edges: unit A → unit B when a file of A includes a file of B (quoted includes,
# resolved against the includer's folder, src/, the repository root and apps/cli/ as the build
# does). A cycle among the units of one module is allowed (a module is one piece of work); a
# cycle through two modules means neither can be understood, tested or replaced alone.
# Usage: include_graph.sh [REPO] (default: the repository this script is in). Prints the cycles.
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 - "$repo" <<'PY'
import os, re, sys
repo = sys.argv[1]
roots = ["src", "apps", "eval", "train", "tools"]
search = ["src", "", "apps/cli", "include"]
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
files = []
for r in roots:
    for d, _, fs in os.walk(os.path.join(repo, r)):
        files += [os.path.relpath(os.path.join(d, f), repo) for f in fs
                  if f.endswith((".c", ".h", ".inc"))]
fileset = set(files)
def unit(path):  # "src/model/forward.c" -> "src/model/forward"
    stem, ext = os.path.splitext(path)
    return stem + (".inc" if ext == ".inc" else "")
def module(u):
    return os.path.dirname(u)
edges = {}
for f in files:
    text = open(os.path.join(repo, f), encoding="utf-8", errors="replace").read()
    for name in inc_re.findall(text):
        cands = [os.path.normpath(os.path.join(os.path.dirname(f), name))]
        cands += [os.path.normpath(os.path.join(s, name)) for s in search]
        target = next((c for c in cands if c in fileset), None)
        if target is None:
            continue  # generated (r1_git.h) or public (include/) headers: no unit of ours
        a, b = unit(f), unit(target)
        if a != b:
            edges.setdefault(a, set()).add(b)
# strongly connected components (Tarjan, iterative)
index, low, onstack, stack, sccs, counter = {}, {}, set(), [], [], [0]
nodes = sorted(set(edges) | {b for bs in edges.values() for b in bs})
for root in nodes:
    if root in index:
        continue
    work = [(root, iter(sorted(edges.get(root, ()))))]
    index[root] = low[root] = counter[0]; counter[0] += 1
    stack.append(root); onstack.add(root)
    while work:
        v, it = work[-1]
        for w in it:
            if w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1
                stack.append(w); onstack.add(w)
                work.append((w, iter(sorted(edges.get(w, ())))))
                break
            if w in onstack:
                low[v] = min(low[v], index[w])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); onstack.discard(w); comp.append(w)
                    if w == v:
                        break
                sccs.append(sorted(comp))
bad = [c for c in sccs if len({module(u) for u in c}) > 1]
n_edges = sum(len(b) for b in edges.values())
for c in bad:
    print("include cycle across modules: " + " <-> ".join(c))
    for u in c:
        for w in sorted(edges.get(u, ())):
            if w in c:
                print(f"    {u} includes {w}")
if bad:
    sys.exit(1)
print(f"include_graph: {len(nodes)} units, {n_edges} include edges, no cycle across modules")
PY
