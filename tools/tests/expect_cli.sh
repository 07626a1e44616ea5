#!/bin/sh
# expect_cli.sh <zero|nonzero> <extended-regex> <command...>
# Runs the command, requires the exit status class and that stdout+stderr match the regex.
# Used by CTest to check that bad inputs give one clear message and a non-zero exit (never a crash).
want=$1; regex=$2; shift 2
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [ $rc -ge 128 ]; then echo "expect_cli: command died with signal $((rc - 128))"; exit 1; fi
case $want in
  zero)    [ $rc -eq 0 ] || { echo "expect_cli: wanted exit 0, got $rc"; exit 1; } ;;
  nonzero) [ $rc -ne 0 ] || { echo "expect_cli: wanted a non-zero exit, got 0"; exit 1; } ;;
  *) echo "expect_cli: bad status class '$want'"; exit 2 ;;
esac
printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "expect_cli: output does not match /$regex/"; exit 1; }
exit 0
