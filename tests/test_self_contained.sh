#!/usr/bin/env bash
# test_self_contained.sh - fails if a test, script or CMake file reaches
# outside the repository: a clone must build and pass its tests with no
# other file on the machine (tests read tests/fixtures, nothing beside the
# clone). Scans the text files of tests/ and scripts/ and every
# CMakeLists.txt, except the fixtures, the fuzz seeds and this file, for:
#   up one level into a folder   a fixture folder beside the clone
#   named shared, shared/fixtures  (the pattern is built from parts so
#                                that this file names no such path)
#   /work/, /home/, /root/       a path on one machine
#   ../../.. and "..", "..", ".." three levels up: above the repository
#                                from tests/<dir>/
#   $REPO/.., cd .. &&, $(cd ..  the folder that holds the repository
# Paths that tests use as hostile input ("../../etc/passwd") and system
# paths (/tmp, /proc, /dev/fuse, /etc/fstab) are not matched.
# Usage: test_self_contained.sh [REPO]   (default: the one holding it)
set -euo pipefail
root=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
cd "$root"

sibling=shared
pattern="\\.\\./$sibling|$sibling/fixtures|/work/|/home/|/root/"
pattern+='|\.\./\.\./\.\.|"\.\.", *"\.\.", *"\.\."'
pattern+='|\$\{?REPO\}?/\.\.|cd \.\. *(&&|;)|\$\(cd \.\.'

files=$(find tests scripts -type f ! -path 'tests/fixtures/*' \
	! -path 'tests/fuzz/corpus/*' ! -path tests/test_self_contained.sh
	find . -name CMakeLists.txt ! -path './build*' ! -path './.git/*' -printf '%P\n')
hits=$(printf '%s\n' "$files" | sort | xargs -d "\n" grep -nIE -- "$pattern" || true)
if [ -n "$hits" ]; then
	echo "not ok - these lines reach outside the repository" \
		"(copy what they need into it, e.g. tests/fixtures/):" >&2
	printf '%s\n' "$hits" >&2
	exit 1
fi
echo "ok - $(printf '%s\n' "$files" | wc -l) files stay inside the repository"
