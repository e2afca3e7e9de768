#!/bin/sh
# gen_check.sh — fails when gen/ no longer matches proto/: regenerates the
# protobuf-c code into a temporary directory and compares it with the
# committed copy. Fix a failure with:
#   protoc-c --c_out=gen -Iproto proto/sbx/v1/sbx.proto proto/sbx/agent/v1/agent.proto
set -eu
top=${1:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c --c_out="$tmp" -I"$top/proto" "$top/proto/sbx/v1/sbx.proto" \
    "$top/proto/sbx/agent/v1/agent.proto"
if diff -r "$tmp/sbx" "$top/gen/sbx" >"$tmp/diff"; then
	echo "gen_check: gen/ matches proto/"
else
	head -40 "$tmp/diff"
	echo "gen_check: gen/ is stale; run: protoc-c --c_out=gen -Iproto proto/sbx/v1/sbx.proto proto/sbx/agent/v1/agent.proto" >&2
	exit 1
fi
