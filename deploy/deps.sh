#!/usr/bin/env bash
# deps.sh — installs everything sbx needs to build, test and run on Debian
# or Ubuntu, and makes sure a Docker engine answers (installing Debian's
# docker.io and starting it when none does). Then gVisor (deploy/gvisor.sh:
# Debian's runsc, registered with the engine by a merge of daemon.json and
# a SIGHUP) so isolation gvisor and its tests run; SBX_GVISOR=no skips it.
# Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

pkgs=(build-essential cmake pkg-config git curl ca-certificates openssl python3
      libnng-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
      libsqlite3-dev libcjson-dev libsodium-dev mmdebstrap debian-archive-keyring
      libpcre2-dev libarchive-dev libmicrohttpd-dev clang python3-venv protobuf-compiler
      busybox-static e2fsprogs iproute2 tmux gdb
      libjs-term.js chromium chromium-driver)
# libjs-term.js: the web app's terminal pane (client/web); chromium and
# chromium-driver: its browser test; gdb: a test whose child will not exit
# prints its threads (tests/integration/harness.c harness_reap)

say() { printf '[deps] %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (sudo)" >&2; exit 1; }

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing: ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
else
	say "build dependencies present"
fi

docker_answers() { curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }
if ! docker_answers; then
	if ! command -v dockerd >/dev/null; then
		say "no Docker engine answers: installing Debian's docker.io"
		apt-get update -qq
		apt-get install -y -qq docker.io >/dev/null
	fi
	say "starting the Docker engine"
	if [ -d /run/systemd/system ]; then
		systemctl enable --now docker >/dev/null 2>&1 || systemctl start docker || true
	else
		service docker start >/dev/null 2>&1 || (nohup dockerd >/var/log/dockerd.log 2>&1 &)
	fi
	for _ in $(seq 60); do docker_answers && break; sleep 1; done
	docker_answers || { echo "deps.sh: the Docker engine did not come up (see /var/log/dockerd.log)" >&2; exit 1; }
fi
say "Docker engine answers on /var/run/docker.sock"

if [ "${SBX_GVISOR:-yes}" != no ]; then
	bash "$(dirname "$0")/gvisor.sh" ||
	    say "gVisor is not set up (see above): isolation gvisor is unavailable and its tests skip"
fi
