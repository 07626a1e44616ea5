#!/usr/bin/env bash
# Prepares build/gpu-bundle HERE (a Debian machine with the project's build dependencies and nvcc),
# for tools/gpu/run.sh to fall back on when the GPU machine lacks cJSON, CMocka or OpenMPI:
#   build/gpu-bundle/bin/   zs-ref, zs-fast (and zs-check if present), Release, built for sm_90
#   build/gpu-bundle/debs/  the Debian packages of their runtime libraries and of OpenMPI's mpirun;
#                           run.sh unpacks them into /tmp/zs-sys there (never into /)
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
pkgs="libcjson1 libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
      libevent-pthreads-2.1-7 libmunge2 libudev1 zlib1g"
(cd "$out/debs" && apt-get download $pkgs)
du -sh "$out"
