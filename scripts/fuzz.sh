#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz for as long as asked:
#   scripts/fuzz.sh SECONDS [TARGET...]
# SECONDS per target; TARGET is a parser name (header, sidecar, sidx,
# frame_idx, segment, typed, lz4, zstd, idname), all when none given.
# Builds build-fuzz with clang first. New inputs accumulate in
# build-fuzz/tests/fuzz/corpus/<parser>; crashes are written to
# build-fuzz/fuzz-artifacts/. Prints executions per target; exits non-zero
# if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DARFS_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target arfs_fuzz >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi
art=build-fuzz/fuzz-artifacts
mkdir -p "$art"
fail=0
printf '%-10s %12s %8s  %s\n' target executions seconds result
for t in "${targets[@]}"; do
	work=build-fuzz/tests/fuzz/corpus/$t
	mkdir -p "$work"
	log=$art/$t.log
	rc=0
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/$t-" \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		res=clean
	else
		res="CRASH (see $log)"
		fail=1
	fi
	printf '%-10s %12s %8s  %s\n' "$t" "${execs:-?}" "${took:-?}" "$res"
done
exit $fail
