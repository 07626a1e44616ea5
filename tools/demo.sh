#!/bin/sh
# The main demo: the reference trains the tiny GPT-2 on an example ZeRO-2 config (AdamW + WarmupLR,
# modelled on the seeds' configs) with 1, 2 and 4 simulated ranks, printing each optimizer step and
# the bytes of model state every rank holds under each ZeRO stage; then the precision modes: seed
# 000's fp16 block (the loss scale walking down from 2^32 with skipped steps) and bf16.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
zs_ref=${ZS_REF:-$root/build/default/bin/zs-ref}
[ -x "$zs_ref" ] || { echo "demo: $zs_ref not found; build first: cmake --workflow --preset default" >&2; exit 2; }
for world in 1 2 4; do
    echo
    echo "=== world size $world ==="
    "$zs_ref" --case "$root/tools/demo/zero2.json" --world "$world" --memory
done
echo
echo "=== fp16, seed 000's block: dynamic loss scale from 2^32, hysteresis 2 (world size 2) ==="
"$zs_ref" --case "$root/conformance/cases/fp16_walk_seed000.json" --world 2
echo
echo "=== bf16, ZeRO-2 (world size 2) ==="
"$zs_ref" --case "$root/conformance/cases/bf16_zero2_adamw.json" --world 2 --steps 3
