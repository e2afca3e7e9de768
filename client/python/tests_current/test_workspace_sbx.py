"""SbxWorkspace beyond the conformance suite: an agent using every console tool,
the lifecycle (refs, per-user reuse, destroy), credentials, and bad input.

Effects are checked in the container through a service-key client of the
private sbxd (`sbxd` fixture), never through the workspace under test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import time

import anyio
import pytest
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel
from pydantic_ai.workspaces import (Workspace, WorkspaceRef, WorkspaceTimeoutError,
                                    WorkspaceUnavailableError)
from pydantic_ai_backends import ConsoleCapability
from pydantic_ai_backends.permissions import PERMISSIVE_RULESET

from sbx import Client, pb
from sbx.workspace import SbxConnectionError, SbxWorkspace, SbxWorkspaceBackend

from .conftest import new_user

pytestmark = pytest.mark.anyio

CONSOLE_TOOLS = ["ls", "read_file", "write_file", "edit_file", "glob", "grep", "execute"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def service(sbxd):
    with Client(sbxd.endpoint, service_key=sbxd.key, timeout=60.0) as c:
        yield c


def _in_container(service: Client, sid: str, command: str) -> str:
    r = service.execute(sid, command, timeout_ms=30_000)
    assert r.exit_code == 0, r.stderr
    return r.stdout.decode()


async def test_agent_calls_every_console_tool(sbxd, service) -> None:
    """TestModel calls one console tool per run (its arguments are always "a"), each
    run continuing in the workspace the first one opened, and each effect is
    checked in the container."""
    user = new_user()
    # `execute` runs the command "a": a script on PATH, so running it leaves a mark.
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key, user_id=user,
                            env={"PATH": "/workspace/bin:/usr/local/bin:/usr/bin:/bin"}) as ws:
        agent = Agent(TestModel(), capabilities=[ws, ConsoleCapability(
            permissions=PERMISSIVE_RULESET)])

        async def call(tool: str, ref: WorkspaceRef | None) -> tuple[str, WorkspaceRef]:
            model = TestModel(call_tools=[tool])
            r = await agent.run("go", model=model, workspace=ref)
            returns = [p for m in r.all_messages() for p in m.parts
                       if getattr(p, "part_kind", "") == "tool-return" and p.tool_name == tool]
            assert len(returns) == 1, r.all_messages()
            assert r.workspace.ref is not None
            return str(returns[0].content), r.workspace.ref

        out, ref = await call("write_file", None)
        assert ref.provider == "sbx"
        sid = ref.id
        s = service.get_session(sid).session
        assert s.user_id == user                      # the user's session (GetOrCreateSession)
        assert _in_container(service, sid, "cat /workspace/a") == "a"

        out, ref2 = await call("edit_file", ref)      # "a" -> "a": one occurrence replaced
        assert ref2 == ref and "1 occurrence" in out
        assert _in_container(service, sid, "cat /workspace/a") == "a"

        service.write(sid, "/workspace/a", b"a\nsecond line a\n")
        out, _ = await call("read_file", ref)
        assert "1\ta" in out and "2\tsecond line a" in out

        out, _ = await call("ls", ref)
        assert "a" in out

        service.mkdir(sid, "/workspace/sub/deeper", parents=True)
        service.write(sid, "/workspace/sub/deeper/a", b"x")
        out, _ = await call("glob", ref)              # pattern "a": files named a at the top
        assert "a" in out

        out, _ = await call("grep", ref)              # files containing "a"
        assert "a" in out

        service.write(sid, "/workspace/bin/a", b"#!/bin/sh\necho ran-by-agent > /workspace/ran\n")
        _in_container(service, sid, "chmod +x /workspace/bin/a")
        out, _ = await call("execute", ref)
        assert _in_container(service, sid, "cat /workspace/ran") == "ran-by-agent\n"

        # A run without a ref lands in the same session: one per user.
        _, again = await call("ls", None)
        assert again == ref
        await ws.destroy(ref)
    assert service.get_session(sid).session.state == pb.SESSION_STATE_ENDED
    assert sorted(CONSOLE_TOOLS) == sorted(["ls", "read_file", "write_file", "edit_file", "glob",
                                            "grep", "execute"])


async def test_backend_holds_only_the_session_token(sbxd) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key) as ws:
        assert sbxd.key not in repr(ws)
        backend = ws.backend()
        await backend.working_dir()

        def strings(obj, seen, depth=0):
            if id(obj) in seen or depth > 6:
                return
            seen.add(id(obj))
            if isinstance(obj, str):
                yield obj
                return
            if isinstance(obj, (bytes, int, float, bool, type(None))):
                return
            if isinstance(obj, dict):
                for k, v in obj.items():
                    yield from strings(k, seen, depth + 1)
                    yield from strings(v, seen, depth + 1)
                return
            if isinstance(obj, (list, tuple, set)):
                for v in obj:
                    yield from strings(v, seen, depth + 1)
                return
            for v in getattr(obj, "__dict__", {}).values():
                yield from strings(v, seen, depth + 1)

        reachable = list(strings(backend, set()))
        assert sbxd.key not in reachable
        assert backend._opener is None                 # the service-key opener is dropped
        # the backend's client carries the session's token, not the key
        t = backend._opened.client._t_
        assert getattr(t, "service_key", None) in (None, "")


async def test_a_later_run_reattaches_and_destroy_ends(sbxd, service) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key) as ws:
        first = Workspace(ws.backend())
        await first.write_bytes("kept.txt", b"kept")
        ref = first.ref
        assert ref is not None
        del first
        gc.collect()
    # another process: a new capability with the same key attaches by ref
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key) as ws2:
        again = Workspace(ws2.backend(ref))
        assert await again.read_bytes("kept.txt") == b"kept"
        assert (await again.run(["cat", "kept.txt"])).stdout == "kept"
        assert again.ref == ref
        await ws2.destroy(ref)
        await ws2.destroy(ref)                        # already gone is fine
        with pytest.raises(WorkspaceUnavailableError, match="ended|refused"):
            await again.read_bytes("kept.txt")
        with pytest.raises(WorkspaceUnavailableError, match="has ended"):
            await ws2.backend(ref).working_dir()
    assert service.get_session(ref.id).session.state == pb.SESSION_STATE_ENDED


async def test_token_only_capability(sbxd, service) -> None:
    r = service.create_session(new_user())
    sid, token = r.session.session_id, r.session_token
    try:
        async with SbxWorkspace(endpoint=sbxd.endpoint, session_id=sid,
                                session_token=token) as ws:
            b = ws.backend()
            assert b.ref == WorkspaceRef(provider="sbx", id=sid)
            await Workspace(b).write_text("t.txt", "via token")
            assert _in_container(service, sid, "cat /workspace/t.txt") == "via token"
            other = service.create_session(new_user()).session.session_id
            # a ref naming another session is left to another capability ...
            assert ws.get_workspace(None, ref=WorkspaceRef(provider="sbx", id=other)) is None  # type: ignore[arg-type]
            # ... and used anyway, the token is refused
            with pytest.raises(WorkspaceUnavailableError, match="refused"):
                await ws.backend(WorkspaceRef(provider="sbx", id=other)).read_bytes("x")
            service.end_session(other, purge=True)
    finally:
        service.end_session(sid, purge=True)


async def test_bad_refs(sbxd, service) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key,
                            user_id=new_user()) as ws:
        with pytest.raises(WorkspaceUnavailableError, match="does not exist"):
            await ws.backend(WorkspaceRef(provider="sbx", id="s-0123456789abcdef")).working_dir()
        with pytest.raises(WorkspaceUnavailableError, match="malformed"):
            await ws.backend(WorkspaceRef(provider="sbx", id="../../x")).working_dir()
        with pytest.raises(ValueError, match="expected a 'sbx' workspace ref"):
            ws.backend(WorkspaceRef(provider="docker", id="x"))
        assert ws.get_workspace(None, ref=WorkspaceRef(provider="docker", id="x")) is None  # type: ignore[arg-type]
        # a ref of another user's session
        theirs = service.create_session(new_user()).session.session_id
        with pytest.raises(WorkspaceUnavailableError, match="another user"):
            await ws.backend(WorkspaceRef(provider="sbx", id=theirs)).working_dir()
        with pytest.raises(WorkspaceUnavailableError, match="another user"):
            await ws.destroy(WorkspaceRef(provider="sbx", id=theirs))
        assert service.get_session(theirs).session.state != pb.SESSION_STATE_ENDED
        service.end_session(theirs, purge=True)
        mine = ws.backend()
        await mine.working_dir()
        assert mine.ref is not None
        await ws.destroy(mine.ref)
        with pytest.raises(WorkspaceUnavailableError, match="has ended"):
            await ws.backend(mine.ref).working_dir()


async def test_closed_client_and_unreachable_sbxd(sbxd) -> None:
    ws = SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key)
    b = ws.backend()
    await b.working_dir()
    await ws.aclose()
    with pytest.raises(WorkspaceUnavailableError, match="closed"):
        await b.read_bytes("/workspace/x")
    with pytest.raises(WorkspaceUnavailableError, match="closed"):
        await ws.backend().working_dir()
    async with SbxWorkspace(endpoint="tcp://127.0.0.1:9", service_key="k",
                            client_options={"connect_timeout": 0.5}) as dead:
        with pytest.raises(SbxConnectionError, match="did not answer"):
            await dead.backend().working_dir()


async def test_timeouts_and_output(sbxd) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key) as ws:
        b = ws.backend()
        with pytest.raises(WorkspaceTimeoutError, match="after 1 seconds") as ei:
            await b.run("echo partial; sleep 30", shell=True, timeout=1)
        assert ei.value.stdout == "partial\n"
        r = await b.run(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"])
        assert len(r.stdout) == 300_000                 # beyond the agent tool's 100,000
        with pytest.raises(ValueError):
            await b.run(["true"], env={"1BAD": "x"})
        with pytest.raises(ValueError):
            await b.run(["true"], timeout=0)
        await ws.destroy(b.ref)


async def test_sbxd_restart_mid_run(sbxd) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key) as ws:
        b = ws.backend()
        await Workspace(b).write_text("before.txt", "x")

        async def restart() -> None:
            # once the command runs (it made started.txt): a stop mid-command
            for _ in range(2400):                   # 120 s safety net
                if await b.exists("started.txt"):
                    break
                await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(sbxd.restart)

        async with anyio.create_task_group() as tg:
            tg.start_soon(restart)
            with pytest.raises((SbxConnectionError, WorkspaceUnavailableError)):
                await b.run(["sh", "-c", "touch started.txt; sleep 20"], timeout=30)
        # the session survives the restart; the same backend carries on
        assert await Workspace(b).read_text("before.txt") == "x"
        await ws.destroy(b.ref)


async def test_concurrent_first_runs_of_one_user_share_a_session_and_token(sbxd) -> None:
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key,
                            user_id=new_user()) as ws:
        backends = [ws.backend() for _ in range(4)]
        async with anyio.create_task_group() as tg:
            for i, b in enumerate(backends):
                tg.start_soon(Workspace(b).write_text, f"c{i}.txt", str(i))
        refs = {b.ref for b in backends}
        assert len(refs) == 1
        for i, b in enumerate(backends):            # every token still works
            assert (await b.run(["cat", f"c{i}.txt"])).stdout == str(i)
        await ws.destroy(backends[0].ref)


async def test_egress_allow_of_new_and_per_user_sessions(sbxd, service) -> None:
    """egress_allow reaches CreateSession (no user_id) and GetOrCreateSession (user_id):
    the session gets that list; a user's live session with another list is sbx's
    FailedPrecondition, unchanged."""
    from sbx import FailedPrecondition
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key,
                            egress_allow=["PyPI.org"]) as ws:
        b = ws.backend()
        await b.working_dir()
        s = service.get_session(b.ref.id).session
        assert s.egress and list(s.egress_allow) == ["pypi.org"]
        await ws.destroy(b.ref)
    user = new_user()
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key, user_id=user,
                            egress_allow=["pypi.org", "*.example.com"]) as ws:
        b = ws.backend()
        await b.working_dir()
        s = service.get_session(b.ref.id).session
        assert s.egress and sorted(s.egress_allow) == ["*.example.com", "pypi.org"]
        async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key, user_id=user,
                                egress_allow=["files.pythonhosted.org"]) as other:
            with pytest.raises(FailedPrecondition, match="SetEgress"):
                await other.backend().working_dir()
        assert sorted(service.get_session(b.ref.id).session.egress_allow) == [
            "*.example.com", "pypi.org"]


async def test_workspace_io_takes_no_thread_hop(sbxd, service, monkeypatch) -> None:
    """Every operation of a run (the first, which opens the session, then
    files and commands) runs on the event loop: an nng operation whose
    completion callback wakes the loop. Nothing goes to an executor, to
    anyio's worker threads or to a new thread; each of those raises here."""
    hops: list[str] = []

    class NoExecutor(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            hops.append(f"executor: {fn!r}")
            raise AssertionError(f"workspace I/O went to an executor: {fn!r}")

    async def no_worker_thread(fn, *args, **kwargs):
        hops.append(f"anyio.to_thread: {fn!r}")
        raise AssertionError(f"workspace I/O went to a worker thread: {fn!r}")

    real_start = threading.Thread.start

    def no_new_thread(self):
        hops.append(f"thread: {self.name}")
        return real_start(self)

    loop = asyncio.get_running_loop()
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key,
                            user_id=new_user()) as ws:
        b = ws.backend()
        threads = threading.active_count()
        loop.set_default_executor(NoExecutor())
        monkeypatch.setattr(anyio.to_thread, "run_sync", no_worker_thread)
        monkeypatch.setattr(threading.Thread, "start", no_new_thread)
        try:
            wd = (await b.working_dir()).rstrip("/")   # the first: opens the session
            d, f = f"{wd}/nt", f"{wd}/nt/a.txt"
            await b.make_dir(d)
            await b.write_bytes(f, b"abc")
            assert await b.read_bytes(f) == b"abc"
            assert [e.name for e in await b.list_dir(d)] == ["a.txt"]
            assert (await b.stat(f)).size == 3
            assert await b.exists(f)
            assert await b.realpath(f) == f
            assert (await b.run(["true"])).exit_code == 0
            assert (await b.run("cat nt/a.txt", shell=True)).stdout == "abc"
            await b.remove(d)
            assert not await b.exists(d)
        finally:
            monkeypatch.undo()
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
        assert hops == []
        assert threading.active_count() == threads
        await ws.destroy(b.ref)


def test_execute_reply_says_whether_the_session_ended_under_it(sbxd, service) -> None:
    """Execute's session_state is RUNNING for an ordinary command and ENDED for one
    that EndSession interrupted (what SbxWorkspace.run relies on instead of a
    GetSession after each command)."""
    sid = service.create_session(new_user()).session.session_id
    assert service.execute(sid, "true").session_state == pb.SESSION_STATE_RUNNING
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(service.execute, sid, 'printf ready > .started; '
                              'while [ -d /workspace ]; do sleep 0.1; done; exit 3',
                              timeout_ms=30_000)
        while not service.stat(sid, ".started").exists and not running.done():
            time.sleep(0.05)
        service.end_session(sid, purge=True)
        r = running.result()
    assert r.session_state == pb.SESSION_STATE_ENDED


async def test_run_asks_nothing_after_the_command(sbxd, monkeypatch) -> None:
    """With an sbxd that flags an ended session in Execute's reply, run() is one
    RPC: no GetSession after it."""
    async with SbxWorkspace(endpoint=sbxd.endpoint, service_key=sbxd.key,
                            user_id=new_user()) as ws:
        b = ws.backend()
        assert (await b.run(["sh", "-c", "exit 200"])).exit_code == 200   # opens the session
        calls = []
        client = b._opened.client
        real = client.get_session
        monkeypatch.setattr(client, "get_session", lambda *a, **k: calls.append(a) or real(*a, **k))
        assert (await b.run(["true"])).exit_code == 0
        assert (await b.run(["sh", "-c", "exit 200"])).exit_code == 200
        assert calls == []
        await ws.destroy(b.ref)
