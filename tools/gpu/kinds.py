#!/usr/bin/env python3
"""Per tensor kind, the largest difference zs-check measured: the numbers docs/conformance.md's
tolerance policy asks for once fast/ runs ("record its per-kind worst/tol").

usage: kinds.py ZS_CHECK_JSON...     (files written by `zs-check run|diff --json`)

Prints one row per kind: comparisons, max |diff|, worst |diff|/tolerance (<= 1 passes) and the
(case, world, tensor) where the worst occurred, over every result of every file."""
import json
import sys


def main(paths):
    kinds, runs = {}, 0
    for path in paths:
        try:
            with open(path) as f:
                results = json.load(f).get("results", [])
        except (OSError, ValueError) as e:
            print(f"kinds.py: {path}: {e}")
            continue
        for r in results:
            runs += 1
            d = r.get("diff", r)   # `run` nests each comparison under "diff"; `diff` does not
            where = f"{d.get('case', r.get('case'))} w{d.get('world_size', r.get('world'))}"
            for t in d.get("tensors", []):
                k = kinds.setdefault(t["kind"], {"n": 0, "max_abs": 0.0, "worst": 0.0, "at": "-"})
                k["n"] += 1
                k["max_abs"] = max(k["max_abs"], float(t.get("max_abs") or 0.0))
                if float(t.get("worst_ratio") or 0.0) >= k["worst"]:
                    k["worst"], k["at"] = float(t.get("worst_ratio") or 0.0), f"{where} {t['name']}"
    print(f"per-kind maxima over {runs} comparison(s):")
    print(f"  {'kind':16s} {'tensors':>8s} {'max |diff|':>11s} {'worst/tol':>10s}  where")
    for name, k in sorted(kinds.items()):
        print(f"  {name:16s} {k['n']:8d} {k['max_abs']:11.3e} {k['worst']:10.3g}  {k['at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
