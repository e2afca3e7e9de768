"""test_dropin.py — swapping pydantic-ai-backend's SessionManager / DockerSandbox
for SbxSessionManager / SbxSandbox changes nothing else (issue 11, items 1-5, 10).

Each test is one item: the constructor arguments of the library's documented
examples, the cleanup loop and the older create/get/end API, DockerSandbox's
public attributes, write() never raising, kill_all_background releasing its
processes, a kill reporting done only once the process is gone, and
cleanup_idle acting only on the manager's own sessions.
"""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest
from pydantic_ai_backends import SessionManager
from pydantic_ai_backends.backends.docker.sandbox import DockerSandbox
from pydantic_ai_backends.types import RuntimeConfig, SandboxUsage, WriteResult

from sbx import Client, SbxSandbox, SbxSessionManager, pb

from .conftest import new_user

WAIT_S = 120.0      # safety net of the condition waits below; never a schedule


def wait_for(cond, what: str):
    """Polls `cond` until it is truthy; fails only if it never is (WAIT_S)."""
    end = time.monotonic() + WAIT_S
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < end, f"never happened: {what}"
        time.sleep(0.05)


def manager(sbxd, **kw) -> SbxSessionManager:
    return SbxSessionManager(sbxd.endpoint, service_key=sbxd.key, **kw)


def state(client: Client, sid: str) -> int:
    return client.get_session(sid).session.state


# ---------------------------------------------------------------- item 1

def test_manager_takes_the_librarys_arguments(sbxd, tmp_path):
    lib = inspect.signature(SessionManager.__init__).parameters
    ours = inspect.signature(SbxSessionManager.__init__).parameters
    assert {"default_runtime", "default_idle_timeout", "workspace_root", "max_sessions",
            "on_release", "executor"} <= set(lib)
    assert set(lib) - {"self", "sandbox_factory"} <= set(ours)
    for name in ("default_idle_timeout", "workspace_root", "max_sessions", "on_release"):
        assert ours[name].default == lib[name].default, name
    released = []

    async def main():
        # the arguments of the library's documented examples, all at once
        m = manager(sbxd, image="python:3.12-slim", workspace_root=str(tmp_path / "ws"),
                    auto_remove=True, default_runtime="python-minimal",
                    default_idle_timeout=1800, max_sessions=5, on_release=released.append)
        u = new_user()
        s = await m.get_or_create(u)
        assert s.idle_timeout == 1800 and s.runtime.name == "python-minimal"
        assert m.client.get_session(s.id).session.idle_timeout_ms == 1_800_000
        assert await m.release(u) is True and released == [u]
        assert await m.release(u) is False and released == [u]
        await m.shutdown()
    asyncio.run(main())


# ---------------------------------------------------------------- item 2

def test_cleanup_loop_runs_and_stops(sbxd):
    released = []

    async def main():
        m = manager(sbxd, on_release=released.append)
        assert m.start_cleanup_loop.__defaults__ == (300,)
        u = new_user()
        s = await m.get_or_create(u)
        m.start_cleanup_loop(interval=0)           # every pass: each session's own timeout
        task = m._cleanup_task
        m.start_cleanup_loop(interval=0)           # a second start is a no-op
        assert m._cleanup_task is task and not task.done()
        await asyncio.sleep(0)                     # let a pass run: nothing is idle yet
        assert released == [] and u in m
        m.stop_cleanup_loop()
        assert m._cleanup_task is None
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        assert s.is_alive()
        assert await m.shutdown() == 1 and released == [u]
    asyncio.run(main())


def test_older_sync_session_api(sbxd):
    """The seed's multi-user example: create_session / get_session / end_session."""
    released = []
    m = manager(sbxd, image="python:3.12-slim", workspace_root="/app/workspaces",
                auto_remove=True, on_release=released.append)
    u = new_user()
    sid = m.create_session(user_id=u)
    sandbox = m.get_session(sid)
    assert isinstance(sandbox, SbxSandbox) and sid in m
    assert sandbox.write("/workspace/secret.txt", "Alice's private data").error is None
    assert sandbox.execute("cat secret.txt").output == "Alice's private data"
    assert m.create_session(user_id=u) == sid and m.get_session(sid) is sandbox
    assert list(m._sandboxes.keys()) == [sid]     # what the example's lifespan iterates
    anon = m.create_session()
    assert anon != sid and m.get_session(anon).is_alive()
    m.end_session(sid)
    assert released == [sid] and sid not in m
    assert state(m.client, sandbox.id) == pb.SESSION_STATE_ENDED
    with pytest.raises(ValueError):
        m.get_session(sid)                          # the example's 404
    for s in list(m._sandboxes.keys()):
        m.end_session(s)
    assert len(m) == 0 and released == [sid, anon]
    m.client.close()


# ---------------------------------------------------------------- item 3

def test_sandbox_has_dockersandboxs_attributes(sandbox, sid):
    for name in ("session_id", "runtime", "idle_timeout", "last_activity"):
        assert isinstance(getattr(DockerSandbox, name), property), name
        assert hasattr(sandbox, name), name
    for name in ("touch", "resource_usage", "stop", "is_alive", "start"):
        assert callable(getattr(sandbox, name)), name
    assert sandbox.session_id == sid == sandbox.id
    assert sandbox.runtime is None or isinstance(sandbox.runtime, RuntimeConfig)
    assert isinstance(sandbox.idle_timeout, int)
    before = sandbox.last_activity
    assert isinstance(before, float) and before <= time.time()
    sandbox.touch()
    assert sandbox.last_activity >= before
    t = sandbox.last_activity
    sandbox.exists("x")                             # every operation counts as activity
    assert sandbox.last_activity >= t
    assert sandbox.execute("true").exit_code == 0   # the container runs: usage is sampled
    u = sandbox.resource_usage()
    assert u is None or isinstance(u, SandboxUsage)
    assert sandbox.is_alive() is True
    stop = inspect.signature(sandbox.stop).parameters
    assert "purge" in stop and "remove" in stop


def test_stop_remove_is_purge(client):
    r = client.create_session(new_user())
    sb = SbxSandbox(client, r.session.session_id, runtime="python-minimal")
    assert sb.runtime == RuntimeConfig(name="python-minimal")
    with pytest.warns(DeprecationWarning):
        sb.stop(remove=False)
    assert sb.is_alive() is False
    assert state(client, sb.id) == pb.SESSION_STATE_ENDED


# ---------------------------------------------------------------- item 4

def test_write_with_lone_surrogates_returns_an_error(sandbox):
    r = sandbox.write("s.txt", "bad \udcff char")
    assert isinstance(r, WriteResult) and r.path is None
    assert r.error.startswith("Failed to write file: ") and "surrogates" in r.error
    assert sandbox.exists("s.txt") is False


def test_no_adapter_method_raises_on_unencodable_text(sandbox):
    bad = "x\udcff"
    assert sandbox.exists(bad) is False
    assert sandbox.ls_info(bad) == []
    assert sandbox.read_bytes(bad) == b""
    assert sandbox.read(bad).startswith("Error: ")
    assert sandbox.write(bad, "x").error
    assert sandbox.edit(bad, "a", "b").error
    assert sandbox.write("e.txt", "abc").error is None
    assert sandbox.edit("e.txt", bad, "b").error
    assert sandbox.edit("e.txt", "a", bad).error
    assert sandbox.read_bytes("e.txt") == b"abc"
    assert sandbox.glob_info(bad) == []
    assert sandbox.grep_raw(bad).startswith("Error: ")
    assert sandbox.grep_raw("a", path=bad).startswith("Error: ")
    r = sandbox.execute("echo " + bad)
    assert r.exit_code != 0 and r.output.startswith("Error: ")
    assert sandbox.read_background(bad).running is False
    assert sandbox.kill_background(bad) is False


# ---------------------------------------------------------------- item 5

def test_kill_all_background_releases_them(sandbox):
    done = sandbox.execute_background("true").shell_id
    wait_for(lambda: not sandbox.read_background(done).running, "the short process exits")
    ids = [sandbox.execute_background("sleep 600").shell_id for _ in range(3)]
    assert sandbox.kill_all_background() is None
    listed = {i.shell_id for i in sandbox.list_background()}
    assert listed.isdisjoint(ids + [done])
    for i in ids:
        out = sandbox.read_background(i)
        assert out.stderr == f"No such background shell: {i}" and out.running is False
        assert sandbox.kill_background(i) is False
    # killed for real: sbxd's own record says so the moment the call returns
    states = {p.process_id: p.state for p in sandbox.client.list_processes(sandbox.id).processes}
    assert all(states[i] != pb.PROCESS_STATE_RUNNING for i in ids)
    new = sandbox.execute_background("sleep 600").shell_id   # later ones are listed again
    assert [i.shell_id for i in sandbox.list_background()] == [new]
    assert sandbox.kill_background(new) is True


def test_kill_reports_done_when_the_process_is_gone(sandbox):
    """A kill returns only after sbxd saw the process exit, so a second kill
    right after is False — under load too (the flaky test used a 2 s wait)."""
    # a tree that takes its time to die: the shell ignores TERM, children sleep
    h = sandbox.execute_background("trap '' TERM; for i in 1 2 3 4; do sleep 600 & done; wait")
    wait_for(lambda: "sleep 600" in sandbox.execute("ps -eo args 2>/dev/null || "
                                                    "cat /proc/[0-9]*/cmdline").output,
             "the children run")
    assert sandbox.kill_background(h.shell_id) is True
    info = {p.process_id: p for p in sandbox.client.list_processes(sandbox.id).processes}
    assert info[h.shell_id].state != pb.PROCESS_STATE_RUNNING
    assert sandbox.kill_background(h.shell_id) is False
    assert sandbox.read_background(h.shell_id).running is False


# ---------------------------------------------------------------- item 10

async def reap(m: SbxSessionManager, want: int) -> int:
    """cleanup_idle(max_idle=0) until `want` sessions were stopped in all."""
    total, end = 0, time.monotonic() + WAIT_S
    while total < want:
        assert time.monotonic() < end, f"only {total} of {want} sessions ever went idle"
        total += await m.cleanup_idle(max_idle=0)
        await asyncio.sleep(0.05)
    return total


def test_cleanup_idle_only_stops_this_managers_sessions(sbxd, client):
    async def main():
        a = manager(sbxd, namespace="app-a")
        b = manager(sbxd, namespace="app-b")
        ua, ub = new_user(), new_user()
        sa, sb = await a.get_or_create(ua), await b.get_or_create(ub)
        labels = {(l.key, l.value) for l in client.get_session(sa.id).session.labels}
        assert ("sbx.manager", "app-a") in labels
        # a session nobody's manager holds, same label as a's: not a's either
        stray = client.create_session(new_user(), labels={"sbx.manager": "app-a"})
        plain = client.create_session(new_user())
        for s in (sa, sb):
            assert s.execute("true").exit_code == 0
        released = []
        a._on_release = released.append
        # sbxd does not count a session idle while a call of it is still in
        # flight on its side (just after the reply, under load): reap until
        # the one session of a's is stopped; the bound is only a safety net
        assert await reap(a, 1) == 1
        assert released == [ua] and ua not in a and len(a) == 0
        assert state(client, sa.id) == pb.SESSION_STATE_STOPPED
        for other in (sb.id, stray.session.session_id, plain.session.session_id):
            assert state(client, other) != pb.SESSION_STATE_STOPPED, other
        assert ub in b and sb.execute("echo alive").output == "alive\n"
        assert await reap(b, 1) == 1
        assert state(client, plain.session.session_id) != pb.SESSION_STATE_STOPPED
        assert await a.cleanup_idle(max_idle=0) == 0      # nothing of a's left
        # a's stopped session comes back, files intact, on its next get_or_create
        sa2 = await a.get_or_create(ua)
        assert sa2.execute("echo back").output == "back\n"
        for m in (a, b):
            await m.shutdown()
        for r in (stray, plain):
            client.end_session(r.session.session_id, purge=True)
    asyncio.run(main())


class _SlowDeath:
    """A client through which a kill takes effect only after WaitProcess has
    once timed out, as on a machine too busy to reap at once: the adapter must
    wait for the exit itself, not for a fixed time."""

    def __init__(self, client: Client) -> None:
        self._c = client
        self._pending: list[tuple] = []
        self.waits = 0

    def __getattr__(self, name):
        return getattr(self._c, name)

    def signal_process(self, sid, pid="", **kw):
        self._pending.append((sid, pid, kw))
        return pb.SignalProcessResponse(signalled=1)

    def wait_process(self, sid, pid, **kw):
        self.waits += 1
        if self.waits == 1:     # the first slice passes with the process still there
            return pb.WaitProcessResponse(
                process=pb.ProcessInfo(process_id=pid, state=pb.PROCESS_STATE_RUNNING),
                timed_out=True)
        for s, p, k in self._pending:
            self._c.signal_process(s, p, **k)
        self._pending.clear()
        return self._c.wait_process(sid, pid, **kw)


def test_kill_waits_for_the_exit_not_for_a_while(client, sid):
    slow = _SlowDeath(client)
    sb = SbxSandbox(slow, sid)
    h = sb.execute_background("sleep 600")
    assert sb.kill_background(h.shell_id) is True
    assert slow.waits >= 2
    assert sb.kill_background(h.shell_id) is False
