#!/usr/bin/env bash
# gen_check.sh — fails when the committed Python protocol code is stale.
#
# src/sbx/v1/sbx_pb2.py and sbx_pb2.pyi are generated from proto/sbx/v1/sbx.proto
# by Debian bookworm's protoc (protobuf-compiler 3.21.12) and committed. This
# regenerates them into a temporary directory and diffs; `--write` regenerates
# in place instead. Another protoc version writes different code, so it is
# refused rather than compared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
want="libprotoc 3.21.12"

command -v protoc >/dev/null || {
	echo "gen_check: protoc not found: apt-get install protobuf-compiler" >&2; exit 2; }
have=$(protoc --version)
[ "$have" = "$want" ] || {
	echo "gen_check: need $want (Debian bookworm's protobuf-compiler), found $have" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc --python_out="$out" --pyi_out="$out" -I"$top/proto" "$top/proto/sbx/v1/sbx.proto"
if [ "${1:-}" = "--write" ]; then
	cp "$out/sbx/v1/sbx_pb2.py" "$out/sbx/v1/sbx_pb2.pyi" "$here/src/sbx/v1/"
	echo "gen_check: regenerated client/python/src/sbx/v1/sbx_pb2.py{,i}"
	exit 0
fi
stale=0
for f in sbx_pb2.py sbx_pb2.pyi; do
	if ! diff -u "$here/src/sbx/v1/$f" "$out/sbx/v1/$f" >"$out/$f.diff"; then
		head -40 "$out/$f.diff" >&2
		stale=1
	fi
done
if [ $stale -ne 0 ]; then
	echo "gen_check: client/python/src/sbx/v1 is stale against proto/sbx/v1/sbx.proto;" \
		"run client/python/gen_check.sh --write and commit the result" >&2
	exit 1
fi
echo "gen_check: client/python/src/sbx/v1 matches proto/sbx/v1/sbx.proto"
