#!/usr/bin/env python3
"""Results of tools/bench/run.sh: merge zs-fast-bench's and torch_peers.py's JSON (and the
data-parallel runs: zs-fast-bench --phases world, fsdp_peer.py, one file per world size) into one
results file, draw the plot (optimizer bandwidth; training-step throughput), and print the table:
each zs-fast optimizer beside its torch counterparts with the speed ratio, the training steps, and
ZeRO-1/2/3 at W ranks against W = 1 and against FSDP.

  plot.py --zs-fast zs-fast.json --torch torch.json [--world zs-world-1.json ...] [--fsdp fsdp-1.json ...]
          --results results.json --png out.png                                            (merge + plot)
  plot.py --results docs/results/performance.json --png docs/results/performance.png      (plot only)
"""
import argparse
import json
import sys
import textwrap

GiB = 2 ** 30


def merge(zs, th, commit, world_runs=None):
    r = {"commit": commit, "device": zs.get("device") or th.get("device"),
         "versions": {k: th.get(k) for k in ("torch", "cuda", "transformers")} | {"zs_fast_cuda_runtime": zs.get("cuda_runtime")},
         "zs_fast": zs, "torch": th}
    r["optimizer_pairs"] = optimizer_pairs(r)
    if world_runs is not None:
        r["world"] = world_runs
        r["world"]["ratios"] = world_ratios(world_runs["rows"])
    return r


def world_rows(zs_files, fsdp_files):
    """One row per (implementation, stage or strategy, W) from zs-fast-bench's world_bf16 objects and
    fsdp_peer.py's runs; files that failed to load are listed in errors."""
    rows, errors = [], []
    for path in zs_files:
        try:
            for o in json.load(open(path)).get("world_bf16", {}).get("stages", []):
                rows.append(dict(o, impl="zs-fast"))
        except (OSError, ValueError) as e:
            errors.append(f"{path}: {e!r}")
    for path in fsdp_files:
        try:
            d = json.load(open(path))
            rows += [dict(o, impl="torch") for o in d.get("runs", [])]
            errors += [f"{path}: {e}" for e in d.get("errors", [])]
        except (OSError, ValueError) as e:
            errors.append(f"{path}: {e!r}")
    return {"rows": rows, "errors": errors}


FSDP_PEER = {1: "FSDP SHARD_GRAD_OP", 2: "FSDP SHARD_GRAD_OP", 3: "FSDP FULL_SHARD"}  # closest FSDP strategy


def world_ratios(rows):
    """tokens/s ratios: each row at W against the same row at W = 1 (ideal: W), and each zs-fast stage
    against its FSDP peer at the same W (ZeRO-1/2: SHARD_GRAD_OP, ZeRO-3: FULL_SHARD)."""
    out = []
    at = lambda impl, name, w: next((x for x in rows if x["impl"] == impl and x["name"] == name and x["world"] == w), None)
    for x in rows:
        one = at(x["impl"], x["name"], 1)
        if x["world"] > 1 and one:
            out.append({"what": f"{x['impl']} {x['name']} W={x['world']} vs W=1", "ratio": x["tokens_per_s"] / one["tokens_per_s"],
                        "ideal": x["world"]})
        peer = at("torch", FSDP_PEER.get(x.get("stage")), x["world"]) if x["impl"] == "zs-fast" else None
        if peer:
            out.append({"what": f"zs-fast {x['name']} vs {peer['name']} at W={x['world']}",
                        "ratio": x["tokens_per_s"] / peer["tokens_per_s"]})
    return out


def optimizer_rows(r):
    zs, th = r["zs_fast"].get("optim", {}), r["torch"]
    rows = [dict(o, impl="zs-fast") for o in zs.get("optimizers", [])]
    return rows + [dict(o, impl="torch") for o in th.get("optimizers", [])]


def optimizer_pairs(r):
    """Each zs-fast optimizer row with its torch counterparts (zs-fast-bench names them): how many
    times faster zs-fast is (torch ms / zs-fast ms); rows with none say why."""
    rows, out = optimizer_rows(r), []
    for z in (o for o in rows if o["impl"] == "zs-fast"):
        if "no_torch_peer" in z:
            out.append({"zs_fast": z["name"], "torch": None, "why": z["no_torch_peer"]})
        for name in z.get("torch_peers", []):
            t = find(rows, "torch", name)
            if t:
                out.append({"zs_fast": z["name"], "torch": name, "speedup": t["median_ms"] / z["median_ms"]})
    return out


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


# torch.compile's step in each precision: the peer of zs-fast's step in that precision (torch_peers.py)
COMPILE_PEER = {"bf16": "compile bf16 autocast", "fp16": "compile fp16 autocast", "fp32": "compile fp32 (no TF32)"}


def step_dtype(name):
    """The precision a step row runs in, from its name (zs-fast's and torch_peers.py's)."""
    return next((d for d in ("bf16", "fp16") if d in name), "fp32")


def find(rows, impl, name):
    return next((x for x in rows if x["impl"] == impl and x["name"] == name), None)


def table(r):
    lines = [f"device: {r['device']} | commit {r['commit']} | torch {r['versions'].get('torch')} | "
             f"transformers {r['versions'].get('transformers')}"]
    zc = (r["zs_fast"].get("optim", {}).get("copy") or {}).get("gbps")
    tc = (r["torch"].get("copy") or {}).get("gbps")
    lines.append(f"copy bandwidth (read + write): zs-fast-bench {zc or 0:.0f} GB/s, torch {tc or 0:.0f} GB/s")
    lines.append(f"{'optimizer (GPT-2 124M params)':44s} {'B/par':>5s} {'ms':>8s} {'GB/s':>8s} {'of copy':>8s} "
                 f"{'zs-fast is':>11s}")
    rows = optimizer_rows(r)
    row = lambda o, note, indent="": (f"{indent + o['impl'] + ' ' + o['name']:44s} {o.get('bytes_per_param', 28):5d} "
                                      f"{o['median_ms']:8.3f} {o['gbps']:8.0f} {o['frac_copy']:8.3f} {note}".rstrip())
    shown = set()
    for z in (o for o in rows if o["impl"] == "zs-fast"):
        bad = z.get("check_mismatches")
        lines.append(row(z, f"CHECK FAILED ({bad:.0f} mismatches)" if bad else ""))
        if "no_torch_peer" in z:
            lines.append(f"{'':4s}{z['no_torch_peer']}")
        for p in optimizer_pairs(r):
            if p["zs_fast"] == z["name"] and p["torch"]:
                lines.append(row(find(rows, "torch", p["torch"]), f"{p['speedup']:10.2f}x", "  vs "))
                shown.add(p["torch"])
    for t in (o for o in rows if o["impl"] == "torch" and o["name"] not in shown):
        lines.append(row(t, ""))
    if r["zs_fast"].get("optim", {}).get("not_timed"):
        lines.append(f"not timed: {r['zs_fast']['optim']['not_timed']}")
    steps = step_rows(r)
    ref = find(steps, "torch", "compile bf16 autocast")
    lines.append(f"{'training step (B x 1024 tokens)':44s} {'ms':>8s} {'tok/s':>9s} {'peak GiB':>9s} {'vs compile bf16':>15s}"
                 f" {'vs compile, same dtype':>22s}")
    for s in steps:
        ratio = f"{s['tokens_per_s'] / ref['tokens_per_s']:.3f}x" if ref else "-"
        same = find(steps, "torch", COMPILE_PEER[step_dtype(s["name"])])
        same_ratio = f"{s['tokens_per_s'] / same['tokens_per_s']:.3f}x" if same else "-"
        lines.append(f"{s['impl'] + ' ' + s['name']:44s} {s['median_ms']:8.1f} {s['tokens_per_s']:9.0f} "
                     f"{s['peak_bytes'] / GiB:9.2f} {ratio:>15s} {same_ratio:>22s}")
    lines += world_table(r.get("world"))
    return "\n".join(lines)


def world_table(w):
    """ZeRO-1/2/3 and FSDP at each world size, with the ratios of world_ratios."""
    if not w:
        return []
    lines = [f"{'data parallel, bf16, B per rank x 1024 tokens':44s} {'W':>3s} {'ms':>8s} {'tok/s':>9s} {'peak GiB':>9s}"]
    for x in sorted(w["rows"], key=lambda x: (x["world"], x["impl"] != "zs-fast", x["name"])):
        lines.append(f"{x['impl'] + ' ' + x['name']:44s} {x['world']:3d} {x['median_ms']:8.1f} {x['tokens_per_s']:9.0f} "
                     f"{x['peak_bytes'] / GiB:9.2f}")
    for q in w.get("ratios", []):
        lines.append(f"  {q['what']:60s} {q['ratio']:6.3f}x" + (f" (ideal {q['ideal']})" if "ideal" in q else ""))
    lines += [f"  error: {e}" for e in w.get("errors", [])]
    return lines


def plot_world(ax, w, rows):
    """Section (c): tokens/s of each ZeRO stage and FSDP strategy at each world size; the caption names
    the run when the rows come from another call than the rest (`from_run`)."""
    rows = sorted(rows, key=lambda x: (x["world"], x["impl"] != "zs-fast", x["name"]))
    ax.barh([f"{x['impl']}: {x['name']}, W = {x['world']}" for x in rows], [x["tokens_per_s"] for x in rows],
            color=["tab:red" if x["impl"] == "zs-fast" else "tab:blue" for x in rows])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v / 1000:.0f}K")   # raw counts overlap each other
    ax.set_xlabel("tokens/s over all ranks (bf16, 16 x 1024 tokens per rank)")
    ax.set_title("Data parallel: ZeRO-1/2/3 vs FSDP")
    if w.get("from_run"):
        ax.text(0, -0.16, textwrap.fill("rows from " + textwrap.shorten(w["from_run"], 90), 80),
                fontsize=7, transform=ax.transAxes, va="top")


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    world = (r.get("world") or {}).get("rows") or []
    ncol = 3 if world else 2
    fig, axes = plt.subplots(1, ncol, figsize=(7.5 * ncol, 5.6))
    a, b = axes[0], axes[1]
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
    if world:
        plot_world(axes[2], r["world"], world)
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
    ap.add_argument("--world", nargs="*", default=[], help="zs-fast-bench --phases world JSON, one per W")
    ap.add_argument("--fsdp", nargs="*", default=[], help="fsdp_peer.py JSON, one per W")
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
        r = merge(zs, th, a.commit, world_rows(a.world, a.fsdp) if a.world or a.fsdp else None)
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
