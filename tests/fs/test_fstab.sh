#!/usr/bin/env bash
# arrayfs from /etc/fstab: mount(8) -> mount.fuse3 -> arrayfs, with an
# fstab line of the documented form (given to mount with -T so the real
# /etc/fstab is untouched). mount.fuse3 finds arrayfs in the system PATH,
# so the test links the built binary into /usr/local/bin for its duration
# unless one is installed there already.
. "$(dirname "$0")/lib.sh"
arfs_setup
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: mount -T needs root" >&2; exit 77; }

link=/usr/local/bin/arrayfs
if [ ! -e "$link" ]; then
	ln -s "$ARFS_BIN/arrayfs" "$link"
	trap 'rm -f "$link"; arfs_cleanup' EXIT
fi
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
