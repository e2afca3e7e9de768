"""test_tokens.py — a session token rotated from outside the app (`sbx
session rotate-token`, the CLI built beside SBXD_BIN; SBX_BIN names another)
does not break the chat: the app sees sbxd refuse its stored token and mints
a new one with the service key (RotateToken) before the turn starts."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from sbx import Client, Unauthenticated
from test_api import chat, new_session


def sbx_cli() -> str:
    p = os.environ.get("SBX_BIN") or str(Path(os.environ["SBXD_BIN"]).with_name("sbx"))
    if not os.access(p, os.X_OK):
        pytest.fail(f"no sbx CLI at {p}: build it (cmake --build build) or set SBX_BIN")
    return p


def stored_token(web, sid: str) -> str:
    with sqlite3.connect(f"file:{web.dir / 'web.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT token FROM sandboxes WHERE sid=?", (sid,)).fetchone()[0]


def test_a_token_rotated_from_outside_is_renewed_with_the_service_key(web, sbxd):
    alice = web.login("alice")
    sid = new_session(alice, title="rotated")
    assert chat(alice, sid, "run: echo first")[-1]["t"] == "done"
    before = stored_token(web, sid)

    r = subprocess.run([sbx_cli(), "session", "rotate-token", sid], capture_output=True,
                       text=True, timeout=60,
                       env={**os.environ, "SBX_ENDPOINT": sbxd.endpoint,
                            "SBX_SERVICE_KEY": sbxd.key})
    assert r.returncode == 0, r.stderr
    outside = r.stdout.strip()
    assert outside and outside != before
    with Client(sbxd.endpoint, session_token=before, timeout=30.0) as c:
        with pytest.raises(Unauthenticated):            # the app's stored token is dead now
            c.get_session(sid)

    evs = chat(alice, sid, "run: echo second-$((40+2))")
    assert evs[-1]["t"] == "done", evs
    assert any(e["t"] == "tool_result" and "second-42" in e["text"] for e in evs), evs
    after = stored_token(web, sid)
    assert after not in (before, outside)
    with Client(sbxd.endpoint, session_token=after, timeout=30.0) as c:
        assert c.get_session(sid).session.session_id == sid
    with Client(sbxd.endpoint, session_token=outside, timeout=30.0) as c:
        with pytest.raises(Unauthenticated):            # RotateToken revoked the outside one
            c.get_session(sid)
    # the next turn uses the renewed token as it is
    assert chat(alice, sid, "run: echo third")[-1]["t"] == "done"
    assert stored_token(web, sid) == after
    alice.close()
