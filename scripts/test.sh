#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest: once in
# a normal build (unit and mount tests), the unit tests again under
# valgrind (no errors, no leaks), the unit and mount tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the libFuzzer targets
# of tests/fuzz for a bounded time each (a clang build in build-fuzz).
# Exits non-zero on any failure. CI runs this; it takes about 25 minutes
# on 2 cores.
#
# scripts/test.sh --quick: the normal build's unit and mount tests only (a
# few minutes), to check a change; valgrind and clang are not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
*) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
. scripts/deps.sh
if [ "$quick" = 1 ]; then
	mapfile -t arfs_packages < <(printf '%s\n' "${arfs_packages[@]}" |
		grep -vxE 'valgrind|clang|libclang-rt-.*')
fi
arfs_install_deps

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j 1)
[ "$quick" = 1 ] && exit 0

# Unit tests under valgrind, one per core at a time: any error or
# definite/indirect leak fails (the log is printed).
# ARFS_TEST_SLOW stretches the kill -9 delays of timing-based tests.
fixtures=$PWD/tests/fixtures
find build/tests -maxdepth 1 -name 'test_*' -type f -perm -u+x ! -name '*.*' |
	sort | ARFS_FIXTURES=$fixtures ARFS_TEST_SLOW=30 \
	xargs -r -P "$jobs" -I{} sh -c '
		if valgrind -q --error-exitcode=1 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect {} \
			>{}.valgrind.log 2>&1; then
			echo "valgrind clean: {}"
		else
			echo "valgrind: {} FAILED"; cat {}.valgrind.log; exit 1
		fi'

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DARFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ctest --output-on-failure -j 1 -L "unit|fs")

# Fuzz targets: each runs ARFS_FUZZ_SECONDS (15) under ASan + UBSan.
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DARFS_FUZZ=ON -DARFS_BUILD_FS=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target arfs_fuzz
(cd build-fuzz && ctest --output-on-failure -j 1 -L fuzz)
