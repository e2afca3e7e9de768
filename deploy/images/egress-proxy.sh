#!/usr/bin/env bash
# egress-proxy.sh — builds sbx/egress-proxy, the image of the kept proxy
# that enforces sessions' egress allowlists (server/egress.c,
# deploy/egress/README.md), from Debian packages alone: a bookworm minbase
# root with squid-openssl, imported into the local Docker engine. Like
# build.sh (whose package cache it shares) it labels the image with a hash
# of its definition and skips the build when the latest image has it.
# build-all.sh runs it after the runtimes.
#
# usage: deploy/images/egress-proxy.sh [--force]
# env:   SBX_DOCKER_SOCK (default /var/run/docker.sock)
#        SBX_IMAGE_CACHE (default /var/cache/sbx/images/apt)
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
sock=${SBX_DOCKER_SOCK:-/var/run/docker.sock}
cache=${SBX_IMAGE_CACHE:-/var/cache/sbx/images/apt}
suite=bookworm
include=squid-openssl,openssl
repo=sbx/egress-proxy
tag="$repo:latest"
say() { printf '[build egress-proxy] %s\n' "$*" >&2; }
api() { curl -sS --fail-with-body --unix-socket "$sock" "$@"; }

command -v mmdebstrap >/dev/null || { echo "egress-proxy.sh: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 1; }
api -o /dev/null http://localhost/_ping || { echo "egress-proxy.sh: no Docker engine answers on $sock" >&2; exit 1; }
case $cache in
  /*[[:space:]\'\"\\]*|[!/]*) echo "egress-proxy.sh: SBX_IMAGE_CACHE must be an absolute path without spaces or quotes" >&2; exit 2 ;;
esac
mkdir -p "$cache"
defhash=$( { echo "$suite $include"; cat "$0"; } | sha256sum | cut -c1-16)
have=$(api "http://localhost/v1.41/images/$tag/json" 2>/dev/null \
       | python3 -c 'import json,sys; print((json.load(sys.stdin).get("Config") or {}).get("Labels",{}).get("sbx.definition",""))' 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$have" = "$defhash" ]; then
  say "image $tag is up to date (definition $defhash); nothing to do"
  exit 0
fi

work=$(mktemp -d /tmp/sbx-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "assembling $suite minbase + $include with mmdebstrap"
# squid runs as Debian's proxy user (uid 13), never root: sbxd starts the
# container with that user and all capabilities dropped. squid only peeks
# at TLS client hellos (SNI) and splices or refuses, never decrypts; its
# ssl-bump port still wants a certificate: a throwaway self-signed one,
# made here, that no connection ever presents.
mmdebstrap --variant=minbase --include="$include" --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $cache /var/cache/apt/archives/" \
  --essential-hook="sync-out /var/cache/apt/archives $cache" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='chroot "$1" openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=sbx-egress-peek-only -keyout /etc/squid/peek.pem -out /etc/squid/peek.pem 2>/dev/null' \
  --customize-hook='chroot "$1" chown root:proxy /etc/squid/peek.pem && chmod 0640 "$1/etc/squid/peek.pem"' \
  --customize-hook="sync-out /var/cache/apt/archives $cache" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/archives/partial/*' \
  "$suite" "$work/root.tar" < /dev/null

changes=$(python3 -c 'import sys,urllib.parse
c=["LABEL sbx.definition=%s" % sys.argv[1], "USER 13:13", "ENV LANG=C.UTF-8",
   "CMD [\"/usr/sbin/squid\",\"-N\",\"-f\",\"/egress/squid.conf\"]"]
print("&".join("changes="+urllib.parse.quote(x) for x in c))' "$defhash")
api -X POST -H 'Content-Type: application/x-tar' -T "$work/root.tar" \
  "http://localhost/v1.41/images/create?fromSrc=-&repo=$repo&tag=latest&$changes" >"$work/import.log"
grep -q '"error' "$work/import.log" && { cat "$work/import.log" >&2; exit 1; }
api -X POST "http://localhost/v1.41/images/$tag/tag?repo=$repo&tag=$defhash" >/dev/null
say "done: $tag (definition $defhash)"
