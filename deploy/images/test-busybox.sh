#!/usr/bin/env bash
# test-busybox.sh — imports sbx/test-busybox:latest, the smallest image a
# session can run in: Debian's static busybox as /bin/busybox with a link
# per applet (/bin/sh among them), an empty /workspace owned by 1000:1000
# and a /tmp, nothing else (no libc, no users, no python). Built offline
# from the host's busybox-static package and imported through the Engine
# API, like build.sh; skipped when the image is there already. The
# integration tests (tests/integration/test_agent.c) use it to show that
# the in-sandbox agent needs nothing from an image.
#
# usage: deploy/images/test-busybox.sh
# env:   SBX_DOCKER_SOCK (default /var/run/docker.sock)
set -euo pipefail

sock=${SBX_DOCKER_SOCK:-/var/run/docker.sock}
tag=sbx/test-busybox:latest
api() { curl -sS --fail-with-body --unix-socket "$sock" "$@"; }

if api -o /dev/null "http://localhost/v1.41/images/$tag/json" 2>/dev/null; then
  exit 0
fi
dpkg -s busybox-static >/dev/null 2>&1 ||
  { echo "test-busybox.sh: busybox-static is missing (apt-get install busybox-static)" >&2; exit 1; }
bb=$(dpkg -L busybox-static | grep -x '/bin/busybox\|/usr/bin/busybox' | head -n1)
[ -n "$bb" ] && [ -x "$bb" ] || { echo "test-busybox.sh: no busybox binary in busybox-static" >&2; exit 1; }

work=$(mktemp -d /tmp/sbx-busybox.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/workspace" "$work/root/tmp"
chmod 1777 "$work/root/tmp"
cp "$bb" "$work/root/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln -s busybox "$work/root/bin/$a"
done
tar -C "$work/root" --numeric-owner --owner=0 --group=0 --exclude=./workspace \
  -cf "$work/root.tar" .
# the workspace is the sandbox user's, as in build.sh's images
tar -C "$work/root" --numeric-owner --owner=1000 --group=1000 --no-recursion \
  -rf "$work/root.tar" ./workspace
changes="changes=$(printf 'USER 1000:1000' | sed 's/ /%20/g')&changes=WORKDIR%20/workspace"
changes="$changes&changes=ENV%20PATH=/bin&changes=$(printf 'LABEL sbx.test=busybox' | sed 's/ /%20/g')"
api -X POST -H 'Content-Type: application/x-tar' -T "$work/root.tar" \
  "http://localhost/v1.41/images/create?fromSrc=-&repo=sbx/test-busybox&tag=latest&$changes" \
  >"$work/import.log"
if grep -q '"error' "$work/import.log"; then cat "$work/import.log" >&2; exit 1; fi
echo "test-busybox.sh: imported $tag" >&2
