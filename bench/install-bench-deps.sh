#!/bin/sh
# Installs what bench/run.sh needs beyond deploy/install-deps.sh: the RabbitMQ
# peer (Debian's rabbitmq-server) and its C client (rabbitmq-c). CI never runs
# this, so the suite needs no message broker; only missing packages are
# installed, so a second run is quick.
set -eu

PACKAGES="rabbitmq-server librabbitmq-dev"

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
# The package starts its own service where systemd runs; bench/run.sh starts
# its own RabbitMQ node in a scratch folder either way.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
