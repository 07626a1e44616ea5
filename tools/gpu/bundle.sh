#!/usr/bin/env bash
# Prepares build/gpu-bundle HERE (a Debian machine with the project's build dependencies and nvcc)
# for tools/gpu/run.sh on the GPU machine, whose image has CUDA, NCCL and OpenMPI but not cJSON or
# CMocka (seen 2026-11-23) or OpenSSL's headers:
#   build/gpu-bundle/debs/  Debian packages: cJSON and CMocka (run.sh builds the project there with
#                           them), and the runtime of the binaries below with OpenMPI's mpirun;
#                           run.sh unpacks them under /tmp/zs-sys (never into /)
#   build/gpu-bundle/bin/   zs-ref, zs-fast (and zs-check if present), Release, built for sm_90: the
#                           fallback when the build there fails
# Then pass it along: run tool `carry: ["build/gpu-bundle"]` (build/ is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/gpu-bundle
rm -rf "$out"
mkdir -p "$out/bin" "$out/debs"

cmake -S . -B build/gpu-prebuilt -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
targets="zs-ref zs-fast"
[ -d tools/zs_check ] && targets="$targets zs-check"
cmake --build build/gpu-prebuilt --target $targets
for t in $targets; do cp "build/gpu-prebuilt/bin/$t" "$out/bin/"; done

# What those binaries and mpirun load beyond glibc, libstdc++ and CUDA (found with ldd on Debian 12).
pkgs="libcjson1 libcjson-dev libcmocka0 libcmocka-dev libssl-dev libssl3 libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
      libevent-pthreads-2.1-7 libmunge2 libudev1 zlib1g"
(cd "$out/debs" && apt-get download $pkgs)
du -sh "$out"
