"""test_egress.py — egress allowlists through the Python client.

Against the real sbxd: create_session(egress_allow=...) and
get_or_create_session(egress_allow=...) (the legacy adapters through it) give a
session on an egress network whose allowlist GetSession and ListSessions report
(normalized, lower case); get_or_create with another list than the live
session's is FailedPrecondition; set_egress replaces it; bad entries are
InvalidArgument; a session made without a list has network none and cannot be
given one. (What the proxy lets through is tests/integration/test_egress.c's.)
"""

from __future__ import annotations

import pytest

from sbx import FailedPrecondition, InvalidArgument

from .conftest import new_user


def test_egress_allowlist(client):
    user = new_user()
    s = client.create_session(user, egress_allow=["PyPI.org", "*.example.com:8443"]).session
    try:
        assert s.egress and list(s.egress_allow) == ["pypi.org", "*.example.com:8443"]
        got = client.set_egress(s.session_id, ["files.pythonhosted.org"]).session
        assert list(got.egress_allow) == ["files.pythonhosted.org"]
        got = client.get_session(s.session_id).session
        assert got.egress and list(got.egress_allow) == ["files.pythonhosted.org"]
        with pytest.raises(InvalidArgument, match="egress_allow"):
            client.set_egress(s.session_id, ["10.0.0.0/8"])
    finally:
        client.end_session(s.session_id, purge=True)


@pytest.mark.parametrize("bad", ["1.2.3.4", "*", "", "https://pypi.org", "a" * 300 + ".org"])
def test_egress_bad_entries(client, bad):
    with pytest.raises(InvalidArgument):
        client.create_session(new_user(), egress_allow=[bad])


def test_egress_none_cannot_be_given_later(client):
    s = client.create_session(new_user()).session
    try:
        assert not s.egress
        with pytest.raises(FailedPrecondition, match="network none"):
            client.set_egress(s.session_id, ["pypi.org"])
    finally:
        client.end_session(s.session_id, purge=True)


def test_get_or_create_with_allowlist(client):
    """A new session gets the list; the live one comes back when it has the same
    list (order, case, repeats aside), is FailedPrecondition naming SetEgress with
    another (and keeps its own), and comes back as it is without one.
    ListSessions shows each session's list."""
    user = new_user()
    r = client.get_or_create_session(user, egress_allow=["PyPI.org", "*.example.com"])
    sid = r.session.session_id
    try:
        assert r.created and list(r.session.egress_allow) == ["pypi.org", "*.example.com"]
        again = client.get_or_create_session(
            user, egress_allow=["*.EXAMPLE.com", "pypi.org", "pypi.org"])
        assert not again.created and again.session.session_id == sid
        with pytest.raises(FailedPrecondition, match="SetEgress"):
            client.get_or_create_session(user, egress_allow=["files.pythonhosted.org"])
        plain = client.get_or_create_session(user)
        assert not plain.created and plain.session.session_id == sid
        assert list(plain.session.egress_allow) == ["pypi.org", "*.example.com"]
        listed = client.list_sessions(user_id=user).sessions
        assert [(s.session_id, s.egress, list(s.egress_allow)) for s in listed] == [
            (sid, True, ["pypi.org", "*.example.com"])]
        with pytest.raises(InvalidArgument, match="egress_allow"):
            client.get_or_create_session(user, egress_allow=["10.0.0.1"])
    finally:
        client.end_session(sid, purge=True)


def test_get_or_create_none_session_refuses_a_list(client):
    user = new_user()
    s = client.get_or_create_session(user).session
    try:
        assert not s.egress
        with pytest.raises(FailedPrecondition, match="network none"):
            client.get_or_create_session(user, egress_allow=["pypi.org"])
        assert not client.list_sessions(user_id=user).sessions[0].egress
    finally:
        client.end_session(s.session_id, purge=True)


def test_legacy_adapters_pass_the_allowlist(client):
    """SbxSandbox.create and SbxSessionManager(egress_allow=...) make their
    sessions with the list (GetOrCreateSession)."""
    import asyncio

    from sbx.manager import SbxSessionManager
    from sbx.sandbox import SbxSandbox

    sb = SbxSandbox.create(new_user(), client=client, egress_allow=["pypi.org"])
    try:
        assert list(client.get_session(sb.session_id).session.egress_allow) == ["pypi.org"]
    finally:
        client.end_session(sb.session_id, purge=True)
    m = SbxSessionManager(client=client, egress_allow=["*.example.com:8443"])
    user = new_user()
    sandbox = asyncio.run(m.get_or_create(user))
    try:
        s = client.get_session(sandbox.session_id).session
        assert s.egress and list(s.egress_allow) == ["*.example.com:8443"]
    finally:
        client.end_session(sandbox.session_id, purge=True)


def test_cli_lists_and_shows_the_allowlist(client, sbxd, sbx_bin):
    """`sbx session list` ends each line with the session's egress; `session get`
    and --json carry it too."""
    import json
    import subprocess

    def cli(*args):
        env = {"SBX_ENDPOINT": sbxd.endpoint, "SBX_SERVICE_KEY": sbxd.key, "PATH": "/usr/bin:/bin"}
        p = subprocess.run([sbx_bin, *args], env=env, capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        return p.stdout.decode()

    user, plain = new_user(), new_user()
    s = client.create_session(user, egress_allow=["pypi.org", "*.example.com"]).session
    n = client.create_session(plain).session
    try:
        line = cli("session", "list", "--user", user).strip()
        assert line.startswith(s.session_id) and line.split()[-1] == "pypi.org,*.example.com"
        assert cli("session", "list", "--user", plain).split()[-1] == "none"
        assert "pypi.org *.example.com" in cli("session", "get", s.session_id)
        listed = json.loads(cli("--json", "session", "list", "--user", user))["sessions"]
        assert [x["egress_allow"] for x in listed] == [["pypi.org", "*.example.com"]]
    finally:
        client.end_session(s.session_id, purge=True)
        client.end_session(n.session_id, purge=True)
