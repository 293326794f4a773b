#!/bin/sh
# Refreshes docs/dashboard.png, on purpose and only here: builds what the
# real-browser test needs, runs it (test_browser: a real broker and agents,
# Debian's headless Chromium), and copies the dashboard screenshot it wrote
# into the build folder. Ordinary test runs never touch docs/.
#   sh tests/browser/refresh-screenshot.sh          uses build/
#   CF_BUILD=build-x sh tests/browser/refresh-screenshot.sh
set -eu
cd "$(dirname "$0")/../.."
build=${CF_BUILD:-build}
sh deploy/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target childfirst childfirst-agent childfirst-broker test_browser
rm -f "$build/browser/dashboard.png"
(cd "$build" && ctest -R '^test_browser$' --output-on-failure)
mkdir -p docs
cp "$build/browser/dashboard.png" docs/dashboard.png
echo "docs/dashboard.png refreshed from $build/browser/dashboard.png"
