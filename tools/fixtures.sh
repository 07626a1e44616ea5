#!/usr/bin/env bash
# Golden fixtures: regenerate them from the reference, or check that they regenerate bit-identically.
#
#   tools/fixtures.sh generate   writes fixtures/<case>/w<N>.safetensors for every case in
#                                conformance/cases/*.json and world size it lists, and fixtures/manifest.json
#   tools/fixtures.sh check      regenerates into a temporary directory and fails unless every file's
#                                sha256 equals the manifest's (CI runs this)
#
#   fixtures/ops/               op-level cases from `zs-ref ops` (world_size 0 in the manifest)
#
# A fixture changes only with a spec change, in the same commit (DEVELOPERS.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
zs_ref=${ZS_REF:-$root/build/default/bin/zs-ref}
jobs=${JOBS:-2}
mode=${1:-}
case $mode in generate|check) ;; *) echo "usage: tools/fixtures.sh generate|check" >&2; exit 2 ;; esac
[ -x "$zs_ref" ] || { echo "fixtures: $zs_ref not found (build first, or set ZS_REF)" >&2; exit 2; }

spec_version=$(sed -n 's/^#define ZS_SPEC_VERSION "\(.*\)"/\1/p' "$root/reference/trace.h")
if [ "$mode" = generate ]; then out=$root/fixtures; else out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi

# One job line per (case file, world): "<case file> <case name> <world>"
joblist=$(mktemp)
for f in "$root"/conformance/cases/*.json; do
    read -r name worlds < <("$zs_ref" --case "$f" --describe)
    for w in $worlds; do echo "$f $name $w"; done
done > "$joblist"

run_one() {  # case-file name world
    mkdir -p "$out/$2"
    "$zs_ref" --case "$1" --world "$3" --out "$out/$2/w$3.safetensors" --quiet \
        || { echo "fixtures: zs-ref failed on $1 at world $3" >&2; return 1; }
}
export -f run_one; export zs_ref out
xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1" "$2"' < "$joblist"
# op-level cases (optimizers, schedulers, loss scaler, clipping, collectives, rounding)
rm -rf "$out/ops"
"$zs_ref" ops --out "$out/ops" || { echo "fixtures: zs-ref ops failed" >&2; exit 1; }

manifest_of() {  # prints the manifest for the files under $1
    echo "{"
    echo "  \"spec_version\": \"$spec_version\","
    echo "  \"generator\": \"tools/fixtures.sh (zs-ref)\","
    echo "  \"fixtures\": ["
    local first=1
    while read -r file name world; do
        local rel="$name/w$world.safetensors"
        local sum; sum=$(sha256sum "$1/$rel" | cut -d' ' -f1)
        local bytes; bytes=$(stat -c %s "$1/$rel")
        [ $first -eq 1 ] || echo ","
        first=0
        printf '    {"case": "%s", "world_size": %s, "file": "%s", "bytes": %s, "sha256": "%s"}' \
            "$name" "$world" "$rel" "$bytes" "$sum"
    done < "$joblist"
    for f in "$1"/ops/*.safetensors; do
        local rel="ops/$(basename "$f")"
        printf ',\n    {"case": "%s", "world_size": 0, "file": "%s", "bytes": %s, "sha256": "%s"}' \
            "ops/$(basename "$f" .safetensors)" "$rel" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
    done
    echo
    echo "  ]"
    echo "}"
}

if [ "$mode" = generate ]; then
    manifest_of "$out" > "$root/fixtures/manifest.json"
    # drop fixtures of cases that no longer exist
    find "$root/fixtures" -name '*.safetensors' | while read -r f; do
        rel=${f#"$root/fixtures/"}
        grep -q "\"file\": \"$rel\"" "$root/fixtures/manifest.json" || rm -f "$f"
    done
    find "$root/fixtures" -mindepth 1 -type d -empty -delete
    echo "fixtures: $(wc -l < "$joblist") files, $(du -sh "$root/fixtures" | cut -f1) in fixtures/"
else
    manifest_of "$out" > "$out/manifest.json"
    if ! diff -u "$root/fixtures/manifest.json" "$out/manifest.json"; then
        echo "fixtures: regenerated fixtures differ from fixtures/manifest.json (above)." >&2
        echo "fixtures: if the spec changed on purpose, run tools/fixtures.sh generate and commit both." >&2
        exit 1
    fi
    echo "fixtures: all $(wc -l < "$joblist") fixtures regenerate bit-identically"
fi
rm -f "$joblist"
