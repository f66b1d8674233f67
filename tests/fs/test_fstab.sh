#!/usr/bin/env bash
# arrayfs from /etc/fstab: mount(8) -> mount.fuse3 -> arrayfs, with an
# fstab line of the documented form (given to mount with -T so the real
# /etc/fstab is untouched). mount.fuse3 finds arrayfs in the system PATH
# (not the caller's), so the test runs in a mount namespace of its own in
# which a folder holding only a link to the built binary covers
# /usr/local/bin: the machine's /usr/local/bin is never changed (two test
# runs at once used to remove each other's link), and an installed arrayfs
# is not the one tested.
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: mount -T needs root" >&2; exit 77; }
if [ -z "${ARFS_FSTAB_NS:-}" ]; then
	ARFS_FSTAB_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
arfs_setup

mkdir "$ARFS_TMP/bin"
ln -s "$ARFS_BIN/arrayfs" "$ARFS_TMP/bin/arrayfs"
mount --bind "$ARFS_TMP/bin" /usr/local/bin
store=$ARFS_TMP/store
mnt=$ARFS_TMP/mnt
mkdir -p "$store" "$mnt"
cp -r "$ARFS_FIXTURES/docarray/basic" "$store/basic"
chmod -R u+w "$store"
arfs_mounts+=("$mnt")

echo "$store $mnt fuse.arrayfs defaults 0 0" > "$ARFS_TMP/fstab"
check "mount through an fstab line" timeout 30 mount -T "$ARFS_TMP/fstab" "$mnt"
check "the mount is fuse.arrayfs" bash -c "grep -q ' $mnt fuse.arrayfs ' /proc/mounts"
check "documents readable" test "$(cat "$mnt/basic/a")" = alpha
check "writable" bash -c "echo new > '$mnt/basic/n' && test \"\$(cat '$mnt/basic/n')\" = new"
check "unmount" fusermount3 -u "$mnt"

echo "$store $mnt fuse.arrayfs ro,noatime 0 0" > "$ARFS_TMP/fstab"
check "read-only mount through fstab" timeout 30 mount -T "$ARFS_TMP/fstab" "$mnt"
check "read-only: writes fail with EROFS" bash -c "! touch '$mnt/basic/x' 2>'$ARFS_TMP/err' && grep -q 'Read-only' '$ARFS_TMP/err'"
check "unmount" fusermount3 -u "$mnt"
arfs_finish
