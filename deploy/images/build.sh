#!/usr/bin/env bash
# build.sh — builds an sbx runtime image from Debian packages alone and
# imports it into the local Docker engine. No container registry is needed:
# mmdebstrap assembles a bookworm minbase root with the runtime's packages,
# a customize hook adds the unprivileged "sandbox" user (uid/gid 1000) that
# sbxd runs commands as, and the tarball is imported through the Engine API
# on the unix socket. The image carries a label with a hash of its
# definition and is tagged both sbx/NAME:latest and sbx/NAME:<hash>; when
# the latest image has that hash the build is skipped, so running this
# again is cheap (idempotent). Downloaded .deb files are kept in a cache
# directory (synced in and out of the chroot; the image itself keeps none),
# so a build that failed or was interrupted resumes without downloading
# them again. The cache is shared by all runtimes and only grows: delete it
# to reclaim the space.
#
# usage: deploy/images/build.sh [--force] [RUNTIME]    (default python-minimal)
#        deploy/images/build.sh --packages RUNTIME     (print its packages)
# The package lists live in runtimes.list beside this script (sbxd reports
# the same lists: CMake compiles them in).
# env:   SBX_DOCKER_SOCK (default /var/run/docker.sock)
#        SBX_IMAGE_CACHE (default /var/cache/sbx/images/apt: the .deb cache)
#        SBX_DEBIAN_MIRROR (default: mmdebstrap's own default mirror)
set -euo pipefail

force=0 packages_only=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
if [ "${1:-}" = "--packages" ]; then packages_only=1; shift; fi
runtime=${1:-python-minimal}
sock=${SBX_DOCKER_SOCK:-/var/run/docker.sock}
cache=${SBX_IMAGE_CACHE:-/var/cache/sbx/images/apt}
suite=bookworm

# The built-in runtimes of pydantic-ai-backend, from bookworm's packages
# alone. What Debian does not package is left out, not faked: node-minimal
# gets bookworm's Node.js 18 (pydantic-ai-backend's image has Node.js 20),
# and node-react has TypeScript, React and ReactDOM but no Vite (not in
# Debian): use `tsc` and ship the React scripts yourself, or a custom
# runtime with npm packages where a registry is reachable.
list="$(dirname "$0")/runtimes.list"
known=$(awk '/^[a-z]/ {print $1}' "$list" | tr '\n' ' ')
include=$(awk -v n="$runtime" '$1 == n {print $2}' "$list")
[ -n "$include" ] || { echo "build.sh: unknown runtime '$runtime' (known: $known)" >&2; exit 2; }
if [ "$packages_only" = 1 ]; then echo "$include" | tr ',' '\n'; exit 0; fi

tag="sbx/$runtime:latest"
say() { printf '[build %s] %s\n' "$runtime" "$*" >&2; }
api() { curl -sS --fail-with-body --unix-socket "$sock" "$@"; }
debs() { find "$cache" -maxdepth 1 -name '*.deb' | wc -l; }
# Tags sbx/RUNTIME:latest as sbx/RUNTIME:<definition hash> too.
tag_hash() { api -X POST "http://localhost/v1.41/images/$tag/tag?repo=sbx/$runtime&tag=$defhash"; }

command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 1; }
command -v curl >/dev/null || { echo "build.sh: curl missing (apt-get install curl)" >&2; exit 1; }
api -o /dev/null http://localhost/_ping || { echo "build.sh: no Docker engine answers on $sock" >&2; exit 1; }
# mmdebstrap splits hook arguments like a shell: keep the path plain.
case $cache in
  /*[[:space:]\'\"\\]*|[!/]*) echo "build.sh: SBX_IMAGE_CACHE must be an absolute path without spaces or quotes" >&2; exit 2 ;;
esac
mkdir -p "$cache" || { echo "build.sh: cannot create the package cache $cache" >&2; exit 1; }

# The definition hash covers everything that shapes the image: this script.
defhash=$( { echo "$suite $include"; cat "$0"; } | sha256sum | cut -c1-16)

have=$(api "http://localhost/v1.41/images/$tag/json" 2>/dev/null \
       | python3 -c 'import json,sys; print((json.load(sys.stdin).get("Config") or {}).get("Labels",{}).get("sbx.definition",""))' 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$have" = "$defhash" ]; then
  tag_hash
  say "image $tag is up to date (definition $defhash); nothing to do"
  exit 0
fi

work=$(mktemp -d /tmp/sbx-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "assembling $suite minbase + $include with mmdebstrap (takes about a minute)"
say "package cache: $cache ($(debs) .deb files already there)"
# The cache is synced in before apt downloads anything and out twice:
# after the essential packages (kept by --skip=essential/unlink) and after
# the rest, so a build that fails half way keeps what it fetched. The last
# customize hook empties the image's archives; mmdebstrap's cleanup runs
# apt-get clean as well.
mmdebstrap --variant=minbase --include="$include" --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $cache /var/cache/apt/archives/" \
  --essential-hook="sync-out /var/cache/apt/archives $cache" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='chroot "$1" groupadd -g 1000 sandbox' \
  --customize-hook='chroot "$1" useradd -u 1000 -g 1000 -m -d /home/sandbox -s /bin/sh sandbox' \
  --customize-hook='mkdir -p "$1/workspace" && chown 1000:1000 "$1/workspace"' \
  --customize-hook="sync-out /var/cache/apt/archives $cache" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/archives/partial/*' \
  "$suite" "$work/root.tar" < /dev/null
say "root filesystem: $(du -h "$work/root.tar" | cut -f1); package cache now $(debs) .deb files"

say "importing as $tag"
changes=$(python3 -c 'import sys,urllib.parse
c=["LABEL sbx.definition=%s" % sys.argv[1], "LABEL sbx.runtime=%s" % sys.argv[2],
   "WORKDIR /workspace", "USER 1000:1000", "ENV LANG=C.UTF-8",
   "CMD [\"sleep\",\"infinity\"]"]
print("&".join("changes="+urllib.parse.quote(x) for x in c))' "$defhash" "$runtime")
api -X POST -H 'Content-Type: application/x-tar' -T "$work/root.tar" \
  "http://localhost/v1.41/images/create?fromSrc=-&repo=sbx/$runtime&tag=latest&$changes" >"$work/import.log"
grep -q '"error' "$work/import.log" && { cat "$work/import.log" >&2; exit 1; }
say "tagging sbx/$runtime:$defhash"
tag_hash
say "done: $tag and sbx/$runtime:$defhash (definition $defhash)"
