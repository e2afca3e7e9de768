#!/usr/bin/env bash
# run_tests.sh — the web app's tests against a real sbxd: pytest for the HTTP
# API and WebSocket (tests/test_api.py) and the real-Chromium test
# (tests/test_browser.py, Debian's chromium + chromium-driver via selenium).
#
#   SBXD_BIN=build/sbxd client/web/run_tests.sh [pytest args]
#
# Builds the sbx client's wheel (client/python), installs it with its
# `current` extra and this package with its `test` extra in a fresh virtual
# environment (SBXWEB_VENV names one to create or reuse), and runs pytest on
# client/web/tests. Installs chromium, chromium-driver and libjs-term.js when
# missing and running as root (deploy/deps.sh lists them). Screenshots go to
# $SBXWEB_SHOTS (default: under pytest's tmp dir); their paths are printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${SBXD_BIN:?set SBXD_BIN to a built sbxd (e.g. build/sbxd)}"
export SBXD_BIN=$(realpath "$SBXD_BIN")

missing=()
for p in chromium chromium-driver libjs-term.js python3-venv; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "run_tests: missing ${missing[*]}; install them (deploy/deps.sh) or run as root" >&2
		exit 2
	fi
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/sbx-web-run-XXXXXX)
trap 'rm -rf "$work"' EXIT
venv=${SBXWEB_VENV:-$work/venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip() { "$venv/bin/python" -m pip -q --disable-pip-version-check "$@"; }
pip wheel --no-deps -w "$work/wheel" "$top/client/python"
wheel=$(ls "$work"/wheel/sbx_client-*.whl)
pip install --force-reinstall --no-deps "$wheel"
pip install "$wheel[current]" "$here[test]"
echo "run_tests: client/web in $venv" >&2
cd "$here" && exec "$venv/bin/python" -m pytest -p no:cacheprovider -ra -s tests "$@"
