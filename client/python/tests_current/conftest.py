"""conftest.py — a private sbxd and pydantic-ai-backend's own test sources for
the SbxWorkspace tests (the `pydantic-ai-current` venv of run_tests.sh).

`sbxd` starts $SBXD_BIN through tests/sbxd_proc.Sbxd (own state dir, ports,
key). `backend_sdist_tests` is the `tests/` directory of pydantic-ai-backend's
source distribution, pinned to the installed version: $SBX_BACKEND_SDIST_TESTS
when set (run_tests.sh downloads it), else `pip download --no-binary :all:`
into a temporary directory here. It is never committed.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid

import pytest

from tests.sbxd_proc import Sbxd


@pytest.fixture(scope="session")
def sbxd():
    binary = os.environ.get("SBXD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("SBXD_BIN must name a built sbxd (e.g. build/sbxd); see run_tests.sh")
    d = Sbxd(binary)
    d.start()
    yield d
    d.finish()


def new_user() -> str:
    return "ws-" + uuid.uuid4().hex[:12]


def sdist_tests_dir() -> str:
    """pydantic-ai-backend's sdist `tests/` for the installed version (downloaded if needed)."""
    given = os.environ.get("SBX_BACKEND_SDIST_TESTS")
    if given:
        return given
    version = importlib.metadata.version("pydantic-ai-backend")
    dest = tempfile.mkdtemp(prefix="sbx-backend-sdist-")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--no-deps", "--no-binary", ":all:", f"pydantic-ai-backend=={version}",
                    "-d", dest], check=True)
    archive = next(f for f in os.listdir(dest) if f.endswith(".tar.gz"))
    with tarfile.open(os.path.join(dest, archive)) as t:
        t.extractall(dest, filter="data")
    tests = os.path.join(dest, archive[:-len(".tar.gz")], "tests")
    os.environ["SBX_BACKEND_SDIST_TESTS"] = tests
    return tests
