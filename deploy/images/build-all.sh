#!/usr/bin/env bash
# build-all.sh — builds every built-in runtime image (deploy/images/runtimes.list)
# with build.sh, one after another: one command for a fresh machine. Each is
# skipped when its image is up to date; downloaded packages are cached, so a
# run that failed half way resumes where it stopped.
#
# usage: deploy/images/build-all.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for rt in $(awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$here/runtimes.list"); do
	bash "$here/build.sh" "$@" "$rt"
done
# the kept egress proxy's image (sessions with an egress allowlist)
bash "$here/egress-proxy.sh" "$@"
