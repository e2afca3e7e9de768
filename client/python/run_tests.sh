#!/usr/bin/env bash
# run_tests.sh — builds the Python client's wheel, installs it in one fresh
# virtual environment per pydantic-ai extra, and runs each one's tests against a
# real sbxd.
#
#   SBXD_BIN=build/sbxd SBX_BIN=build/sbx client/python/run_tests.sh [pytest args]
#
# Checks that the generated protocol code matches the .proto (gen_check.sh),
# builds the wheel (`pip wheel`, py.typed included), then for each extra in
# $SBX_PY_EXTRAS (default "legacy current"; both run in CI):
#   legacy   the wheel with `legacy,test` (pydantic-ai-backend 0.2.29: SbxSandbox,
#            SbxSessionManager), pytest on client/python/tests
#   current  the wheel with `current,test-current` (pydantic-ai 2.6x,
#            pydantic-ai-backend 0.2.3x: SbxWorkspace), pytest on
#            client/python/tests_current, with the installed pydantic-ai-backend's
#            source distribution downloaded at test time for its conformance
#            suite (never committed)
# Packages are installed from the wheel, not editable: the tests import the
# installed package. Pytest args go to every run. Creates venvs with python3 -m
# venv (installs Debian's python3-venv and protobuf-compiler when missing and
# running as root). Needs Docker and the default runtime image, as the C
# integration tests do. SBX_PY_VENV names the legacy venv directory to create or
# reuse, and SBX_PY_VENV-current the current one (default: new ones under /tmp,
# removed afterwards).
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

work=$(mktemp -d /tmp/sbx-py-run-XXXXXX)
cleanup=("$work")
trap 'rm -rf "${cleanup[@]}"' EXIT
wheel=
build_wheel() {	# build_wheel PYTHON: the wheel, once, into $wheel; py.typed must be in it
	[ -n "$wheel" ] && return
	"$1" -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/wheel" "$here"
	wheel=$(ls "$work"/wheel/sbx_client-*.whl)
	"$1" -c 'import sys, zipfile; sys.exit("sbx/py.typed" not in zipfile.ZipFile(sys.argv[1]).namelist())' \
		"$wheel" || { echo "run_tests: py.typed missing from $wheel" >&2; exit 1; }
}

make_venv() {	# make_venv DIR: a venv at DIR (created unless it has a python)
	if [ ! -x "$1/bin/python" ]; then
		python3 -m venv "$1" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$1"; }
	fi
}

rc=0
for extra in ${SBX_PY_EXTRAS:-legacy current}; do
	case $extra in
	legacy)  venv=${SBX_PY_VENV:-}; extras="legacy,test"; suite=tests ;;
	current) venv=${SBX_PY_VENV:+$SBX_PY_VENV-current}; extras="current,test-current"
		 suite=tests_current ;;
	*) echo "run_tests: unknown extra '$extra' (legacy, current)" >&2; exit 2 ;;
	esac
	if [ -z "$venv" ]; then
		venv="$work/venv-$extra"
	fi
	make_venv "$venv"
	build_wheel "$venv/bin/python"
	"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
	"$venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel[$extras]"
	if [ "$extra" = current ]; then
		version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pydantic-ai-backend"))')
		"$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
			--no-binary :all: "pydantic-ai-backend==$version" -d "$work/sdist"
		tar -xzf "$work/sdist/pydantic_ai_backend-$version.tar.gz" -C "$work/sdist"
		export SBX_BACKEND_SDIST_TESTS="$work/sdist/pydantic_ai_backend-$version/tests"
	fi
	echo "run_tests: $extra ($extras) in $venv"
	(cd "$here" && "$venv/bin/python" -m pytest -p no:cacheprovider -ra "$suite" "$@") || rc=1
done
exit $rc
