"""test_interop.py — the C CLI (`sbx`, $SBX_BIN) and the Python client on one session.

A session created with the C CLI is driven from Python (files, commands, its
token, its log stream read through the Python subscription), and a session
created from Python is driven with the CLI (exec, read, cat, write, logs with
the Python-minted token). Proof that the protocol, not libsbx, is the contract.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

from sbx import AsyncClient, Client, SbxSandbox, pb

from .conftest import new_user


def cli(sbxd, sbx_bin, *args, token=None, stdin=None):
    env = {"SBX_ENDPOINT": sbxd.endpoint, "PATH": "/usr/bin:/bin"}
    if token:
        env["SBX_SESSION_TOKEN"] = token
    else:
        env["SBX_SERVICE_KEY"] = sbxd.key
    p = subprocess.run([sbx_bin, *args], env=env, input=stdin, capture_output=True, timeout=120)
    assert p.returncode == 0, f"sbx {' '.join(args)}: {p.stderr.decode(errors='replace')}"
    return p.stdout


def test_cli_session_driven_from_python(sbxd, sbx_bin):
    created = json.loads(cli(sbxd, sbx_bin, "--json", "session", "create", "--user", new_user()))
    sid, token = created["session"]["session_id"], created["session_token"]
    try:
        cli(sbxd, sbx_bin, "write", sid, "from-c.txt", stdin=b"written by C\n")
        assert cli(sbxd, sbx_bin, "exec", sid, "--", "echo", "c-exec") == b"c-exec\n"
        sb = SbxSandbox.connect(sid, token, endpoint=sbxd.endpoint)   # the CLI's token
        try:
            assert sb.read("from-c.txt") == "     1\twritten by C"
            assert sb.execute("echo py-exec").output == "py-exec\n"
        finally:
            sb.close()

        async def read_stream():
            async with AsyncClient(sbxd.endpoint, session_token=token) as ac:
                async with ac.logs(sid, after_seq=0) as events:
                    got = []
                    async for ev in events:
                        got.append(ev)
                        if ev.data == b"py-exec\n":
                            return got
        got = asyncio.run(asyncio.wait_for(read_stream(), 60))
        stdout = [e.data for e in got if e.stream == pb.LOG_STREAM_STDOUT]
        assert stdout == [b"c-exec\n", b"py-exec\n"]
        assert [e.seq for e in got] == list(range(1, len(got) + 1))
    finally:
        cli(sbxd, sbx_bin, "session", "end", sid, "--purge")


def test_python_session_driven_from_cli(sbxd, sbx_bin):
    with Client(sbxd.endpoint, service_key=sbxd.key) as c:
        r = c.create_session(new_user())
        sid, token = r.session.session_id, r.session_token
        try:
            c.write(sid, "from-py.txt", b"line one\nline two\n")
            c.execute(sid, "echo py-made > made.txt")
            assert cli(sbxd, sbx_bin, "cat", sid, "from-py.txt") == b"line one\nline two\n"
            assert cli(sbxd, sbx_bin, "read", sid, "from-py.txt", token=token) == \
                b"     1\tline one\n     2\tline two"
            assert cli(sbxd, sbx_bin, "exec", sid, "--", "cat", "made.txt",
                       token=token) == b"py-made\n"
            cli(sbxd, sbx_bin, "write", sid, "from-c.txt", stdin=b"\x00\xffbin", token=token)
            assert c.read_bytes(sid, "from-c.txt").data == b"\x00\xffbin"
            logs = json.loads(cli(sbxd, sbx_bin, "--json", "logs", sid, token=token))
            stdout = [e["data"] for e in logs["events"] if e["stream"] == "stdout"]
            assert stdout == ["py-made\n"]                       # from the CLI's cat
            started = [e["data"] for e in logs["events"] if e["data"].startswith("started: ")]
            assert started[:2] == ["started: echo py-made > made.txt", "started: cat made.txt"]
            listed = cli(sbxd, sbx_bin, "session", "list", "--user", r.session.user_id)
            assert sid.encode() in listed
        finally:
            c.end_session(sid, purge=True)
