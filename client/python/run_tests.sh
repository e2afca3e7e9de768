#!/usr/bin/env bash
# run_tests.sh — installs the Python client in a fresh virtual environment and
# runs its tests against a real sbxd.
#
#   SBXD_BIN=build/sbxd SBX_BIN=build/sbx client/python/run_tests.sh [pytest args]
#
# Creates a venv (python3 -m venv; installs Debian's python3-venv and
# protobuf-compiler when missing and running as root), pip-installs
# ./client/python with its `pydantic-ai` and `test` extras (not editable: the
# tests import the installed package), checks that the generated protocol code
# matches the .proto (gen_check.sh), then runs pytest on client/python/tests.
# Needs Docker and the default runtime image, as the C integration tests do.
# SBX_PY_VENV names a venv directory to create or reuse (default: a new one
# under /tmp, removed afterwards).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SBXD_BIN:?set SBXD_BIN to a built sbxd (e.g. build/sbxd)}"
: "${SBX_BIN:?set SBX_BIN to the built sbx CLI (e.g. build/sbx)}"
export SBXD_BIN=$(realpath "$SBXD_BIN") SBX_BIN=$(realpath "$SBX_BIN")

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "run_tests: missing $*; install it (apt-get install $*) or run as root" >&2
		exit 2
	fi
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v protoc >/dev/null || apt_install protobuf-compiler
bash "$here/gen_check.sh"

venv=${SBX_PY_VENV:-}
if [ -z "$venv" ]; then
	venv=$(mktemp -d /tmp/sbx-py-venv-XXXXXX)
	trap 'rm -rf "$venv"' EXIT
fi
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$here[pydantic-ai,test]"
cd "$here"
"$venv/bin/python" -m pytest -p no:cacheprovider -ra tests "$@"
