# Shared by the mount tests (tests/fs/test_*.sh). Source it, then call
# arfs_setup; every mount made with arfs_mount is unmounted on exit, and the
# daemon runs under a timeout so a hung daemon fails one test, not CI.
# A command that fails outside `check` ends the test, naming its line.
set -euo pipefail
trap 'echo "ABORTED: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

ARFS_BIN=${ARFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
ARFS_FIXTURES=${ARFS_FIXTURES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)}
ARFS_TIMEOUT=${ARFS_TIMEOUT:-600}
arfs_mounts=()
arfs_pids=()
arfs_fail=0
arfs_count=0

arfs_skip_without_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "SKIPPED: /dev/fuse or fusermount3 is missing on this machine;" \
			"the mount tests did NOT run" >&2
		exit 77
	fi
}

arfs_cleanup() {
	local m p
	for m in "${arfs_mounts[@]}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	for p in "${arfs_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ -n "${ARFS_TMP:-}" ] && rm -rf "$ARFS_TMP"
}

arfs_setup() {
	arfs_skip_without_fuse
	ARFS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/arfs-test-XXXXXX")
	trap arfs_cleanup EXIT
}

# arfs_mount STORE MNT [arrayfs options...]: mount in the foreground under a
# timeout, wait until the mount is live. Sets ARFS_PID.
arfs_mount() {
	local store=$1 mnt=$2 i
	shift 2
	mkdir -p "$mnt"
	timeout -s KILL "$ARFS_TIMEOUT" "$ARFS_BIN/arrayfs" -f -o auto_unmount \
		"$@" "$store" "$mnt" 2>>"$ARFS_TMP/daemon.log" &
	ARFS_PID=$!
	arfs_pids+=("$ARFS_PID")
	arfs_mounts+=("$mnt")
	for i in $(seq 1 200); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$ARFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mount of $store on $mnt failed:" >&2
	cat "$ARFS_TMP/daemon.log" >&2
	return 1
}

arfs_umount() {
	local mnt=$1 i
	fusermount3 -u "$mnt"
	for i in $(seq 1 100); do
		mountpoint -q "$mnt" || break
		sleep 0.05
	done
	wait "$ARFS_PID" 2>/dev/null || true
}

# check DESCRIPTION COMMAND...: run, count, report TAP-style.
check() {
	local desc=$1
	shift
	arfs_count=$((arfs_count + 1))
	if "$@"; then
		echo "ok $arfs_count - $desc"
	else
		echo "not ok $arfs_count - $desc"
		arfs_fail=$((arfs_fail + 1))
	fi
}

arfs_finish() {
	echo "$((arfs_count - arfs_fail)) passed, $arfs_fail failed"
	[ "$arfs_fail" -eq 0 ]
}
