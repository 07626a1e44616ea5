#!/usr/bin/env python3
"""Results of tools/bench/run.sh: merge zs-fast-bench's and torch_peers.py's JSON into one results
file, draw the plot (optimizer bandwidth; training-step throughput), and print the table.

  plot.py --zs-fast zs-fast.json --torch torch.json --results results.json --png out.png   (merge + plot)
  plot.py --results docs/results/performance.json --png docs/results/performance.png      (plot only)
"""
import argparse
import json
import sys

GiB = 2 ** 30


def merge(zs, th, commit):
    return {"commit": commit, "device": zs.get("device") or th.get("device"),
            "versions": {k: th.get(k) for k in ("torch", "cuda", "transformers")} | {"zs_fast_cuda_runtime": zs.get("cuda_runtime")},
            "zs_fast": zs, "torch": th}


def optimizer_rows(r):
    zs, th = r["zs_fast"].get("optim", {}), r["torch"]
    rows = [dict(o, impl="zs-fast") for o in zs.get("optimizers", [])]
    return rows + [dict(o, impl="torch") for o in th.get("optimizers", [])]


ZS_STEPS = [  # zs-fast-bench's key, the row's name
    ("step", "engine fp32 (no TF32)"),
    ("step_bf16", "engine bf16 (16-bit activations, tensor cores)"),
    ("step_fp16", "engine fp16 (16-bit activations, tensor cores)"),
]


def step_rows(r):
    rows = []
    for key, name in ZS_STEPS:
        s = r["zs_fast"].get(key)
        if s and "median_ms" in s:
            rows.append({"impl": "zs-fast", "name": name, "median_ms": s["median_ms"],
                         "tokens_per_s": s["tokens_per_s"], "peak_bytes": s["peak_bytes"]})
    return rows + [dict(t, impl="torch") for t in r["torch"].get("steps", [])]


def find(rows, impl, name):
    return next((x for x in rows if x["impl"] == impl and x["name"] == name), None)


def table(r):
    lines = [f"device: {r['device']} | commit {r['commit']} | torch {r['versions'].get('torch')} | "
             f"transformers {r['versions'].get('transformers')}"]
    zc = (r["zs_fast"].get("optim", {}).get("copy") or {}).get("gbps")
    tc = (r["torch"].get("copy") or {}).get("gbps")
    lines.append(f"copy bandwidth (read + write): zs-fast-bench {zc or 0:.0f} GB/s, torch {tc or 0:.0f} GB/s")
    lines.append(f"{'optimizer (GPT-2 124M params)':44s} {'ms':>8s} {'GB/s':>8s} {'of copy':>8s}")
    for o in optimizer_rows(r):
        lines.append(f"{o['impl'] + ' ' + o['name']:44s} {o['median_ms']:8.3f} {o['gbps']:8.0f} {o['frac_copy']:8.3f}")
    steps = step_rows(r)
    ref = find(steps, "torch", "compile bf16 autocast")
    lines.append(f"{'training step (B x 1024 tokens)':44s} {'ms':>8s} {'tok/s':>9s} {'peak GiB':>9s} {'vs compile bf16':>15s}")
    for s in steps:
        ratio = f"{s['tokens_per_s'] / ref['tokens_per_s']:.3f}x" if ref else "-"
        lines.append(f"{s['impl'] + ' ' + s['name']:44s} {s['median_ms']:8.1f} {s['tokens_per_s']:9.0f} "
                     f"{s['peak_bytes'] / GiB:9.2f} {ratio:>15s}")
    return "\n".join(lines)


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.1, 1]})
    opts = optimizer_rows(r)
    names = [f"{o['impl']}: {o['name']}" for o in opts]
    colors = ["tab:red" if o["impl"] == "zs-fast" else "tab:blue" for o in opts]
    a.barh(names, [o["gbps"] for o in opts], color=colors)
    copy = (r["zs_fast"].get("optim", {}).get("copy") or r["torch"].get("copy") or {}).get("gbps")
    if copy:
        a.axvline(copy, color="k", ls="--", lw=1)
        a.axvline(0.9 * copy, color="gray", ls=":", lw=1)
        a.text(copy, 0.01, " copy", ha="left", fontsize=8, transform=a.get_xaxis_transform())
        a.text(0.9 * copy, 0.01, "90% ", ha="right", color="gray", fontsize=8, transform=a.get_xaxis_transform())
    a.invert_yaxis()
    a.set_xlabel("GB/s (bytes the optimizer must move per parameter)")
    a.set_title("Optimizer step, GPT-2 124M parameters")
    steps = step_rows(r)
    b.barh([f"{s['impl']}: {s['name']}" for s in steps], [s["tokens_per_s"] for s in steps],
           color=["tab:red" if s["impl"] == "zs-fast" else "tab:blue" for s in steps])
    b.invert_yaxis()
    b.set_xscale("log")
    b.set_xlabel("tokens/s (log scale)")
    b.set_title("Training step, GPT-2 124M, 16 x 1024 tokens")
    fig.suptitle(f"zs-fast vs PyTorch on {r['device']} (commit {r['commit']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zs-fast")
    ap.add_argument("--torch")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--results", required=True)
    ap.add_argument("--png")
    a = ap.parse_args()
    if a.zs_fast or a.torch:
        load = lambda p: json.load(open(p)) if p else {}
        try:
            zs = load(a.zs_fast)
        except (OSError, ValueError) as e:
            zs = {"error": repr(e)}
        try:
            th = load(a.torch)
        except (OSError, ValueError) as e:
            th = {"error": repr(e)}
        r = merge(zs, th, a.commit)
        with open(a.results, "w") as f:
            json.dump(r, f, indent=1)
    else:
        r = json.load(open(a.results))
    if a.png:
        try:
            plot(r, a.png)
        except Exception as e:  # the table still prints
            print(f"plot.py: no plot: {e!r}", file=sys.stderr)
    print(table(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
