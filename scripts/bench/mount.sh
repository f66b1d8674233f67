# Sourced by the bench scripts: timing and one foreground daemon at a time.
# Needs $ARFS_BIN, $mnt and $tmp (daemon.log goes there); sets $pid while
# mounted and $hwm (the daemon's peak RSS, KiB) after bench_unmount.

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# bench_mount STORE OPTS: mount in the background (foreground daemon, so
# its pid gives the peak RSS) with -o auto_unmount,OPTS; wait until it answers.
bench_mount() {
	"$ARFS_BIN/arrayfs" -f -o "auto_unmount,$2" "$1" "$mnt" \
		2>>"$tmp/daemon.log" &
	pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	echo "mount failed" >&2
	exit 1
}

bench_unmount() {
	hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
	fusermount3 -u "$mnt"
	timeout 30 tail --pid="$pid" -f /dev/null || true
	pid=
}
