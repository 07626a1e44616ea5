#!/bin/sh
# ckpt_flow.sh ZS_REF ZS_CHECK: the checkpoint workflow end to end through the CLIs.
#   1. 2 steps at ZeRO-2 on 2 ranks, saved; 2. resumed at ZeRO-3 on 3 ranks to step 4; 3. the resumed
#   trace equals the uninterrupted ZeRO-3/3-rank run (zs-check diff, fp32 tolerances; resumed traces
#   hold steps 3-4 only); 4. the same on the same layout is bit-identical (exact class); 5. ckpt info and
#   consolidate; the consolidated parameters equal the trace's step-2 parameters bit for bit.
set -eu
ref=$1; check=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
case_file=$root/conformance/cases/fp32_zero2_adamw.json
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$ref" --case "$case_file" --world 2 --steps 2 --save "$work/ck" --out "$work/first.st" --quiet
"$ref" --case "$case_file" --world 3 --stage 3 --steps 4 --out "$work/full3.st" --quiet
"$ref" --case "$case_file" --world 3 --stage 3 --steps 4 --resume "$work/ck" --out "$work/res3.st" --quiet
"$check" diff "$work/res3.st" "$work/full3.st"
"$ref" --case "$case_file" --world 2 --steps 4 --out "$work/full2.st" --quiet
"$ref" --case "$case_file" --world 2 --steps 4 --resume "$work/ck" --out "$work/res2.st" --quiet
"$check" diff --tolerance-class exact "$work/res2.st" "$work/full2.st"
"$ref" ckpt info "$work/ck"
"$ref" ckpt consolidate "$work/ck" --out "$work/consolidated.safetensors"
PYTHONPATH=$root/tools/python python3 - "$work/consolidated.safetensors" "$work/first.st" <<'PY'
import sys
import zs_safetensors as st
cons, meta = st.read(sys.argv[1])
trace, _ = st.read(sys.argv[2])
params = [n for n in cons if not n.startswith("optimizer/")]
assert meta["format"] == "zerospec.consolidated" and meta["global_steps"] == "2", meta
for n in params:
    assert cons[n] == trace["step2/param/" + n], n   # (dtype, shape, bytes) identical
for n in cons:
    if n.startswith("optimizer/exp_avg/"):
        assert cons[n][1] == cons[n.split("/", 2)[2]][1], n   # states have the parameter's shape
print(f"consolidated: {len(params)} parameters equal the trace's step-2 parameters; "
      f"{len(cons) - len(params)} optimizer-state tensors")
PY
echo "ckpt_flow: ok"
