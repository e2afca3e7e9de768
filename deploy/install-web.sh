#!/usr/bin/env bash
# install-web.sh — installs and starts sbx-web, the web app (client/web),
# beside an installed sbxd; run by install.sh (as root, after sbxd started).
# A virtual environment in /opt/sbx-web holds the sbx client (its wheel, with
# the `current` extra: pydantic-ai, pydantic-ai-backend) and the app;
# /usr/local/bin/sbx-web links to its command. The config goes to
# /etc/sbx/sbx-web.conf (kept when present), the systemd unit to
# /etc/systemd/system/sbx-web.service (without systemd: started in the
# background, log /var/log/sbx-web.log).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-web.sh: run as root" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
venv=/opt/sbx-web

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
work=$(mktemp -d /tmp/sbx-web-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" -m pip -q --disable-pip-version-check wheel --no-deps -w "$work" "$top/client/python"
wheel=$(ls "$work"/sbx_client-*.whl)
"$venv/bin/python" -m pip -q --disable-pip-version-check install --force-reinstall --no-deps "$wheel"
# one resolve with the local wheel: the app's dependency sbx-client is never looked up elsewhere
"$venv/bin/python" -m pip -q --disable-pip-version-check install --force-reinstall --no-deps "$top/client/web"
"$venv/bin/python" -m pip -q --disable-pip-version-check install "$wheel[current]" "$top/client/web"
ln -sf "$venv/bin/sbx-web" /usr/local/bin/sbx-web
install -d -m 0755 /etc/sbx
[ -f /etc/sbx/sbx-web.conf ] || install -m 0644 "$top/deploy/sbx-web.conf.example" /etc/sbx/sbx-web.conf

if [ -d /run/systemd/system ]; then
	id sbx-web >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/sbx-web \
		--shell /usr/sbin/nologin sbx-web
	install -m 0644 "$top/deploy/sbx-web.service" /etc/systemd/system/sbx-web.service
	systemctl daemon-reload
	systemctl enable sbx-web >/dev/null 2>&1
	systemctl restart sbx-web
	echo "sbx-web runs under systemd (journalctl -u sbx-web)" >&2
else
	install -d -m 0700 /var/lib/sbx-web
	if [ -f /run/sbx-web.pid ] && kill "$(cat /run/sbx-web.pid)" 2>/dev/null; then sleep 1; fi
	SBXWEB_SBX_SERVICE_KEY_FILE=/var/lib/sbx/service.key \
		nohup "$venv/bin/sbx-web" --config /etc/sbx/sbx-web.conf serve >>/var/log/sbx-web.log 2>&1 &
	echo $! >/run/sbx-web.pid
	echo "sbx-web runs in the background, pid $(cat /run/sbx-web.pid) (log: /var/log/sbx-web.log)" >&2
fi
port=$(sed -n 's/^listen_port *= *//p' /etc/sbx/sbx-web.conf)
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:${port:-7480}/healthz" >/dev/null && break
	sleep 0.2
done
curl -sf "http://127.0.0.1:${port:-7480}/healthz" >/dev/null ||
	echo "install-web.sh: sbx-web does not answer yet on port ${port:-7480}; see its log" >&2
