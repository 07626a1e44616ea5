#!/bin/sh
# Installs the Debian/Ubuntu packages zerospec needs, only those that are missing.
# (The CUDA toolkit for fast/ is not installed here: it is expected under /usr/local/cuda.)
set -e
pkgs="build-essential cmake pkg-config libcjson-dev libcmocka-dev libssl-dev libopenmpi-dev openmpi-bin gcovr"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
