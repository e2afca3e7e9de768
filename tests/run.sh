#!/usr/bin/env bash
# tests/run.sh — the test command: installs what the tests need, builds the
# default runtime image, builds everything (warnings as errors), and runs
# every test with ctest against the real Docker engine. Run as root (it
# installs packages and drives Docker): sudo bash tests/run.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/deploy/deps.sh"
bash "$top/deploy/images/build.sh" python-minimal
build=$top/build-test
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-Werror >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 900
