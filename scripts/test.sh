#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, builds, runs ctest.
#   scripts/test.sh
# KILN_BUILD_DIR (default: build) picks the build folder; KILN_JOBS the parallel build jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KILN_BUILD_DIR:-build}
jobs=${KILN_JOBS:-$(nproc)}

scripts/setup.sh
cmake -S . -B "$build" -G Ninja
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs"
