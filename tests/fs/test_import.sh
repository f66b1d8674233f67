#!/usr/bin/env bash
# arrayctl import/export with real files (no mount needed): a generated
# CSV of 10^6 rows (ints, floats, strings with quotes/commas/line breaks,
# vectors, missing values) imports and exports back byte for byte; check
# passes; compact and convert --lz4 keep every value (on 10^5 rows); bad
# CSV is refused with its line number and leaves nothing behind.
set -euo pipefail
ARFS_BIN=${ARFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
A=$ARFS_BIN/arrayctl
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arfs-import-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fail=$((fail + 1)); fi
}

rows=${ARFS_IMPORT_ROWS:-1000000}
python3 "$here/gen_csv.py" "$rows" 7 > "$tmp/big.csv"
start=$(date +%s.%N)
check "import of $rows rows" bash -c "'$A' import --segment-rows 300000 '$tmp/big.csv' '$tmp/g' > '$tmp/summary'"
end=$(date +%s.%N)
cat "$tmp/summary"
echo "# import took $(echo "$end - $start" | bc) s"
check "summary names rows, columns and ratio" bash -c "grep -q '^rows: *$rows\$' '$tmp/summary' && grep -q '^compression:' '$tmp/summary'"
check "export equals the input byte for byte" bash -c "'$A' export '$tmp/g' '$tmp/out.csv' && cmp '$tmp/out.csv' '$tmp/big.csv'"
check "check passes" "$A" check "$tmp/g"
check "ls shows 7 columns" bash -c "test \$('$A' ls '$tmp/g' | wc -l) -eq 8"
rm -f "$tmp/out.csv"
check "import into an existing group is refused" bash -c "! '$A' import '$tmp/big.csv' '$tmp/g' 2>/dev/null"
# compaction and conversion on a smaller group (keeps the test short)
python3 "$here/gen_csv.py" 100000 8 > "$tmp/mid.csv"
"$A" import --segment-rows 30000 --block-size 8192 "$tmp/mid.csv" "$tmp/m" > /dev/null
check "compact, then convert --lz4, keep every value" bash -c "'$A' compact '$tmp/m' >/dev/null && '$A' convert --lz4 '$tmp/m' >/dev/null && '$A' export '$tmp/m' | cmp - '$tmp/mid.csv' && '$A' check '$tmp/m' >/dev/null"

bad() {	# bad TEXT EXPECTED-MESSAGE
	printf "$1" > "$tmp/bad.csv"
	! "$A" import "$tmp/bad.csv" "$tmp/bad" 2> "$tmp/err" &&
		grep -q "$2" "$tmp/err" && [ ! -e "$tmp/bad" ] &&
		[ -z "$(ls -A "$tmp" | grep '^\.bad')" ]
}
check "ragged row: line number, nothing written" bad 'a,b\n1,2\n3\n' 'line 3: 1 field'
check "unterminated quote: line number" bad 'a,b\n1,2\n"x\ny,2\n' 'line 3: unterminated quoted field'
check "invalid UTF-8: line number" bad 'a,b\n1,2\n3,\xff\n' 'line 3: invalid UTF-8'
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
