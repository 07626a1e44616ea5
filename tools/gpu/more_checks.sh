# Sourced by tools/gpu/run.sh (set -euo pipefail: every command here that may fail says `|| ...`) after the conformance runs (uses its bin, mpirun_base, mpirun_cmd, summary,
# OUT, py). Four checks, each appending one or more lines to the summary:
#   6a. teacher forcing: zs-check run --teacher-forcing with zs-fast (mpi backend, W = 1, 2);
#   6b. checkpoints across implementations: zs-fast (W=2, ZeRO-2) -> zs-ref (W=3, ZeRO-3) and
#       zs-ref (W=3, ZeRO-2) -> zs-fast (W=2, ZeRO-2), each compared with the uninterrupted run;
#   6c. a rank killed with SIGKILL mid-run: the job must end (not hang) with a message;
#   6d. memory: zs-fast's cudaMalloc'ed model-state bytes next to zs-explain's prediction.
fast_mpi() {   # fast_mpi N ARGS...: zs-fast on N ranks over the MPI backend
  local n=$1; shift
  "${mpirun_base[@]}" -np "$n" "$bin/zs-fast" --backend mpi "$@"
}
launcher="${mpirun_base[*]} -np {N}"

# ---- 6a. teacher forcing ---------------------------------------------------------------------------
tf_cases=""
for c in fp32_zero0_adamw fp32_zero1_adam_l2 fp32_zero2_adamw fp32_zero3_adamw fp16_zero2_adamw fp16_walk_seed000 \
         fp16_zero0_adamw bf16_zero3_adamw opt_lamb_zero2 opt_lion_zero3 sched_one_cycle \
         fp32_zero2_offload fp32_zero3_offload; do   # the last two: --resume into offloaded state
  [ -f conformance/cases/$c.json ] && tf_cases="$tf_cases conformance/cases/$c.json"
done
"$bin/zs-check" run --impl "$bin/zs-fast --backend mpi --quiet" --launcher "$launcher" --teacher-forcing \
    --fixtures fixtures --worlds 1,2 --cases $tf_cases --junit "$OUT/teacher-forcing.xml" >"$OUT/teacher-forcing.log" 2>&1 || true
echo "teacher forcing (zs-fast, mpi backend, W=1,2): $(tail -1 "$OUT/teacher-forcing.log")" | tee -a "$summary"
{ grep '^FAIL' "$OUT/teacher-forcing.log" || true; } | sed 's/^/  /' | head -10 | tee -a "$summary"

# ---- 6b. checkpoints across implementations ---------------------------------------------------------
ck=$OUT/ckpt; rm -rf "$ck"; mkdir -p "$ck"
c=conformance/cases/fp32_zero2_adamw.json
ckpt_check() {   # ckpt_check LABEL GOT EXPECTED
  if "$bin/zs-check" diff "$2" "$3" >>"$OUT/ckpt.log" 2>&1; then echo "checkpoint $1: pass"; else echo "checkpoint $1: FAIL (ckpt.log)"; fi | tee -a "$summary"
}
{
  fast_mpi 2 --case $c --world 2 --steps 2 --save "$ck/fast_w2" --quiet &&
  "$bin/zs-ref" --case $c --world 3 --stage 3 --steps 4 --resume "$ck/fast_w2" --out "$ck/ref_w3_resumed.st" --quiet &&
  "$bin/zs-ref" --case $c --world 3 --stage 3 --steps 4 --out "$ck/ref_w3.st" --quiet &&
  "$bin/zs-ref" --case $c --world 3 --steps 2 --save "$ck/ref_w3" --quiet &&
  fast_mpi 2 --case $c --world 2 --steps 4 --resume "$ck/ref_w3" --out "$ck/fast_w2_resumed.st" --quiet
} >>"$OUT/ckpt.log" 2>&1 || echo "checkpoint runs: FAILED to run (ckpt.log)" | tee -a "$summary"
[ -f "$ck/ref_w3_resumed.st" ] && ckpt_check "zs-fast W=2 ZeRO-2 step 2 -> zs-ref W=3 ZeRO-3 step 4, vs uninterrupted zs-ref" "$ck/ref_w3_resumed.st" "$ck/ref_w3.st"
[ -f "$ck/fast_w2_resumed.st" ] && ckpt_check "zs-ref W=3 step 2 -> zs-fast W=2 step 4, vs the golden fixture" "$ck/fast_w2_resumed.st" fixtures/fp32_zero2_adamw/w2.safetensors
"$bin/zs-ref" ckpt info "$ck/fast_w2" >>"$OUT/ckpt.log" 2>&1 && echo "checkpoint written by zs-fast validates in zs-ref ckpt info: yes" | tee -a "$summary"

# ---- 6c. a rank that dies --------------------------------------------------------------------------
kill_log=$OUT/kill-a-rank.log
start=$(date +%s)
timeout 120 "${mpirun_base[@]}" -np 2 "$bin/zs-fast" --backend mpi --case $c --world 2 --steps 1000000 --quiet >"$kill_log" 2>&1 &
job=$!
sleep 8
victim=$(pgrep -f "zs-fast --backend mpi --case $c" 2>/dev/null | tail -1 || true)
[ -n "$victim" ] && kill -9 "$victim"
rc=0; wait $job || rc=$?
took=$(( $(date +%s) - start - 8 ))
if [ -z "$victim" ]; then
  echo "kill a rank: no zs-fast process found to kill (see kill-a-rank.log)" | tee -a "$summary"
elif [ $rc -eq 124 ]; then
  echo "kill a rank: HANG (mpirun still running 120 s after the start)" | tee -a "$summary"
else
  echo "kill a rank (SIGKILL to pid $victim after 8 s): job ended in ${took} s with exit $rc; message: $(grep -m1 -iE 'signal|exited|abort|error' "$kill_log" | cut -c1-160 || true)" | tee -a "$summary"
fi

# ---- 6d. memory: measured (cudaMalloc'ed by zs-fast) vs predicted (zs-explain) ---------------------
mem=$OUT/memory.txt; : >"$mem"
# zs-explain is host code: build it here when run.sh built only zs-ref, zs-fast and zs-check
[ -x "$bin/zs-explain" ] || cmake --build build/gpu -j16 --target zs-explain >>"$OUT/build.log" 2>&1 || true
for s in 0 1 2 3; do
  for p in fp32 bf16; do
    cf=conformance/cases/${p}_zero${s}_adamw.json
    [ -f $cf ] || continue
    { echo "== $p ZeRO-$s W=2: zs-fast (cudaMalloc'ed, per rank)"; fast_mpi 2 --case $cf --world 2 --steps 1 | sed -n '/per-rank model-state/,$p'
      echo "== $p ZeRO-$s W=2: zs-explain"; "$bin/zs-explain" --case $cf --world 2 | grep -E "^stage|^ZeRO-$s "; } >>"$mem" 2>&1 || true
  done
done
echo "memory table: memory.txt ($(grep -c '^==' "$mem" || true) runs)" | tee -a "$summary"
