#!/usr/bin/env python3
"""PyTorch peers of zs-fast's benchmarks, on the same GPU (tools/bench/run.sh runs this on the device).

Measures, and writes to --json after every measurement (so a run cut short keeps what it had):
  copy        device-to-device copy bandwidth (bytes read + written), the ceiling for optimizers;
  optimizers  torch's fused / foreach optimizers over GPT-2 124M's parameter shapes (148 tensors),
              plus fused AdamW over one flat tensor (zs-fast's layout); GB/s counts the bytes each
              optimizer must move per parameter (AdamW 28: p, g, m, v read; p, m, v written; SGD with
              momentum and Adagrad 20: p, g, one state read; p, state written). These are the peers of
              zs-fast-bench's rows (each names its torch_peers); torch has no Lion and no Lamb, so
              zs-fast's FusedLion and FusedLamb have none (NO_TORCH_PEER, recorded in the JSON);
  cpu_optimizers (only when named in --parts) torch.optim.AdamW on CPU tensors of the same shapes,
              the peer of zs-fast's offload_optimizer step (zs-fast-bench --phases offload): torch's
              default on CPU (the single-tensor for-loop), foreach, and fused; all of torch's threads;
  steps       a GPT-2 124M training step (batch B x 1024 tokens, AdamW, clipping 1.0): forward,
              backward, clip_grad_norm_, fused AdamW step, in eager mode and under torch.compile,
              fp32 (TF32 off: the precision zs-fast's conformance path uses), fp32 with TF32, bf16
              autocast, and fp16 autocast with a GradScaler (the peers of zs-fast's bf16 and fp16 steps);
              tokens/s and peak allocated memory.

The model is Hugging Face's GPT2LMHeadModel (dropout 0, SDPA attention) when transformers imports,
otherwise the minimal GPT-2 below (same architecture: tied embeddings, pre-LayerNorm, gelu tanh).
Timing: CUDA events, warm-up first, median over repeats.
"""
import argparse
import json
import math
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

V, T, C, L, NH = 50257, 1024, 768, 12, 12


def gpt2_shapes():
    """GPT-2 124M parameter shapes in Hugging Face order (148 tensors, 124,439,808 elements)."""
    shapes = [(V, C), (T, C)]
    for _ in range(L):
        shapes += [(C,), (C,), (C, 3 * C), (3 * C,), (C, C), (C,), (C,), (C,), (C, 4 * C), (4 * C,), (4 * C, C), (C,)]
    return shapes + [(C,), (C,)]


def time_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b))
    return statistics.median(out), out


class Results:
    def __init__(self, path):
        self.path, self.data = path, {"copy": None, "optimizers": [], "cpu_optimizers": [], "steps": [],
                                      "errors": []}

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.data, f, indent=1)


def bench_copy(res):
    n = 4 * sum(math.prod(s) for s in gpt2_shapes())
    src = torch.rand(n, device="cuda")
    dst = torch.empty_like(src)
    med, ms = time_ms(lambda: dst.copy_(src), 3, 20)
    nbytes = 2 * n * 4
    res.data["copy"] = {"what": "Tensor.copy_ device to device, bytes read + written", "bytes": nbytes,
                        "median_ms": med, "ms": ms, "gbps": nbytes / (med * 1e-3) / 1e9}
    print(f"torch copy: {med:.3f} ms, {nbytes / (med * 1e-3) / 1e9:.1f} GB/s", flush=True)
    del src, dst


OPTIMIZERS = [  # name, class, kwargs, bytes moved per parameter, flat (one tensor)
    ("AdamW fused", torch.optim.AdamW, dict(fused=True), 28, False),
    ("AdamW fused (one flat tensor)", torch.optim.AdamW, dict(fused=True), 28, True),
    ("AdamW foreach", torch.optim.AdamW, dict(foreach=True), 28, False),
    ("Adam fused", torch.optim.Adam, dict(fused=True), 28, False),
    ("Adam foreach", torch.optim.Adam, dict(foreach=True), 28, False),
    ("SGD momentum fused", torch.optim.SGD, dict(fused=True, momentum=0.9), 20, False),
    ("SGD momentum foreach", torch.optim.SGD, dict(foreach=True, momentum=0.9), 20, False),
    ("Adagrad foreach", torch.optim.Adagrad, dict(foreach=True), 20, False),
    ("AdamW fused (again)", torch.optim.AdamW, dict(fused=True), 28, False),  # run-to-run spread
]


NO_TORCH_PEER = {"FusedLion": "torch.optim has no Lion", "FusedLamb": "torch.optim has no Lamb"}


def bench_optimizers(res):
    copy_gbps = res.data["copy"]["gbps"]
    res.data["no_torch_peer"] = NO_TORCH_PEER
    shapes = gpt2_shapes()
    numel = sum(math.prod(s) for s in shapes)
    for name, cls, kw, bpp, flat in OPTIMIZERS:
        try:
            ps = [torch.nn.Parameter(torch.randn(numel if flat else s, device="cuda") * 0.02)
                  for s in ([numel] if flat else shapes)]
            for p in ps:
                p.grad = torch.randn_like(p) * 0.01
            hyper = dict(lr=6e-4)
            if cls in (torch.optim.Adam, torch.optim.AdamW):
                hyper.update(betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
            opt = cls(ps, **hyper, **kw)
            med, ms = time_ms(opt.step, 5, 100)  # opt.step() includes torch's host-side work
            gbps = bpp * numel / (med * 1e-3) / 1e9
            res.data["optimizers"].append({"impl": "torch", "name": name, "tensors": len(ps), "params": numel,
                                           "bytes_per_param": bpp, "median_ms": med, "min_ms": min(ms), "ms": ms, "gbps": gbps,
                                           "frac_copy": gbps / copy_gbps})
            print(f"torch {name:32s} {med:8.3f} ms {gbps:8.1f} GB/s {gbps / copy_gbps:.3f} of copy", flush=True)
            del opt, ps
        except Exception as e:  # an optimizer this torch lacks (e.g. a fused variant) is recorded, not fatal
            res.data["errors"].append(f"optimizer {name}: {e!r}")
            print(f"torch {name}: skipped: {e!r}", flush=True)
        res.save()
        torch.cuda.empty_cache()


CPU_OPTIMIZERS = [  # name, kwargs (torch.optim.AdamW on CPU tensors)
    ("AdamW CPU default (for-loop)", dict()),
    ("AdamW CPU foreach", dict(foreach=True)),
    ("AdamW CPU fused", dict(fused=True)),
]


def bench_cpu_optimizers(res, budget_s):
    """torch.optim.AdamW over GPT-2 124M's 148 parameter tensors on the CPU, timed with the host clock."""
    shapes = gpt2_shapes()
    numel = sum(math.prod(s) for s in shapes)
    res.data["cpu_threads"] = torch.get_num_threads()
    g = torch.Generator().manual_seed(0)
    for name, kw in CPU_OPTIMIZERS:
        try:
            ps = [torch.nn.Parameter(torch.randn(s, generator=g) * 0.02) for s in shapes]
            for p in ps:
                p.grad = torch.randn(p.shape, generator=g) * 0.01
            opt = torch.optim.AdamW(ps, lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, **kw)
            t0 = time.perf_counter()
            opt.step()  # warm-up: creates the state
            first = time.perf_counter() - t0
            ms = []
            for _ in range(max(3, min(10, int(budget_s / max(first, 1e-3))))):
                t0 = time.perf_counter()
                opt.step()
                ms.append((time.perf_counter() - t0) * 1e3)
            med = statistics.median(ms)
            gbps = 28 * numel / (med * 1e-3) / 1e9
            res.data["cpu_optimizers"].append({"impl": "torch", "name": name, "tensors": len(ps), "params": numel,
                                               "threads": torch.get_num_threads(), "bytes_per_param": 28,
                                               "median_ms": med, "ms": ms, "gbps": gbps})
            print(f"torch {name:32s} {med:9.2f} ms {gbps:7.1f} GB/s ({torch.get_num_threads()} threads)", flush=True)
            del opt, ps
        except Exception as e:  # e.g. a torch without the CPU fused AdamW
            res.data["errors"].append(f"cpu optimizer {name}: {e!r}")
            print(f"torch {name}: skipped: {e!r}", flush=True)
        res.save()


# ---- the model ------------------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        B_, T_, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B_, T_, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B_, T_, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class MiniGPT2(nn.Module):
    """GPT-2 124M as zs-fast computes it: tied wte/LM head, learned positions, 12 pre-LN blocks."""

    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.float().view(-1, V), targets.view(-1))


def make_model(kind):
    """(model, loss_of(model, x, y)); Hugging Face's GPT-2 for "hf", falling back to MiniGPT2."""
    if kind == "hf":
        from transformers import GPT2Config, GPT2LMHeadModel
        cfg = GPT2Config(vocab_size=V, n_positions=T, n_embd=C, n_layer=L, n_head=NH, resid_pdrop=0.0,
                         embd_pdrop=0.0, attn_pdrop=0.0)
        cfg._attn_implementation = "sdpa"
        m = GPT2LMHeadModel(cfg)
        return m, lambda mod, x, y: mod(input_ids=x, labels=y).loss
    return MiniGPT2(), lambda mod, x, y: mod(x, y)


def model_kind():
    try:
        import transformers  # noqa: F401
        return "hf"
    except Exception:
        return "mini"


STEPS = [  # name, torch.compile, autocast dtype, float32 matmul precision
    ("eager fp32 (no TF32)", False, None, "highest"),
    ("eager bf16 autocast", False, torch.bfloat16, "highest"),
    ("compile bf16 autocast", True, torch.bfloat16, "highest"),
    ("eager fp32 TF32", False, None, "high"),
    ("compile fp32 (no TF32)", True, None, "highest"),
    ("eager fp16 autocast", False, torch.float16, "highest"),
    ("compile fp16 autocast", True, torch.float16, "highest"),
]


def bench_step(res, name, compiled, amp, precision, batch, kind, budget_s):
    torch.set_float32_matmul_precision(precision)
    torch.manual_seed(0)
    try:
        model, loss_of = make_model(kind)
    except Exception as e:  # an incompatible transformers: the minimal model is the same architecture
        res.data["errors"].append(f"Hugging Face GPT-2 unavailable, minimal GPT-2 used: {e!r}")
        kind = "mini"
        model, loss_of = make_model(kind)
    model = model.cuda().train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=True)
    fwd = torch.compile(model) if compiled else model
    x = torch.randint(0, V, (batch, T), device="cuda")
    y = torch.roll(x, -1, dims=1) if kind == "mini" else x  # HF shifts labels itself
    losses = []
    # fp16 needs loss scaling (as zs-fast's fp16 engine has); bf16 and fp32 run with it disabled
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)

    def step():
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = loss_of(fwd, x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach())

    t0 = time.time()
    step()
    torch.cuda.synchronize()
    first_s = time.time() - t0  # includes compilation
    first_ms, _ = time_ms(step, 1, 1)
    reps = max(3, min(20, int(budget_s / (first_ms * 1e-3))))
    torch.cuda.reset_peak_memory_stats()
    med, ms = time_ms(step, 0, reps)
    peak, reserved = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
    tokens = batch * T
    entry = {"impl": "torch", "name": name, "model": kind, "compile": compiled, "precision": precision,
             "autocast": str(amp) if amp else None, "batch": batch, "seq": T,
             "params": sum(p.numel() for p in params), "first_step_s": first_s, "median_ms": med, "ms": ms,
             "tokens_per_s": tokens / (med * 1e-3), "peak_bytes": peak, "peak_reserved_bytes": reserved,
             "losses": [float(v) for v in losses[:: max(1, len(losses) // 8)]]}
    res.data["steps"].append(entry)
    print(f"torch step {name:26s} {med:8.1f} ms {tokens / (med * 1e-3):10.0f} tok/s peak {peak / 2**30:6.2f} GiB"
          f" (first step {first_s:.1f} s)", flush=True)
    del model, opt, fwd, params
    torch._dynamo.reset()
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--parts", default="copy,optimizers,steps")
    ap.add_argument("--steps", default="all", help="comma-separated step names, or all")
    ap.add_argument("--model", choices=["auto", "hf", "mini"], default="auto")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed steps per variant")
    a = ap.parse_args()
    res = Results(a.json)
    props = torch.cuda.get_device_properties(0)
    res.data.update(device=props.name, torch=torch.__version__, cuda=torch.version.cuda,
                    sms=props.multi_processor_count, memory_bytes=props.total_memory)
    try:
        import transformers
        res.data["transformers"] = transformers.__version__
    except Exception as e:
        res.data["transformers"] = f"absent ({e!r})"
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {props.name}; transformers "
          f"{res.data['transformers']}", flush=True)
    parts = a.parts.split(",")
    if "copy" in parts or "optimizers" in parts:
        bench_copy(res)
        res.save()
    if "optimizers" in parts:
        bench_optimizers(res)
    if "cpu_optimizers" in parts:
        bench_cpu_optimizers(res, a.budget)
    if "steps" in parts:
        kind = model_kind() if a.model == "auto" else a.model
        res.data["model"] = kind
        for name, compiled, amp, precision in STEPS:
            if a.steps != "all" and name not in a.steps.split(","):
                continue
            try:
                bench_step(res, name, compiled, amp, precision, a.batch, kind, a.budget)
            except Exception as e:
                res.data["errors"].append(f"step {name}: {e!r}")
                traceback.print_exc()
                torch._dynamo.reset()
                torch.cuda.empty_cache()
            res.save()
    res.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
