"""test_badinput.py — failures end in the right exception with a clear message, never a hang.

Closed clients, wrong credentials, no server, a malformed endpoint, oversized
writes, and sbxd killed and restarted while a call waits for its reply. The
restart tests use their own sbxd so the shared one stays up.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from sbx import (Cancelled, Client, ResourceExhausted, SbxSandbox, Unauthenticated,
                 Unavailable)

from .conftest import new_user, wait_until
from .sbxd_proc import Sbxd, free_port


def test_closed_client(sbxd):
    c = Client(sbxd.endpoint, service_key=sbxd.key)
    c.close()
    with pytest.raises(Cancelled, match="the client is closed"):
        c.list_sessions()


def test_wrong_service_key(sbxd):
    with Client(sbxd.endpoint, service_key="wrong-key-0123456789abcdef") as c:
        with pytest.raises(Unauthenticated) as e:
            c.list_sessions()
    assert e.value.message


def test_wrong_token_before_missing_session(sbxd, sid):
    with Client(sbxd.endpoint, session_token="not-a-real-token-0123456789") as c:
        with pytest.raises(Unauthenticated):
            c.read(sid, "x")
        with pytest.raises(Unauthenticated):          # 401 before 404
            c.read("s-00000000000000000000000000000000", "x")


def test_sandbox_with_wrong_token_returns_errors(sbxd, sid):
    sb = SbxSandbox.connect(sid, "not-a-real-token-0123456789", endpoint=sbxd.endpoint)
    try:
        assert sb.read_bytes("x") == b""
        assert sb.read("x").startswith("Error: ")
        r = sb.execute("true")
        assert r.exit_code == 1 and r.output.startswith("Error: ")
        assert sb.write("x", "y").error
    finally:
        sb.close()


def test_no_server_is_unavailable_quickly():
    with Client(f"tcp://127.0.0.1:{free_port()}", service_key="k" * 20,
                connect_timeout=1.0) as c:
        with pytest.raises(Unavailable, match="is sbxd running"):
            c.list_sessions()


def test_bad_endpoint_and_credentials():
    with pytest.raises(ValueError, match="expected tcp://HOST:PORT"):
        Client("nonsense://x", service_key="k" * 20)
    with pytest.raises(ValueError, match="service_key"):
        Client("tcp://127.0.0.1:1", service_key=None, session_token=None)


def test_oversized_write_is_refused_with_advice(client, sid):
    with pytest.raises(ResourceExhausted, match="max_message_bytes") as e:
        client.write(sid, "big.bin", b"x" * (17 << 20))
    assert "chunks" in e.value.message
    assert client.execute(sid, "echo still-serving").stdout == b"still-serving\n"


def test_write_past_the_listener_cap_ends_the_connection(client, sid):
    with pytest.raises(Unavailable, match="ended before the reply"):
        client.write(sid, "huge.bin", b"x" * (40 << 20))
    assert client.execute(sid, "echo reconnected").stdout == b"reconnected\n"


@pytest.fixture
def own_sbxd(sbxd):
    d = Sbxd(sbxd.binary)
    d.start()
    yield d
    d.finish()


def test_server_killed_mid_call_then_restarted(own_sbxd):
    """A crash while Execute runs: the call fails at once with Unavailable (the
    request is not resent: it may or may not have run), and the same client
    reaches the restarted sbxd, the session and its files intact."""
    with Client(own_sbxd.endpoint, service_key=own_sbxd.key, timeout=120) as c:
        sid = c.create_session(new_user()).session.session_id
        c.write(sid, "kept.txt", "kept")
        outcome: list = []

        def call():
            try:
                outcome.append(c.execute(sid, "echo run >> runs.txt; sleep 60"))
            except BaseException as e:       # noqa: BLE001 — recorded for the assertion
                outcome.append(e)

        t = threading.Thread(target=call)
        t.start()
        wait_until(lambda: c.stat(sid, "runs.txt").exists, "the command runs")
        own_sbxd.stop(signal.SIGKILL)
        t.join(timeout=90)
        assert not t.is_alive(), "the call hung after sbxd went away"
        err = outcome[0]
        assert isinstance(err, Unavailable), f"expected Unavailable, got {err!r}"
        assert "may or may not have run" in err.message
        own_sbxd.start()
        assert c.read_bytes(sid, "kept.txt").data == b"kept"
        assert c.execute(sid, "echo back").stdout == b"back\n"
        assert c.read_bytes(sid, "runs.txt").data == b"run\n"          # ran once, not resent
        c.end_session(sid, purge=True)


def test_call_waits_for_a_restarting_server(own_sbxd):
    """A call made while sbxd is down is sent once it is back (within connect_timeout)."""
    with Client(own_sbxd.endpoint, service_key=own_sbxd.key, timeout=120,
                connect_timeout=60) as c:
        c.list_sessions()
        own_sbxd.stop(signal.SIGTERM)
        wait_until(lambda: not c._t_.connected, "the client sees the connection gone")
        outcome: list = []
        t = threading.Thread(target=lambda: outcome.append(c.list_sessions()))
        t.start()
        time.sleep(1.0)     # gives the call a chance to wait for a connection; not relied on
        own_sbxd.start()
        t.join(timeout=90)
        assert not t.is_alive(), "the call hung after sbxd came back"
        assert outcome and outcome[0].sessions is not None
