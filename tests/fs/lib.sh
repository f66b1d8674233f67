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

# arfs_mounted MNT: true while MNT is in /proc/self/mountinfo. mountpoint(1)
# and test -d stat MNT, which fails with ENOTCONN once its daemon is dead:
# to them a dead mount looks like no mount, yet mkdir, stat and a new mount
# on MNT fail until it is unmounted.
arfs_mounted() {
	local dir
	dir=$(cd "$(dirname "$1")" 2>/dev/null && pwd -P) || return 1
	dir=$dir/$(basename "$1")
	# mountinfo writes space, tab, newline and backslash as \ooo
	dir=${dir//\\/\\134}
	dir=${dir// /\\040}
	dir=${dir//$'\t'/\\011}
	dir=${dir//$'\n'/\\012}
	ARFS_M=$dir awk '$5 == ENVIRON["ARFS_M"] { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

# arfs_wait_unmounted MNT [SECONDS]: wait (default 30 s) until MNT is no
# longer in /proc/self/mountinfo; false if it still is.
arfs_wait_unmounted() {
	local i
	for i in $(seq 1 $((${2:-30} * 20))); do
		arfs_mounted "$1" || return 0
		sleep 0.05
	done
	echo "# $1 is still mounted after ${2:-30} s" >&2
	return 1
}

# arfs_mount STORE MNT [arrayfs options...]: mount in the foreground under a
# timeout, wait until the mount is live. Sets ARFS_PID.
arfs_mount() {
	local store=$1 mnt=$2 i
	shift 2
	if arfs_mounted "$mnt"; then
		echo "mount of $store on $mnt: a mount is still there" >&2
		return 1
	fi
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
	local mnt=$1
	fusermount3 -u "$mnt"
	arfs_wait_unmounted "$mnt" 5 || true
	wait "$ARFS_PID" 2>/dev/null || true
}

# arfs_reap_killed MNT: after kill -9 of the daemon of MNT (ARFS_PID, mounted
# by arfs_mount), reap it and wait until the dead mount is gone. Its
# auto_unmount helper unmounts it, and only while opening MNT fails with
# ENOTCONN, so it never takes a later mount; unmounting it here at once
# could race the helper (its check, our remount, its unmount of the new
# mount). Only if the helper has not done it in 20 s is it unmounted here.
arfs_reap_killed() {
	local mnt=$1
	wait "$ARFS_PID" 2>/dev/null || true
	arfs_wait_unmounted "$mnt" 20 && return 0
	fusermount3 -u -z "$mnt" 2>/dev/null || true
	arfs_wait_unmounted "$mnt" 10
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
