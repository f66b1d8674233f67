#!/usr/bin/env bash
# One writer per store: a second read-write daemon (on the store or on one
# of its arrays) and arrayctl writes are refused with a message pointing at
# -o ro; a -o ro mount runs beside the writer and shows the writer's
# commits (new, changed and removed documents) within 3 seconds.
. "$(dirname "$0")/lib.sh"
arfs_setup

store=$ARFS_TMP/store
mnt=$ARFS_TMP/mnt
ro=$ARFS_TMP/ro
mkdir -p "$store"
for c in basic uuid; do
	cp -r "$ARFS_FIXTURES/docarray/$c" "$store/$c"
	rm -f "$store/$c/expected.json"
done
chmod -R u+w "$store"
arfs_mount "$store" "$mnt"
writer_pid=$ARFS_PID
# make the writer create its sidecars, as a real writer would have
echo first >"$mnt/basic/w0"

# second_rw STORE: run a second read-write daemon; its output in second.out
second_rw() {
	local m=$ARFS_TMP/second$RANDOM
	mkdir -p "$m"
	arfs_mounts+=("$m")
	timeout -s KILL 20 "$ARFS_BIN/arrayfs" -f -o auto_unmount "$1" "$m" \
		>"$ARFS_TMP/second.out" 2>&1
	local rc=$?
	cat "$ARFS_TMP/second.out" | sed 's/^/# /'
	if mountpoint -q "$m"; then
		echo "# the second writer mounted"
		fusermount3 -u -z "$m"
		return 0
	fi
	return $rc
}
check "a second read-write daemon on the store is refused" \
	bash -c "$(declare -f second_rw); ARFS_TMP='$ARFS_TMP' ARFS_BIN='$ARFS_BIN'; ! second_rw '$store'"
check "its message points at -o ro" grep -qiE -- '-o ro|read-only' "$ARFS_TMP/second.out"
check "a second read-write daemon on one array of the store is refused" \
	bash -c "$(declare -f second_rw); ARFS_TMP='$ARFS_TMP' ARFS_BIN='$ARFS_BIN'; ! second_rw '$store/basic'"
check "its message points at -o ro" grep -qiE -- '-o ro|read-only' "$ARFS_TMP/second.out"
check "arrayctl put on a mounted array is refused" \
	bash -c "! echo x | '$ARFS_BIN/arrayctl' put '$store/basic' sneaky 2>'$ARFS_TMP/ctl.err' &&
		cat '$ARFS_TMP/ctl.err' >&2 && test -s '$ARFS_TMP/ctl.err'"
check "the writer is still serving" test "$(cat "$mnt/basic/w0")" = first

# ---- a read-only mount beside the writer ----
check "-o ro mounts beside the writer" arfs_mount "$store" "$ro" -o ro
ro_pid=$ARFS_PID
check "the ro mount shows the same documents" diff -r "$mnt" "$ro"
check "arrayctl read commands work beside the writer" \
	bash -c "'$ARFS_BIN/arrayctl' cat '$store/basic' a | cmp - '$mnt/basic/a'"

# wait_for DESC TEST...: poll TEST for up to 3 seconds, report the delay
wait_for() {
	local t0 t1
	t0=$(date +%s%N)
	while ! "$@" 2>/dev/null; do
		t1=$(date +%s%N)
		if [ $(((t1 - t0) / 1000000)) -gt 3000 ]; then
			echo "# not visible after 3 s"
			return 1
		fi
		sleep 0.05
	done
	t1=$(date +%s%N)
	echo "# visible after $(((t1 - t0) / 1000000)) ms"
}
head -c 200000 /dev/urandom >"$ARFS_TMP/newdoc"
cp "$ARFS_TMP/newdoc" "$mnt/basic/newdoc"
check "a new document committed by the writer shows up in the ro mount within 3 s" \
	wait_for cmp -s "$ro/basic/newdoc" "$ARFS_TMP/newdoc"
# read it in the ro mount first, so a stale cache would show
cat "$ro/basic/a" "$ro/uuid/$(ls "$ro/uuid" | head -1)" >/dev/null
printf 'changed content\n' >"$mnt/basic/a"
check "a changed document shows its new content in the ro mount within 3 s" \
	wait_for bash -c "test \"\$(cat '$ro/basic/a')\" = 'changed content'"
check "... and its new size" test "$(stat -c %s "$ro/basic/a")" -eq 16
stat "$ro/basic/b" >/dev/null
rm "$mnt/basic/b"
check "a removed document disappears from the ro mount within 3 s" \
	wait_for test ! -e "$ro/basic/b"
mv "$mnt/basic/c" "$mnt/basic/c2"
check "a renamed document shows under its new name within 3 s" \
	wait_for bash -c "test ! -e '$ro/basic/c' && test \"\$(cat '$ro/basic/c2')\" = charlie"
echo appended >>"$mnt/basic/newdoc"
cat "$ARFS_TMP/newdoc" >"$ARFS_TMP/newdoc2"
echo appended >>"$ARFS_TMP/newdoc2"
check "an append shows within 3 s" wait_for cmp -s "$ro/basic/newdoc" "$ARFS_TMP/newdoc2"
check "the ro mount equals the writer's after the changes" diff -r "$mnt" "$ro"

ARFS_PID=$writer_pid arfs_umount "$mnt"
check "after the writer unmounts, a new writer mounts" arfs_mount "$store" "$mnt"
check "... and sees the committed documents" cmp "$mnt/basic/newdoc" "$ARFS_TMP/newdoc2"
arfs_umount "$mnt"
ARFS_PID=$ro_pid arfs_umount "$ro"
arfs_finish
