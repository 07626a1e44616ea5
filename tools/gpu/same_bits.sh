#!/usr/bin/env bash
# Whether a kernel change kept zs-fast's bits: builds zs-fast from a base commit's sources and reruns
# every mpi-backend trace that tools/gpu/run.sh just wrote (build/gpu/traces/CASE.wW.mpi.fast.*) with
# it, on the same device, then compares the two files byte for byte. For changes that claim to move
# no bit (a reordered load, a register-saving rewrite): the fixtures' tolerances would let a changed
# bit through, this does not. Run it on the device machine after tools/gpu/run.sh (or
# tools/bench/run.sh), from the repository root, in the same call (it reuses the environment that
# run.sh set up: /tmp/zs-sys/dev for cJSON/CMocka when the machine lacks them).
#   usage: tools/gpu/same_bits.sh BASE.tar.gz
#   (made here, without the fixtures so that it travels: git archive -o BASE.tar.gz COMMIT -- . ':!fixtures' ':!docs')
# Prints one line per trace and a last line "same bits: N identical, M differ"; exit status 1 when
# any differs or a run fails. ZS_GPU_JOBS traces run at once (default 6).
set -uo pipefail
cd "$(dirname "$0")/../.."
[ $# = 1 ] && [ -f "$1" ] || { echo "usage: $0 BASE.tar.gz (git archive of the base commit)"; exit 2; }
command -v mpirun >/dev/null ||   # else every trace would read as DIFFERS
  { echo "same_bits: no mpirun on PATH (run.sh's fallback to the bundle's OpenMPI is not supported here)"; exit 1; }
base=/tmp/zs-base
rm -rf "$base" && mkdir -p "$base/src" && tar -C "$base/src" -xzf "$1" || exit 1
sys=/tmp/zs-sys/dev/usr
if [ -d $sys ]; then
  export PKG_CONFIG_PATH=$sys/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=$sys/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  [ -f /usr/include/openssl/evp.h ] ||
    export OPENSSL_ROOT_DIR=$sys CPATH=$sys/include/x86_64-linux-gnu:$sys/include${CPATH:+:$CPATH}
fi
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
if ! { cmake -S "$base/src" -B "$base/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
       cmake --build "$base/build" -j16 --target zs-fast; } >"$base/build.log" 2>&1; then
  echo "same_bits: the base did not build"; tail -20 "$base/build.log"; exit 1
fi
one() {   # one TRACE: rerun it with the base build, print "CASE.wW: identical" or "... DIFFERS"
  local f=$1 n c w out
  n=$(basename "$f" .mpi.fast.safetensors)   # CASE.wW
  c=${n%.w*} w=${n##*.w} out=$base/$n.base.safetensors
  if mpirun --allow-run-as-root --oversubscribe -np "$w" -x LD_LIBRARY_PATH "$base/build/bin/zs-fast" \
       --case "conformance/cases/$c.json" --world "$w" --backend mpi --out "$out" >"$base/$n.log" 2>&1 &&
     cmp -s "$f" "$out"; then
    echo "$n: identical"
  else
    echo "$n: DIFFERS (or the base run failed: $base/$n.log)"
  fi
}
export -f one; export base
ls build/gpu/traces/*.mpi.fast.safetensors | xargs -P "${ZS_GPU_JOBS:-6}" -I{} bash -c 'one {}' | sort >"$base/verdicts"
cat "$base/verdicts"
same=$(grep -c ': identical$' "$base/verdicts") differ=$(grep -c DIFFERS "$base/verdicts")
echo "same bits: $same identical, $differ differ"
[ "$differ" = 0 ] && [ "$same" -gt 0 ]
