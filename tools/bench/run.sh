#!/usr/bin/env bash
# zs-fast beside PyTorch on one GPU (issue #7), run on the device machine from the repository root:
#   1. tools/gpu/run.sh builds the whole project in build/gpu (Release, sm_90; zs-fast-bench is part of
#      it) and checks zs-fast against zs-ref. ZS_BENCH_CONFORMANCE: "all" = every fp32 case (the proof
#      after a kernel change), "smoke" (default) = one case, "none" = skip (build/gpu must exist);
#   2. zs-fast-bench: copy bandwidth, every optimizer kernel, a GPT-2 124M training step and its per-op
#      split in fp32, bf16 and fp16 (ZS_BENCH_DTYPES, default all three);
#   3. tools/bench/torch_peers.py: torch's copy, optimizers and training steps (eager, compiled; fp32,
#      TF32, bf16 and fp16 autocast);
#   4. data parallel, bf16 (ZS_BENCH_WORLD): zs-fast-bench --phases world (ZeRO-1/2/3, nccl, one rank
#      per GPU under mpirun) and tools/bench/fsdp_peer.py (FSDP FULL_SHARD and SHARD_GRAD_OP under
#      torch.distributed.run), at W = 1 and W = the GPU count when the machine has two or more GPUs;
#      with one GPU at W = 1 only, a short smoke run that proves the code paths;
#   5. one results.json, the plot (tools/bench/plot.py), and the table last.
# Files in $OUT: bench.log, results.json, performance.png, gpu-check.tar.gz (tools/gpu/run.sh's own).
# ZS_BENCH_WORLD: "auto" (default, as above), "none" (skip step 4), or a list of world sizes ("1,2");
# step 4 keeps its reserve (ZS_BENCH_WORLD_RESERVE seconds: default 70 for the one-GPU smoke run, 150
# with several GPUs) out of the earlier steps' time limits.
# Environment: OUT (default build/bench/out), ZS_BENCH_CONFORMANCE, ZS_BENCH_BATCH (16), ZS_BENCH_DTYPES,
# ZS_BENCH_DEADLINE (seconds the whole script may take, default 280; later phases get what is left),
# ZS_BENCH_TORCH_STEPS (torch_peers.py --steps, default all), ZS_GPU_MPI_MAX (passed on; default 1 for
# smoke, 2 for all), ZS_BENCH_COMMIT (recorded in results.json when the copy has no .git).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
OUT=${OUT:-$root/build/bench/out}
work=$root/build/bench/work
mkdir -p "$OUT" "$work"
exec > >(tee "$OUT/bench.log") 2>&1
export NCCL_NVLS_ENABLE=0   # never NVLink multicast on these machines (KINDS.md)
deadline=${ZS_BENCH_DEADLINE:-280}
batch=${ZS_BENCH_BATCH:-16}
left() { echo $(( deadline - SECONDS )); }
at_least() { echo $(( $1 > $2 ? $1 : $2 )); }   # at_least X MIN
phase() { echo; echo "==== $1 (t=${SECONDS}s, $(left)s left)"; }

# ---- 1. build (and conformance) through tools/gpu/run.sh ----------------------------------------
mode=${ZS_BENCH_CONFORMANCE:-smoke}
if [ "$mode" != none ]; then
  phase "tools/gpu/run.sh ($mode)"
  cases=""; [ "$mode" = smoke ] && cases=fp32_zero2_adamw
  OUT=$work/gpu ZS_GPU_CASES=${cases:-${ZS_GPU_CASES:-}} ZS_GPU_MPI_MAX=${ZS_GPU_MPI_MAX:-$([ "$mode" = smoke ] && echo 1 || echo 2)} \
    bash tools/gpu/run.sh >/dev/null 2>&1
  echo "tools/gpu/run.sh exit status $?; its summary:"
  cat "$work/gpu/summary.txt" 2>/dev/null
  tar -C "$work" -czf "$OUT/gpu-check.tar.gz" gpu
fi
bin=$root/build/gpu/bin
[ -x "$bin/zs-fast-bench" ] || { echo "run.sh: no $bin/zs-fast-bench (see gpu-check.tar.gz: gpu/build.log)"; exit 1; }
# The runtime libraries the build found (NCCL, and cJSON from build/gpu-bundle when tools/gpu/run.sh
# unpacked it), in case the binary's build RPATH lacks them.
nccl=$(sed -n 's/^NCCL_LIBRARY:FILEPATH=//p' build/gpu/CMakeCache.txt)
export LD_LIBRARY_PATH=${nccl:+$(dirname "$nccl"):}/tmp/zs-sys/dev/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mpirun=$(command -v mpirun || echo /tmp/zs-sys/all/usr/bin/orterun)

# Data-parallel world sizes (step 4) and the seconds kept for them.
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
ngpu=${ngpu:-0}
worlds=${ZS_BENCH_WORLD:-auto}
if [ "$worlds" = auto ]; then
  if [ "$ngpu" -ge 2 ]; then worlds="1,$ngpu"; else worlds=1; fi
fi
[ "$worlds" = none ] && worlds=""
smoke_world=$([ "$ngpu" -lt 2 ] && echo 1 || echo 0)
reserve=0
[ -n "$worlds" ] && reserve=${ZS_BENCH_WORLD_RESERVE:-$([ "$smoke_world" = 1 ] && echo 70 || echo 150)}

# ---- 2. zs-fast ---------------------------------------------------------------------------------
phase "zs-fast-bench"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv || true
timeout "$(at_least $(( $(left) - 130 - reserve )) 90)" "$mpirun" --allow-run-as-root -np 1 -x LD_LIBRARY_PATH -x NCCL_NVLS_ENABLE \
  "$bin/zs-fast-bench" --batch "$batch" --dtypes "${ZS_BENCH_DTYPES:-fp32,bf16,fp16}" --json "$work/zs-fast.json"
echo "zs-fast-bench exit status $?"

# ---- 3. PyTorch ---------------------------------------------------------------------------------
phase "torch_peers.py"
PYTHONUNBUFFERED=1 timeout "$(at_least $(( $(left) - 15 - reserve )) 30)" python3 tools/bench/torch_peers.py \
  --json "$work/torch.json" --batch "$batch" --steps "${ZS_BENCH_TORCH_STEPS:-all}"
echo "torch_peers.py exit status $?"

# ---- 4. data parallel: ZeRO-1/2/3 and FSDP at each world size ------------------------------------
# bf16, B sequences per rank (weak scaling). One GPU: W = 1 only, the minimum of repeats (a smoke
# run: it proves the mpirun and torch.distributed paths, its times are not a scaling result).
world_json=(); fsdp_json=()
smoke_note=$([ "$smoke_world" = 1 ] && echo " (one-GPU smoke run)" || true)
budget=$([ "$smoke_world" = 1 ] && echo 0.3 || echo 1.5)   # seconds of timed steps per stage/strategy
n_left=$(echo "${worlds//,/ }" | wc -w)
for W in ${worlds//,/ }; do
  phase "data parallel, W = $W$smoke_note"
  phase_t0=$SECONDS
  share=$(( ($(left) - 10) / n_left )); n_left=$(( n_left - 1 ))   # this world size's share of the time left
  if [ "$W" -gt "$(at_least "$ngpu" 1)" ] || [ "$share" -lt 40 ]; then
    echo "W = $W skipped: $ngpu GPU(s) on this machine, $share s of time for it"; continue
  fi
  # zs-fast gets at most 40% of the share; FSDP the rest (it imports torch and transformers first)
  timeout "$(( share * 2 / 5 ))" "$mpirun" --allow-run-as-root -np "$W" --bind-to none \
    -x LD_LIBRARY_PATH -x NCCL_NVLS_ENABLE "$bin/zs-fast-bench" --phases world --dtypes bf16 --stages 1,2,2s,3 \
    --batch "$batch" --budget "$budget" --json "$work/zs-world-$W.json"
  echo "zs-fast-bench --phases world (W = $W) exit status $?"
  world_json+=("$work/zs-world-$W.json")
  PYTHONUNBUFFERED=1 timeout "$(at_least $(( share - SECONDS + phase_t0 )) 20)" python3 -m torch.distributed.run \
    --standalone --nproc_per_node "$W" tools/bench/fsdp_peer.py --json "$work/fsdp-$W.json" --batch "$batch" \
    --budget "$budget"
  echo "fsdp_peer.py (W = $W) exit status $?"
  fsdp_json+=("$work/fsdp-$W.json")
done

# ---- 5. results, plot, table --------------------------------------------------------------------
# A copy whose .git is older than its files (the device machine's) describes as "<hash>-dirty":
# the hash is then not the code that ran, and ZS_BENCH_COMMIT should name it.
if [ -z "${ZS_BENCH_COMMIT:-}" ] && git describe --always --dirty 2>/dev/null | grep -q -- '-dirty$'; then
  echo "run.sh: the working tree differs from its .git HEAD; pass ZS_BENCH_COMMIT=<hash> to record the code that ran"
fi
phase "results"
python3 tools/bench/plot.py --zs-fast "$work/zs-fast.json" --torch "$work/torch.json" \
  ${world_json[@]:+--world "${world_json[@]}"} ${fsdp_json[@]:+--fsdp "${fsdp_json[@]}"} \
  --commit "${ZS_BENCH_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo unknown)}" --results "$OUT/results.json" \
  --png "$OUT/performance.png"
