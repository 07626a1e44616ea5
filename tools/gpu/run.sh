#!/usr/bin/env bash
# The GPU check, run on the device machine from the repository root:
#   1. record the machine (GPUs, CUDA, MPI, NCCL) in $OUT/env.txt;
#   2. build the whole project in build/gpu (Release, sm_90); if the machine lacks a build dependency
#      (cJSON, CMocka, OpenMPI) use build/gpu-bundle instead (tools/gpu/bundle.sh, carried along);
#   3. write golden traces with zs-ref, run zs-fast under mpirun on the same cases and world sizes
#      (backend nccl: one rank per GPU; backend mpi: 1..4 ranks sharing the GPUs), several cases at
#      once (ZS_GPU_JOBS);
#   4. compare each pair (zs-check diff when built, and tools/gpu/compare.py for the numbers), and
#      each zs-fast trace with the committed fixture (zs-check diff --json, the suite's tolerances);
#      print the summary table last.
# A case zs-fast refuses (exit status 2: something it does not implement) is listed as UNSUPPORTED,
# not as a failure; a case that refuses for any other reason, or a refusal of a supported case, fails.
# Files in $OUT (at most 8 come back from the device machine): run.log (all output), env.txt,
# build.log, runs.log (zs-ref, zs-fast, memcheck), compare.log (per-tensor detail), summary.txt,
# zs-check-mpi.json and zs-check-nccl.json (zs-check diff of every zs-fast trace against the committed
# fixtures). Environment: OUT (default build/gpu/out), ZS_GPU_CASES (case names, default: every case),
# ZS_GPU_MPI_MAX (largest mpi-backend world, default 8), ZS_GPU_STEPS (override the cases' steps),
# ZS_GPU_JOBS (cases run at once, default 6), ZS_GPU_FULL_BUILD (1: build every target, default 1),
# ZS_GPU_MEMCHECK (cases run under compute-sanitizer memcheck).
# Exit status: 0 when every line of the summary passes, 1 otherwise (and on a failed build).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
OUT=${OUT:-$root/build/gpu/out}
mkdir -p "$OUT" build/gpu/traces
traces=$root/build/gpu/traces
exec > >(tee "$OUT/run.log") 2>&1
export NCCL_NVLS_ENABLE=0   # never NVLink multicast on these machines (KINDS.md)

cases=${ZS_GPU_CASES:-$(cd conformance/cases && ls *.json | sed 's/\.json$//' | xargs)}
mpi_max=${ZS_GPU_MPI_MAX:-8}   # every world size the cases list (8 ranks share the GPUs)
jobs=${ZS_GPU_JOBS:-6}

# ---- 1. the machine --------------------------------------------------------------------------
py=python3
command -v "$py" >/dev/null || py=/usr/bin/python3
first_dir_with() {   # first_dir_with FILE DIR... -> the first DIR holding FILE
  local f=$1; shift
  for d in "$@"; do [ -e "$d/$f" ] && { echo "$d"; return; }; done
  return 0
}
pynccl=$($py -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null || true)
nccl_lib=$(first_dir_with libnccl.so.2 /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu ${pynccl:+$pynccl/lib})
nccl_inc=$(first_dir_with nccl.h /usr/local/cuda/include /usr/include ${pynccl:+$pynccl/include})
if [ -n "$pynccl" ] && [ "$nccl_lib" = "$pynccl/lib" ] && [ "$nccl_inc" = "$pynccl/include" ]; then
  export NCCL_ROOT=$pynccl
fi
cuda_lib=$(first_dir_with libcublas.so.13 /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib)
export LD_LIBRARY_PATH=${nccl_lib:+$nccl_lib:}${cuda_lib:+$cuda_lib:}${LD_LIBRARY_PATH:-}
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  nvidia-smi -L || true
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  /usr/local/cuda/bin/nvcc --version 2>/dev/null | tail -1 || true
  cmake --version | head -1 || true
  echo "mpirun: $(command -v mpirun || echo none) $(mpirun --version 2>/dev/null | head -1 || true)"
  echo "cJSON: $(pkg-config --modversion libcjson 2>/dev/null || echo none)  CMocka: $(pkg-config --modversion cmocka 2>/dev/null || echo none)"
  echo "NCCL: lib ${nccl_lib:-none}, include ${nccl_inc:-none}, NCCL_ROOT ${NCCL_ROOT:-unset}; cuBLAS: ${cuda_lib:-none}"
  grep -m1 PRETTY_NAME /etc/os-release || true
} | tee "$OUT/env.txt"

# ---- 2. build ----------------------------------------------------------------------------------
# Preferred: build here with the machine's CUDA, NCCL and OpenMPI; cJSON and CMocka, which the GPU
# image lacks, come from the bundle's Debian packages unpacked under /tmp/zs-sys/dev. Fallback: the
# bundle's prebuilt binaries with its own OpenMPI (everything unpacked under /tmp/zs-sys/all).
bin=$root/build/gpu/bin
bundle_debs=build/gpu-bundle/debs
unpack() {   # unpack DIR PACKAGE... : the bundle's .debs of those packages into DIR
  local dir=$1 p f; shift
  mkdir -p "$dir"
  for p in "$@"; do for f in $bundle_debs/${p}_*.deb; do [ -f "$f" ] && dpkg -x "$f" "$dir"; done; done
}
dev_deps_from_bundle() {
  local sys=/tmp/zs-sys/dev
  unpack $sys libcjson1 libcjson-dev libcmocka0 libcmocka-dev
  if [ ! -f /usr/include/openssl/evp.h ]; then   # OpenSSL's headers (sha256 of checkpoint shards)
    unpack $sys libssl-dev libssl3
    export OPENSSL_ROOT_DIR=$sys/usr CPATH=$sys/usr/include/x86_64-linux-gnu:$sys/usr/include${CPATH:+:$CPATH}
  fi
  sed -i "s|/usr|$sys/usr|g" $sys/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc
  export PKG_CONFIG_PATH=$sys/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=$sys/usr/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH
  echo "run.sh: cJSON and CMocka from build/gpu-bundle's packages ($sys)"
}
use_bundle() {
  local sys=/tmp/zs-sys/all
  [ -d build/gpu-bundle/bin ] || { echo "run.sh: no build/gpu-bundle to fall back on (run tools/gpu/bundle.sh here and carry it)"; exit 1; }
  unpack $sys $(ls $bundle_debs | sed 's/_.*//')
  export OPAL_PREFIX=$sys/usr PMIX_INSTALL_PREFIX=$sys/usr/lib/x86_64-linux-gnu/pmix2
  export OMPI_MCA_mca_base_component_show_load_errors=0 PMIX_MCA_mca_base_component_path=$sys/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
  export PMIX_MCA_pcompress_base_silence_warning=1
  export LD_LIBRARY_PATH=$sys/usr/lib/x86_64-linux-gnu/openmpi/lib:$sys/usr/lib/x86_64-linux-gnu/pmix2/lib:$sys/usr/lib/x86_64-linux-gnu:$sys/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH
  mpirun_cmd=$sys/usr/bin/orterun
  bin=$root/build/gpu-bundle/bin
  echo "run.sh: using the prebuilt binaries and OpenMPI of build/gpu-bundle"
}
mpirun_cmd=$(command -v mpirun || true)
built=0
if { ! pkg-config --exists libcjson cmocka 2>/dev/null || [ ! -f /usr/include/openssl/evp.h ]; } && [ -d $bundle_debs ]; then
  dev_deps_from_bundle
fi
if [ -n "$mpirun_cmd" ] && pkg-config --exists libcjson cmocka 2>/dev/null; then
  gen=""; command -v ninja >/dev/null && gen="-G Ninja"
  targets=""; [ "${ZS_GPU_FULL_BUILD:-1}" = 1 ] || targets="--target zs-ref zs-fast zs-check"
  if cmake -S . -B build/gpu $gen -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/build.log" 2>&1 &&
     cmake --build build/gpu -j16 $targets >>"$OUT/build.log" 2>&1; then
    built=1
  else
    echo "run.sh: the full build failed (tail of build.log below); trying zs-ref and zs-fast alone"
    tail -20 "$OUT/build.log"
    cmake --build build/gpu -j16 --target zs-ref zs-fast >>"$OUT/build.log" 2>&1 && built=1 || true
    cmake --build build/gpu -j16 --target zs-check >>"$OUT/build.log" 2>&1 || true
  fi
fi
[ $built = 1 ] && echo "run.sh: built in build/gpu" || use_bundle
[ -x "$bin/zs-fast" ] && [ -x "$bin/zs-ref" ] || { echo "run.sh: zs-ref or zs-fast missing in $bin"; exit 1; }
if [ $built = 1 ] && [ -z "$targets" ] && [ -f build/gpu/CTestTestfile.cmake ]; then   # the host unit tests of fast/
  (cd build/gpu && ctest -R '^fast\.' --output-on-failure >>"$OUT/build.log" 2>&1) &&
    echo "run.sh: fast/ unit tests pass" || echo "run.sh: fast/ unit tests FAILED (see build.log)"
fi

# ---- 3 + 4. runs and comparisons -----------------------------------------------------------------
summary=$OUT/summary.txt
row() { printf "%-28s %5s %7s %12s %14s %10s %s\n" "$@"; }
row case world backend verdict max_abs_param worst zs-check >"$summary"
steps_arg=()
[ -n "${ZS_GPU_STEPS:-}" ] && steps_arg=(--steps "$ZS_GPU_STEPS")
mpirun_base=("$mpirun_cmd" --allow-run-as-root --oversubscribe -x NCCL_NVLS_ENABLE -x LD_LIBRARY_PATH)
[ -n "${OPAL_PREFIX:-}" ] && mpirun_base+=(-x OPAL_PREFIX -x PMIX_INSTALL_PREFIX -x PMIX_MCA_mca_base_component_path
  -x PMIX_MCA_pcompress_base_silence_warning -x OMPI_MCA_mca_base_component_show_load_errors)
parts=$OUT/parts; rm -rf "$parts"; mkdir -p "$parts"

# Each case writes its own parts/<case>.{summary,runs,compare} (cases run concurrently); they are
# concatenated in case order afterwards. fixture_list collects "FAST_TRACE FIXTURE BACKEND" lines.
check_pair() {   # check_pair CASE WORLD BACKEND REF FAST
  local verdict=ERROR mad=- worst=- zc=- line
  if [ -x "$bin/zs-check" ]; then
    "$bin/zs-check" diff "$5" "$4" >>"${cmpfile:-$parts/$1.compare}" 2>&1 && zc=pass || zc="fail($?)"   # GOT, EXPECTED
  fi
  line=$($py tools/gpu/compare.py "$4" "$5" --detail 2>&1 | tee -a "${cmpfile:-$parts/$1.compare}" | tail -1) || true
  case $line in
    PASS*|FAIL*) verdict=${line%% *}
                 mad=$(sed -n 's/.*max_abs_param=\([^ ]*\).*/\1/p' <<<"$line")
                 worst=$(sed -n 's/.*worst=\([^ ]*\).*/\1/p' <<<"$line");;
  esac
  # the verdict is zs-check's (the suite's per-precision tolerances); compare.py's fixed fp32 bounds
  # only supply the numbers, and flag fp16/bf16 traces that zs-check passes
  case $zc in pass) verdict=PASS;; fail*) verdict=FAIL;; esac
  row "$1" "$2" "$3" "$verdict" "$mad" "$worst" "$zc" >>"${sumfile:-$parts/$1.summary}"
}

run_fast() {   # run_fast CASE WORLD BACKEND REF
  local name=$1.w$2.$3 tag rc=0 log=$parts/$1.runs
  echo "=== $name" >>"$log"; echo "=== $name" >>"$parts/$1.compare"
  timeout 120 "${mpirun_base[@]}" -np "$2" "$bin/zs-fast" --case "conformance/cases/$1.json" --world "$2" \
       --backend "$3" "${steps_arg[@]}" --out "$traces/$name.fast.safetensors" >>"$log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then
    check_pair "$1" "$2" "$3" "$4" "$traces/$name.fast.safetensors"
    [ -f "fixtures/$1/w$2.safetensors" ] && [ -z "${ZS_GPU_STEPS:-}" ] &&
      echo "$traces/$name.fast.safetensors fixtures/$1/w$2.safetensors $3" >>"$parts/$1.fixtures"
    return
  fi
  tag="RUNFAIL($rc)"; [ $rc = 124 ] && tag="TIMEOUT"
  [ $rc = 2 ] && tag="UNSUPPORTED"
  row "$1" "$2" "$3" "$tag" - - - >>"$parts/$1.summary"
  if [ $rc = 2 ]; then
    echo "$1: $(grep -m1 'zs-fast: error:' "$log" | sed 's/^zs-fast: error: //')" >>"$parts/$1.unsupported"
  fi
  return 0
}

do_case() {   # do_case CASE: every world size of one case
  local c=$1 f=conformance/cases/$1.json w ref worlds
  : >"$parts/$c.summary"
  worlds=$($py -c 'import json,sys; print(*json.load(open(sys.argv[1])).get("world_sizes", [1]))' "$f")
  for w in $worlds; do
    ref=$traces/$c.w$w.ref.safetensors
    [ "$w" -le "$mpi_max" ] || [ "$w" -le "$ngpu" ] || continue
    "$bin/zs-ref" --case "$f" --world "$w" "${steps_arg[@]}" --quiet --out "$ref" >>"$parts/$c.runs" 2>&1 ||
      { row "$c" "$w" - REFFAIL >>"$parts/$c.summary"; continue; }
    [ "$w" -le "$ngpu" ] && run_fast "$c" "$w" nccl "$ref"
    [ "$w" -le "$mpi_max" ] && run_fast "$c" "$w" mpi "$ref"
    if [ -f "$parts/$c.unsupported" ]; then return 0; fi   # one refusal per case is enough
  done
  return 0
}

# (A plain `wait` would also wait for the tee of the log, a process substitution, in bash >= 5.1.)
pids=()
for c in $cases; do
  [ -f "conformance/cases/$c.json" ] || { echo "run.sh: no case conformance/cases/$c.json"; continue; }
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  do_case "$c" &
  pids+=($!)
done
[ ${#pids[@]} = 0 ] || wait "${pids[@]}" || true
for c in $cases; do
  for k in summary runs compare; do [ -f "$parts/$c.$k" ] && cat "$parts/$c.$k" >>"$OUT/$( [ $k = summary ] && echo summary.txt || echo $k.log )"; done
done
sumfile=$summary cmpfile=$OUT/compare.log   # check_pair from here on writes straight to the totals

# Runs with small buckets (several NCCL calls per collective; stage 2's per-unit reductions cut
# across rank boundaries) and, below, under compute-sanitizer.
w=$(( ngpu >= 2 ? 2 : 1 ))
for c in fp32_zero3_adamw fp32_zero2_adamw; do
  [ -f "$traces/$c.w$w.ref.safetensors" ] || continue
  "${mpirun_base[@]}" -np $w "$bin/zs-fast" --case conformance/cases/$c.json --world $w --bucket-size 1000 \
    --out "$traces/$c.w$w.buckets.fast.safetensors" --quiet >>"$OUT/runs.log" 2>&1 &&
    check_pair "$c(bucket=1000)" $w nccl "$traces/$c.w$w.ref.safetensors" "$traces/$c.w$w.buckets.fast.safetensors" ||
    printf "%-28s %5s %7s %8s\n" "$c(bucket=1000)" $w nccl RUNFAIL >>"$summary"
done
# Bit-for-bit: a repeated run writes the same file, and the two backends agree exactly at W <= 2
# (a sum of two terms is the same in any order, so NCCL's ring and the mpi backend's rank-order fold
# coincide there).
c=fp32_zero2_adamw
if [ -f "$traces/$c.w1.nccl.fast.safetensors" ]; then
  "${mpirun_base[@]}" -np 1 "$bin/zs-fast" --case conformance/cases/$c.json --quiet \
    --out "$traces/$c.w1.nccl.again.safetensors" >>"$OUT/runs.log" 2>&1 || true
  cmp -s "$traces/$c.w1.nccl.fast.safetensors" "$traces/$c.w1.nccl.again.safetensors" &&
    r=identical || r=DIFFERENT
  echo "repeat run ($c, W=1, nccl): trace files $r" | tee -a "$summary"
fi
for c in fp32_zero2_adamw fp16_zero2_adamw bf16_zero2_adamw bf16_zero2_overlap; do
  for w in 1 2; do
    a=$traces/$c.w$w.nccl.fast.safetensors; b=$traces/$c.w$w.mpi.fast.safetensors
    if [ -f "$a" ] && [ -f "$b" ]; then
      cmp -s "$a" "$b" && r=bit-identical || r=DIFFERENT
      echo "backends nccl vs mpi ($c, W=$w): trace files $r" | tee -a "$summary"
    fi
  done
done
# fp16: a repeated run writes the same file too.
c=fp16_zero2_adamw
if [ -f "$traces/$c.w1.nccl.fast.safetensors" ]; then
  "${mpirun_base[@]}" -np 1 "$bin/zs-fast" --case conformance/cases/$c.json --quiet \
    --out "$traces/$c.w1.nccl.again.safetensors" >>"$OUT/runs.log" 2>&1 || true
  cmp -s "$traces/$c.w1.nccl.fast.safetensors" "$traces/$c.w1.nccl.again.safetensors" && r=identical || r=DIFFERENT
  echo "repeat run ($c, W=1, nccl): trace files $r" | tee -a "$summary"
fi
if command -v compute-sanitizer >/dev/null; then   # fp32, fp16 (loss scaling, casts), Lamb (block reductions), stage 2 overlapped
  for c in ${ZS_GPU_MEMCHECK:-fp32_zero2_adamw fp16_zero2_adamw opt_lamb_zero0 bf16_zero2_overlap}; do
    timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 "$bin/zs-fast" \
      --case conformance/cases/$c.json --backend mpi --steps 2 --quiet >>"$OUT/runs.log" 2>&1 &&
      echo "memcheck (zs-fast, $c, W=1, mpi backend, 2 steps): clean" | tee -a "$summary" ||
      echo "memcheck (zs-fast, $c, W=1, mpi backend, 2 steps): FAILED (see runs.log)" | tee -a "$summary"
  done
fi
# What zs-fast does not implement is refused with exit status 2 and one error line: MuP's MuAdam.
unsup=$traces/unsupported_refusal.json
$py -c 'import json,sys; c=json.load(open(sys.argv[1])); c["name"]="unsupported_refusal"
c["ds_config"]["optimizer"]={"type":"MuAdam","params":{"lr":0.01}}
json.dump(c,open(sys.argv[2],"w"))' conformance/cases/fp32_zero0_adamw.json "$unsup"
rc=0; "${mpirun_base[@]}" -np 1 "$bin/zs-fast" --case "$unsup" --quiet >>"$OUT/runs.log" 2>&1 || rc=$?
echo "refusal (MuAdam): exit $rc, $(grep 'zs-fast: error:' "$OUT/runs.log" | tail -1)" | tee -a "$summary"
if ls "$parts"/*.unsupported >/dev/null 2>&1; then
  echo "unsupported cases (zs-fast exit 2):" | tee -a "$summary"
  cat "$parts"/*.unsupported | sed 's/^/  /' | tee -a "$summary"
fi

# ---- 5. the suite's tolerances: every zs-fast trace against the committed golden fixture ---------
if [ -x "$bin/zs-check" ] && [ -d fixtures ]; then
  for backend in mpi nccl; do
    pairs=(); n=0
    while read -r got want b; do
      [ "$b" = "$backend" ] && { pairs+=("$got" "$want"); n=$((n + 1)); }
    done < <(cat "$parts"/*.fixtures 2>/dev/null)
    [ $n -gt 0 ] || continue
    pass=0; fail=0; : >"$OUT/zs-check-$backend.list"
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
      if "$bin/zs-check" diff "${pairs[i]}" "${pairs[i+1]}" --json "$parts/fx.$backend.$i.json" >>"$OUT/compare.log" 2>&1; then
        pass=$((pass + 1))
      else
        fail=$((fail + 1)); echo "  FAIL vs fixture: ${pairs[i]##*/}" | tee -a "$summary"
      fi
    done
    $py -c 'import json,sys; print(json.dumps({"results":[r for p in sys.argv[2:] for r in json.load(open(p)).get("results",[json.load(open(p))])]}))' \
      x "$parts"/fx.$backend.*.json >"$OUT/zs-check-$backend.json" 2>/dev/null || true
    echo "zs-check diff vs committed fixtures (backend $backend): $pass passed, $fail failed" | tee -a "$summary"
  done
  ls "$OUT"/zs-check-*.json >/dev/null 2>&1 && { $py tools/gpu/kinds.py "$OUT"/zs-check-*.json | tee -a "$summary" || true; }
fi

# ---- 6. teacher forcing, checkpoints across implementations, a killed rank, memory ----------------
[ "${ZS_GPU_MORE:-1}" = 1 ] && [ -x "$bin/zs-check" ] && . tools/gpu/more_checks.sh

echo
echo "device: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | sort | uniq -c | xargs) | binaries: $bin"
cat "$summary"

# ---- exit status: non-zero when any run, comparison or check above failed (UNSUPPORTED is a refusal
# the suite allows, not a failure; the kill-a-rank line quotes mpirun's own abort message)
failures=$(grep -vE '^kill a rank \(SIGKILL' "$summary" |
  grep -cE '\b(FAIL|FAILED|RUNFAIL|TIMEOUT|REFFAIL|ERROR|DIFFERENT|HANG)\b|\b[1-9][0-9]* failed' || true)
echo "run.sh: $failures failing line(s) in the summary"
[ "$failures" = 0 ]
