#!/usr/bin/python3
"""make lint: the file-level call and include graphs of server/src have no
cycle (docs/design.md, "Layers").

Calls are read from the object files' symbol tables (nm): file A calls file
B when A.o has an undefined symbol that B.o defines. What a lower layer must
tell a higher one goes through a function pointer it was handed (the module
table, session_ops, callbacks), which nm does not see, so it is not an edge.
Includes are read from the sources: a header that includes a header.

Usage: callgraph.py OBJDIR SRCDIR [--dot]
       callgraph.py --self-test   (proves the check can fail)
"""
import os
import re
import subprocess
import sys
import tempfile

# Programs, not layers: each has its own main() and calls what it needs.
PROGRAMS = {"main", "xmppctl"}


def symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-g", path],
                         capture_output=True, text=True, check=True).stdout
    defined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    out = subprocess.run(["nm", "-u", path],
                         capture_output=True, text=True, check=True).stdout
    used = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return defined, used


def call_graph(objdir, srcdir):
    names = sorted(f[:-2] for f in os.listdir(srcdir) if f.endswith(".c"))
    defs, uses = {}, {}
    for name in names:
        obj = os.path.join(objdir, name + ".o")
        if not os.path.exists(obj):
            sys.exit("callgraph: %s missing (run make first)" % obj)
        defs[name], uses[name] = symbols(obj)
    owner = {}
    for name, syms in defs.items():
        for s in syms:
            owner[s] = name
    graph = {n: set() for n in names}
    for name in names:
        for s in uses[name]:
            o = owner.get(s)
            if o and o != name and o not in PROGRAMS:
                graph[name].add(o)
    return graph


def include_graph(srcdir):
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)
    graph = {}
    for f in sorted(os.listdir(srcdir)):
        if f.endswith(".h"):
            with open(os.path.join(srcdir, f)) as fh:
                graph[f[:-2]] = set(inc.findall(fh.read())) - {f[:-2]}
    return graph


def cycles(graph):
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    """Compile two small trees, one with a call cycle and an include
    cycle between headers, one without, and check that only the first
    fails."""
    trees = {
        "cycle": {"a.c": 'int b(int);\n'
                         'int a(int x) { return x ? b(x - 1) : 0; }\n',
                  "b.c": 'int a(int);\n'
                         'int b(int x) { return x ? a(x - 1) : 1; }\n',
                  "a.h": '#include "b.h"\n', "b.h": '#include "a.h"\n'},
        "down": {"a.c": 'int b(int);\nint a(int x) { return b(x); }\n',
                 "b.c": 'int b(int x) { return x; }\n',
                 "a.h": '#include "b.h"\n', "b.h": '\n'},
    }
    for name, files in trees.items():
        with tempfile.TemporaryDirectory() as d:
            for f, text in files.items():
                with open(os.path.join(d, f), "w") as fh:
                    fh.write(text)
            for f in files:
                if f.endswith(".c"):
                    subprocess.run(["cc", "-c", "-o", os.path.join(
                        d, f[:-2] + ".o"), os.path.join(d, f)], check=True)
            found = (cycles(call_graph(d, d)), cycles(include_graph(d)))
        want = name == "cycle"
        if bool(found[0]) != want or bool(found[1]) != want:
            print("callgraph: self-test %s: found %r" % (name, found))
            return 1
    print("callgraph: self-test passed (a cycle is found, a chain is not)")
    return 0


def main():
    if "--self-test" in sys.argv:
        return self_test()
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    calls = call_graph(sys.argv[1], sys.argv[2])
    includes = include_graph(sys.argv[2])
    if "--dot" in sys.argv:
        print("digraph calls {")
        for a in sorted(calls):
            for b in sorted(calls[a]):
                print('  "%s" -> "%s";' % (a, b))
        print("}")
        return 0
    bad = 0
    for kind, graph in (("call", calls), ("include", includes)):
        for comp in cycles(graph):
            bad += 1
            edges = ["%s -> %s" % (a, b) for a in comp
                     for b in sorted(graph[a]) if b in comp]
            print("callgraph: %s cycle among %s: %s"
                  % (kind, ", ".join(comp), "; ".join(edges)))
    if bad == 0:
        print("callgraph: no call or include cycle among %d files"
              % len(calls))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
