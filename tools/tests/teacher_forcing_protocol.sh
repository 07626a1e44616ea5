#!/bin/sh
# teacher_forcing_protocol.sh ZS_REF ZS_CHECK: `zs-check run --teacher-forcing` must start step 1 from
# the initial state and every later step k+1 from a checkpoint of the golden state after step k. The
# implementation here is zs-ref behind a wrapper that logs each call's --steps and the global_steps of
# the checkpoint it was handed; the log must read "1 -", "2 1", "3 2", ... for every world size.
set -eu
ref=$1; check=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/impl.sh" <<'IMPL'
#!/bin/sh
steps=; ckpt=
prev=
for a in "$@"; do
  [ "$prev" = --steps ] && steps=$a
  [ "$prev" = --resume ] && ckpt=$a
  prev=$a
done
at=-
[ -n "$ckpt" ] && at=$(sed -n 's/.*"global_steps":[^0-9]*\([0-9]*\).*/\1/p' "$ckpt/manifest.json")
echo "$steps $at" >> "$ZS_TF_LOG"
exec "$ZS_TF_REF" "$@"
IMPL
export ZS_TF_LOG=$work/log ZS_TF_REF=$ref
"$check" run --impl "sh $work/impl.sh" --teacher-forcing --fixtures "$root/fixtures" \
    --cases "$root/conformance/cases/fp16_walk_seed000.json" --worlds 2
steps=$(sed -n 's/.*"steps": *\([0-9]*\).*/\1/p' "$root/conformance/cases/fp16_walk_seed000.json")
expected=$(k=1; while [ "$k" -le "$steps" ]; do [ "$k" = 1 ] && echo "1 -" || echo "$k $((k - 1))"; k=$((k + 1)); done)
if [ "$(cat "$work/log")" != "$expected" ]; then
  echo "teacher_forcing_protocol: calls were:"; cat "$work/log"; echo "expected:"; echo "$expected"; exit 1
fi
echo "teacher_forcing_protocol: ok ($steps calls, each from the golden state of the step before)"
