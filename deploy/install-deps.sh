#!/bin/sh
# Installs the Debian 12 packages ChildFirst builds and tests with, and only
# those that are missing, so a second run is quick and needs no network.
# chromium, chromium-driver and python3-selenium drive the dashboard's
# real-browser test (tests/browser/): Debian's browser, never a downloaded one.
set -eu

PACKAGES="build-essential cmake pkg-config
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler liblmdb-dev lmdb-utils
  libsodium-dev libjansson-dev libinih-dev libcmocka-dev libmicrohttpd-dev
  clang libclang-rt-14-dev valgrind
  chromium chromium-driver python3-selenium"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
