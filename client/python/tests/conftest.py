"""conftest.py — a real, private sbxd for the Python client's tests.

Starts the sbxd named by $SBXD_BIN (the C CLI for interop tests is $SBX_BIN)
through sbxd_proc.Sbxd (own state dir, free ports, random service key).
Fixtures: `sbxd` (the process; restartable), `client` (a service-key Client),
`sid` (a fresh session per test, ended and purged afterwards), `sandbox` (an
SbxSandbox on it). At the end, sbxd is stopped and its containers and state
dir removed. A missing $SBXD_BIN fails the run, it never skips.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from sbx import Client, SbxError

from .sbxd_proc import Sbxd


@pytest.fixture(scope="session")
def sbxd():
    binary = os.environ.get("SBXD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("SBXD_BIN must name a built sbxd (e.g. build/sbxd); see run_tests.sh")
    d = Sbxd(binary)
    d.start()
    yield d
    d.finish()


@pytest.fixture(scope="session")
def sbx_bin() -> str:
    binary = os.environ.get("SBX_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("SBX_BIN must name the built sbx CLI (e.g. build/sbx); see run_tests.sh")
    return binary


@pytest.fixture
def client(sbxd):
    with Client(sbxd.endpoint, service_key=sbxd.key, timeout=60.0) as c:
        yield c


WAIT_S = 120.0      # safety net of every condition wait; never the thing a test waits for


def wait_until(cond, what: str, *, poll: float = 0.05):
    """Polls `cond()` until it returns something truthy and returns that; fails
    only if it never does within WAIT_S (a machine too loaded to get there)."""
    end = time.monotonic() + WAIT_S
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < end, f"never happened within {WAIT_S:g} s: {what}"
        time.sleep(poll)


def new_user() -> str:
    return "py-" + uuid.uuid4().hex[:12]


@pytest.fixture
def session(sbxd):
    """A fresh session: (CreateSessionResponse, service-key client)."""
    with Client(sbxd.endpoint, service_key=sbxd.key, timeout=60.0) as c:
        r = c.create_session(new_user())
        yield r
        try:
            c.end_session(r.session.session_id, purge=True)
        except SbxError:
            pass


@pytest.fixture
def sid(session) -> str:
    return session.session.session_id


@pytest.fixture
def sandbox(client, sid):
    from sbx import SbxSandbox
    return SbxSandbox(client, sid)
