#!/usr/bin/env bash
# Fuzz the config parser, the case parser, the safetensors reader and the checkpoint manifest parser with libFuzzer (clang), each for
# a bounded time, seeded with the seeds' configs, the cases and the fixtures.
#   tools/fuzz/run.sh [SECONDS_PER_HARNESS]     (default 20; CI uses the default, use e.g. 600 locally)
# A crash leaves its input in build/fuzz/crash-*; add it to tools/fuzz/regressions/<harness>/ so the
# replay below keeps it fixed, and fix the parser.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
out=$root/build/fuzz
cmake -S "$root/tools/fuzz" -B "$out" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$out.configure.log" 2>&1 \
    || { cat "$out.configure.log"; exit 2; }
cmake --build "$out" -j "${JOBS:-2}" > "$out.build.log" 2>&1 || { tail -30 "$out.build.log"; exit 2; }

corpus() {  # harness -> seed directory
    local d=$out/corpus/$1
    mkdir -p "$d"
    case $1 in
        ds_config) cp "$root"/conformance/tests/data/*.json "$root"/tools/tests/data/*.json "$d"/ 2>/dev/null || true ;;
        case) cp "$root"/conformance/cases/*.json "$root"/tools/demo/*.json "$d"/ ;;
        safetensors) find "$root/fixtures/ops" -name '*.safetensors' -size -8k -exec cp {} "$d"/ \; ;;
        ckpt_manifest) cp "$root"/tools/fuzz/seeds/ckpt_manifest/*.json "$d"/ ;;
    esac
    echo "$d"
}

status=0
for h in ds_config case safetensors ckpt_manifest; do
    seeds=$(corpus "$h")
    regressions=$root/tools/fuzz/regressions/$h
    if [ -d "$regressions" ] && ls "$regressions"/* > /dev/null 2>&1; then   # replay fixed crashes first
        "$out/fuzz_$h" "$regressions"/* > "$out/$h.replay.log" 2>&1 || { tail -20 "$out/$h.replay.log"; status=1; }
    fi
    if "$out/fuzz_$h" -max_total_time="$secs" -max_len=65536 -artifact_prefix="$out/crash-$h-" \
        "$seeds" > "$out/$h.log" 2>&1; then
        echo "fuzz_$h: $(grep -Eo '#[0-9]+[[:space:]]+DONE.*' "$out/$h.log" | tail -1 || echo done) — no crash in ${secs}s"
    else
        tail -30 "$out/$h.log"
        echo "fuzz_$h: CRASH (input in $out/crash-$h-*)" >&2
        status=1
    fi
done
exit $status
