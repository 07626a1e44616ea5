#!/bin/sh
# A stand-in implementation for zs-check run's tests, following the CLI contract:
#   fake_impl.sh MODE SRC_DIR --case FILE --world N --out OUT
# copy: copies SRC_DIR/w<N>.safetensors to OUT;  fail: complains on stderr and exits 3;
# sleep: never finishes (for the timeout);  silent: exits 0 without writing OUT.
# When a launcher set ZS_FAKE_LAUNCH_N, it must equal N (checks the {N} substitution).
mode=$1 src=$2; shift 2
while [ $# -gt 0 ]; do
    case $1 in
        --case) case_file=$2; shift 2 ;;
        --world) world=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "fake_impl: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$case_file" ] && [ -n "$world" ] && [ -n "$out" ] || { echo "fake_impl: contract arguments missing" >&2; exit 2; }
if [ -n "$ZS_FAKE_LAUNCH_N" ] && [ "$ZS_FAKE_LAUNCH_N" != "$world" ]; then
    echo "fake_impl: launcher said $ZS_FAKE_LAUNCH_N ranks, --world says $world" >&2; exit 4
fi
case $mode in
    copy) cp "$src/w$world.safetensors" "$out" ;;
    fail) echo "fake_impl: starting world $world"; echo "fake_impl: boom at world $world" >&2; exit 3 ;;
    sleep) sleep 30 ;;
    silent) exit 0 ;;
    *) echo "fake_impl: unknown mode $mode" >&2; exit 2 ;;
esac
