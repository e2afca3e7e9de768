#!/usr/bin/env bash
# install.sh — the one command that sets sbx up on a fresh Debian/Ubuntu
# machine: dependencies (and a Docker engine if none answers), a build and
# install under /usr/local, the default runtime image (from Debian packages,
# no registry), sbxd started (systemd unit when systemd runs, else in the
# background), the web app beside it (deploy/install-web.sh), and a demo
# showing it doing its job. Run from a checkout, as
# root (it asks sudo itself otherwise): bash deploy/install.sh [--gvisor]
#   --gvisor  also installs gVisor (Debian's runsc) and registers it with the
#             Docker engine (deploy/gvisor.sh: daemon.json merged, SIGHUP),
#             so sessions can ask for isolation gvisor
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo -E bash "$0" "$@"   # needs root: packages, Docker, /usr/local
top=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\n== %s\n' "$*" >&2; }
gvisor=no
for a in "$@"; do
	case $a in
	--gvisor) gvisor=yes ;;
	*) echo "usage: $0 [--gvisor]" >&2; exit 2 ;;
	esac
done

say "dependencies"
SBX_GVISOR=$gvisor bash "$top/deploy/deps.sh"

say "build and install (cmake, Release, prefix /usr/local)"
cmake -S "$top" -B "$top/build-release" -DCMAKE_BUILD_TYPE=Release -DSBX_TESTS=OFF >/dev/null
cmake --build "$top/build-release" -j"$(nproc)" >/dev/null
cmake --install "$top/build-release" >/dev/null
ldconfig
install -d -m 0755 /etc/sbx /usr/local/share/doc/sbx
[ -f /etc/sbx/sbxd.conf ] || install -m 0644 "$top/deploy/sbxd.conf.example" /etc/sbx/sbxd.conf
install -m 0644 "$top/README.md" /usr/local/share/doc/sbx/README.md
echo "installed: $(command -v sbxd) $(command -v sbx)" >&2

say "kernel limits shared by every sandbox"
# Every sandbox runs as uid 1000 in the host's user namespace, so inotify's
# per-uid limits are shared by all tenants (and the host's own uid 1000):
# at the default 128 instances, 32 sessions with 4 file watches each would
# leave no watch for anyone else. Raised, never lowered; kept across reboots.
raise_sysctl() {   # name wanted
	local now
	now=$(sysctl -n "$1" 2>/dev/null) || return 0
	[ "$now" -ge "$2" ] && return 0
	sysctl -qw "$1=$2" && echo "$1 = $2" >>/etc/sysctl.d/60-sbx.conf
	echo "$1: $now -> $2" >&2
}
raise_sysctl fs.inotify.max_user_instances 8192
raise_sysctl fs.inotify.max_user_watches 524288

say "default runtime image (python-minimal, from Debian packages)"
bash "$top/deploy/images/build.sh" python-minimal

say "start sbxd"
if [ -d /run/systemd/system ]; then
	install -m 0644 "$top/deploy/sbxd.service" /etc/systemd/system/sbxd.service
	systemctl daemon-reload
	systemctl enable sbxd >/dev/null 2>&1
	systemctl restart sbxd
	echo "sbxd runs under systemd (journalctl -u sbxd)" >&2
else
	if [ -f /run/sbxd.pid ] && kill "$(cat /run/sbxd.pid)" 2>/dev/null; then sleep 1; fi
	nohup /usr/local/bin/sbxd >>/var/log/sbxd.log 2>&1 &
	echo $! >/run/sbxd.pid
	echo "sbxd runs in the background, pid $(cat /run/sbxd.pid) (log: /var/log/sbxd.log)" >&2
fi
for _ in $(seq 100); do
	[ -s /var/lib/sbx/service.key ] && sbx session list >/dev/null 2>&1 && break
	sleep 0.1
done

say "web app (client/web: sbx-web in /opt/sbx-web)"
bash "$top/deploy/install-web.sh"

say "demo"
bash "$top/deploy/demo.sh"
web_port=$(sed -n 's/^listen_port *= *//p' /etc/sbx/sbx-web.conf)
cat >&2 <<MSG

== the web app: http://127.0.0.1:${web_port:-7480}/
   make its first user (an admin) with:
     sudo sbx-web create-user NAME --admin
MSG
