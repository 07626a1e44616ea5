#!/usr/bin/env python3
"""PyTorch FSDP peer of zs-fast's data-parallel step (zs-fast-bench --phases world), one GPU per rank:

  python3 -m torch.distributed.run --standalone --nproc_per_node N tools/bench/fsdp_peer.py --json out.json

For each sharding strategy (FULL_SHARD ~ ZeRO-3: parameters, gradients and optimizer state sharded;
SHARD_GRAD_OP ~ ZeRO-2: gradients and optimizer state sharded, parameters kept between forward and
backward) it times the training step of torch_peers.py's model (Hugging Face's GPT2LMHeadModel,
dropout 0, SDPA attention; the minimal GPT-2 when transformers does not import) with bf16 mixed
precision (bf16 parameters in compute, gradients reduced in bf16 as zs-fast's bf16 engine reduces in
the model dtype, fp32 sharded master weights): forward, backward, the FSDP gradient-norm clip at
1.0, fused AdamW (lr 6e-4, betas 0.9/0.95, eps 1e-8, weight decay 0.1), B sequences of 1024 tokens
per rank (weak scaling, as zs-fast's world phase). One FSDP unit per transformer block plus the root.

A step's time is the slowest rank's (barrier, host clock around the step, ending with a device
sync; the maximum over ranks); median over repeats after two warm-up steps; tokens/s counts B * T * W
per step; peak memory is the largest max_memory_allocated over ranks. Rank 0 writes --json after
every strategy, as torch_peers.py does.
"""
import argparse
import os
import statistics
import sys
import time
import traceback

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peers import T, V, Results, make_model, model_kind  # noqa: E402

STRATEGIES = ["FULL_SHARD", "SHARD_GRAD_OP"]
ZERO_PEER = {"FULL_SHARD": "ZeRO-3", "SHARD_GRAD_OP": "ZeRO-2"}


def block_type(model):
    """The transformer block class (GPT2Block, or torch_peers.Block): one FSDP unit each."""
    return type(next(m for m in model.modules() if type(m).__name__ in ("GPT2Block", "Block")))


def wrap_fsdp1(model, strategy):
    """FullyShardedDataParallel with the named ShardingStrategy; returns (model, clip)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP, MixedPrecision, ShardingStrategy
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy
    mp = MixedPrecision(param_dtype=torch.bfloat16, reduce_dtype=torch.bfloat16)
    m = FSDP(model, sharding_strategy=getattr(ShardingStrategy, strategy), mixed_precision=mp,
             auto_wrap_policy=ModuleWrapPolicy({block_type(model)}), device_id=torch.cuda.current_device())
    return m, lambda: m.clip_grad_norm_(1.0)


def wrap_fsdp2(model, strategy):
    """fully_shard (FSDP2): FULL_SHARD reshards after forward, SHARD_GRAD_OP keeps the parameters."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.bfloat16)
    reshard = strategy == "FULL_SHARD"
    blk = block_type(model)
    for m in list(model.modules()):
        if isinstance(m, blk):
            fully_shard(m, mp_policy=mp, reshard_after_forward=reshard)
    fully_shard(model, mp_policy=mp, reshard_after_forward=reshard)
    return model, lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)


def slowest(v):
    """The maximum of v over ranks."""
    t = torch.tensor([float(v)], device="cuda")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


def bench_strategy(res, strategy, api, batch, kind, budget_s, world, rank):
    torch.manual_seed(0)  # the same initial model on every rank
    model, loss_of = make_model(kind)
    model = model.cuda().train()
    numel = sum(p.numel() for p in model.parameters())  # before sharding; tied weights once
    model, clip = (wrap_fsdp1 if api == "fsdp1" else wrap_fsdp2)(model, strategy)
    # FSDP1 runs NO_SHARD at W = 1 whatever was asked (with a warning): record what ran
    effective = getattr(getattr(model, "sharding_strategy", None), "name", strategy)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=True)
    g = torch.Generator(device="cuda").manual_seed(1 + rank)  # each rank its own batch
    x = torch.randint(0, V, (batch, T), device="cuda", generator=g)
    y = torch.roll(x, -1, dims=1) if kind == "mini" else x  # HF shifts labels itself
    losses = []

    def step():
        torch.cuda.synchronize()
        dist.barrier()
        t0 = time.perf_counter()
        loss = loss_of(model, x, y)
        loss.backward()
        clip()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1e3
        losses.append(loss.detach())
        return slowest(ms)

    first = step()  # warm-up: NCCL communicators, cuBLAS heuristics
    second = step()  # sized on this one: sized on the first, FULL_SHARD got 2 repeats (run 10)
    reps = max(2, min(20, int(budget_s / (second * 1e-3))))  # the same on every rank
    torch.cuda.reset_peak_memory_stats()
    ms = [step() for _ in range(reps)]
    peak = slowest(torch.cuda.max_memory_allocated())
    med = statistics.median(ms)
    tokens = batch * T * world
    if rank == 0:
        res.data["runs"].append({"impl": "torch", "name": f"FSDP {strategy}", "strategy": strategy,
                                 "effective_strategy": effective,
                                 "zero_peer": ZERO_PEER[strategy], "api": api, "world": world, "model": kind,
                                 "dtype": "bf16", "batch_per_rank": batch, "seq": T,
                                 "params": numel,
                                 "warmup_ms": first, "median_ms": med, "ms": ms, "tokens_per_s": tokens / (med * 1e-3),
                                 "peak_bytes": peak, "losses": [float(v) for v in losses]})
        print(f"torch FSDP {strategy:13s} W={world} ({api}, ran as {effective}, bf16, B={batch} per rank) {med:8.1f} ms median of {reps} "
              f"{tokens / (med * 1e-3):10.0f} tok/s peak {peak / 2**30:6.2f} GiB per rank", flush=True)
    del model, opt
    torch.cuda.empty_cache()


def fsdp_api(choice):
    if choice != "auto":
        return choice
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel  # noqa: F401
        return "fsdp1"
    except ImportError:
        return "fsdp2"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--batch", type=int, default=16, help="sequences per rank")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--api", choices=["auto", "fsdp1", "fsdp2"], default="auto",
                    help="FullyShardedDataParallel (fsdp1, the default when torch has it) or fully_shard (fsdp2)")
    ap.add_argument("--model", choices=["auto", "hf", "mini"], default="auto")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed steps per strategy")
    a = ap.parse_args()
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(dev)
    dist.init_process_group("nccl", device_id=dev)
    res = Results(a.json)
    res.data = {"world": world, "runs": [], "errors": []}
    props = torch.cuda.get_device_properties(dev)
    kind = model_kind() if a.model == "auto" else a.model
    api = fsdp_api(a.api)
    res.data.update(device=props.name, torch=torch.__version__, cuda=torch.version.cuda, model=kind, api=api)
    if rank == 0:
        print(f"fsdp_peer.py: torch {torch.__version__} on {world} x {props.name}; model {kind}; {api}", flush=True)
    for strategy in a.strategies.split(","):
        try:
            bench_strategy(res, strategy, api, a.batch, kind, a.budget, world, rank)
        except Exception as e:  # recorded; a failure on every rank alike leaves the group usable
            res.data["errors"].append(f"FSDP {strategy}: {e!r}")
            traceback.print_exc()
            torch.cuda.empty_cache()
        if rank == 0:
            res.save()
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
