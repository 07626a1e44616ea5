#!/usr/bin/env bash
# Mutation score of the conformance suite (docs/conformance.md "Mutation score").
#
# Every planted bug in tools/mutants/mutants.tsv is applied, one at a time, to a scratch copy of the
# sources and rebuilt incrementally. Bugs in the reference are run through `zs-check run` on every case
# against the committed fixtures (bugs in reference/layers.c, the 1-bit all-reduce and Newton-Schulz /
# muon_update first through the reference plugin on the op-level cases); bugs in an example plugin through `zs-check plugin` with that plugin on the op-level
# cases — all with the suite's tolerances. A mutant is caught when zs-check fails. The unmodified
# build must pass first. Exits 1 if any mutant survives (or the baseline fails).
#
#   tools/mutants/run.sh [mutant-id ...]        ZS_CHECK=path/to/zs-check (default build/default/bin)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
zs_check=${ZS_CHECK:-$root/build/default/bin/zs-check}
[ -x "$zs_check" ] || { echo "mutants: $zs_check not found (build first, or set ZS_CHECK)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Scratch copy of the tracked sources (fixtures stay where they are), built once.
(cd "$root" && git ls-files -z -- . ':!fixtures' | xargs -0 cp --parents -t "$work")
cmake -S "$work" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DZS_BUILD_FAST=OFF > "$work/configure.log" 2>&1 \
    || { cat "$work/configure.log"; exit 2; }

build() {
    cmake --build "$work/build" --target zs-ref zs_example_adamw zs_example_layernorm zs_reference_plugin -j "${JOBS:-2}" \
        > "$work/build.log" 2>&1
}
suite() {  # $1 log file, $2 the mutated file: the check that covers it; zs-check's output goes to $1
    case $2 in
        conformance/plugins/example_*)   # that example plugin on the op-level cases
            "$zs_check" plugin "$work/build/plugins/$(basename "$2" .c).so" --ops "$root/fixtures/ops" > "$1" 2>&1 ;;
        reference/layers.c|reference/onebit/compressed_allreduce.c|reference/muon/newton_schulz.*|reference/muon/muon_update.c)
            # the op-level cases first: they name the layer and pass, the all-reduce call, the NS case at fault
            "$zs_check" plugin "$work/build/plugins/reference_plugin.so" --ops "$root/fixtures/ops" > "$1" 2>&1 &&
            "$zs_check" run --impl "$work/build/bin/zs-ref" --cases "$root"/conformance/cases/*.json \
                --fixtures "$root/fixtures" --fail-fast >> "$1" 2>&1 ;;
        *)  # the reference: its traces on every case, and its ops (as a plugin) on the op-level cases
            "$zs_check" run --impl "$work/build/bin/zs-ref" --cases "$root"/conformance/cases/*.json \
                --fixtures "$root/fixtures" --fail-fast > "$1" 2>&1 &&
            "$zs_check" plugin "$work/build/plugins/reference_plugin.so" --ops "$root/fixtures/ops" >> "$1" 2>&1 ;;
    esac
}
apply() {  # file original mutated: replace the single occurrence of original (\n = newline)
    perl -e '
        my ($file, $orig, $mut) = @ARGV;
        for ($orig, $mut) { s/\\n/\n/g; }
        local $/; open(my $in, "<", $file) or die "cannot read $file\n"; my $s = <$in>; close $in;
        my $n = () = $s =~ /\Q$orig\E/g;
        die "does not apply: the original text occurs $n times in $file\n" unless $n == 1;
        $s =~ s/\Q$orig\E/$mut/;
        open(my $out, ">", $file) or die "cannot write $file\n"; print $out $s; close $out;
    ' "$@"
}

build || { cat "$work/build.log"; exit 2; }
for target in reference/engine.c reference/layers.c conformance/plugins/example_adamw.c conformance/plugins/example_layernorm.c; do
    if ! suite "$work/baseline.log" "$target"; then
        tail -20 "$work/baseline.log"
        echo "mutants: the unmodified build fails the suite; fix that first" >&2
        exit 1
    fi
    echo "mutants: baseline passes ($target's check): $(tail -1 "$work/baseline.log")"
done

caught=0 total=0 survivors=""
while IFS=$'\t' read -r id file orig mutated description; do
    case $id in ''|'#'*) continue ;; esac
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$id"; then continue; fi
    total=$((total + 1))
    cp "$work/$file" "$work/$file.orig"
    if ! apply "$work/$file" "$orig" "$mutated" 2> "$work/apply.err"; then
        echo "mutants: $id: $(cat "$work/apply.err") (update tools/mutants/mutants.tsv)" >&2
        exit 2
    fi
    if ! build; then
        verdict="caught (does not compile)"; caught=$((caught + 1))
    elif suite "$work/$id.log" "$file"; then
        verdict="SURVIVED"; survivors="$survivors $id"
    else
        first=$(grep -m1 -E 'FAIL' "$work/$id.log" | cut -c1-90)
        verdict="caught: $first"; caught=$((caught + 1))
    fi
    printf '%-36s %s\n    %s\n' "$id" "$description" "$verdict"
    mv "$work/$file.orig" "$work/$file"
    touch "$work/$file"   # newer than the mutant's objects, so the next build recompiles it
done < "$root/tools/mutants/mutants.tsv"
build   # leave the scratch build unmutated (it is deleted anyway)

echo "mutation score: $caught/$total mutants caught"
[ -z "$survivors" ] || { echo "mutants: survived:$survivors" >&2; exit 1; }
