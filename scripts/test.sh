#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest: once in
# a normal build (unit and mount tests), then the unit tests and mount tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
arfs_install_deps

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j 1)

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DARFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ctest --output-on-failure -j 1 -L "unit|fs")
