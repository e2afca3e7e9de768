"""test_client.py — the protocol client: every RPC, typed results, errors, deadlines.

Runs each SessionService and SandboxService RPC through `Client` (and a few
through `AsyncClient`) against the real sbxd: results are the generated
messages, failures the `SbxError` subclass of their status code with the
server's message, request ids are sent and checked, and deadlines turn into
DEADLINE_EXCEEDED rather than a wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import threading

import pytest

from sbx import (AsyncClient, Client, Code, DeadlineExceeded, FailedPrecondition,
                 InvalidArgument, NotFound, OutOfRange, PermissionDenied, SbxError,
                 Unauthenticated, Unimplemented, pb)

from .conftest import new_user, wait_until


def test_session_rpcs(client):
    user = new_user()
    created = client.create_session(user, labels={"app": "pytest"})
    assert isinstance(created, pb.CreateSessionResponse)
    s = created.session
    assert s.user_id == user and s.state == pb.SESSION_STATE_RUNNING and created.session_token
    assert client.get_session(s.session_id).session.session_id == s.session_id
    again = client.get_or_create_session(user)
    assert again.created is False and again.session.session_id == s.session_id
    listed = client.list_sessions(user_id=user)
    assert [x.session_id for x in listed.sessions] == [s.session_id]
    assert client.list_sessions(labels={"app": "pytest"}).sessions
    token2 = client.rotate_token(s.session_id).session_token
    assert token2 and token2 != created.session_token
    assert isinstance(client.cleanup_idle(max_idle_ms=3_600_000), pb.CleanupIdleResponse)
    ended = client.end_session(s.session_id, purge=True)
    assert ended.session.state == pb.SESSION_STATE_ENDED
    assert client.list_sessions(user_id=user).sessions == []
    assert [x.session_id for x in client.list_sessions(user_id=user, include_ended=True).sessions] \
        == [s.session_id]


def _gvisor_registered() -> bool:
    out = subprocess.run(["docker", "info", "--format", "{{json .Runtimes}}"],
                         capture_output=True, text=True)
    return out.returncode == 0 and '"runsc"' in out.stdout


def test_session_isolation(client):
    with pytest.raises(InvalidArgument):
        client.create_session(new_user(), isolation="kata")
    s = client.create_session(new_user()).session
    assert s.isolation == "runc"
    client.end_session(s.session_id, purge=True)
    if not _gvisor_registered():
        pytest.skip("the Docker engine has no runsc registered (deploy/gvisor.sh)")
    s = client.create_session(new_user(), isolation="gvisor").session
    try:
        assert s.isolation == "gvisor"
        assert client.get_session(s.session_id).session.isolation == "gvisor"
        r = client.execute(s.session_id, "dmesg | head -1; id -u")
        assert b"gVisor" in r.stdout and r.stdout.endswith(b"1000\n")
    finally:
        client.end_session(s.session_id, purge=True)


def test_runtimes(client):
    names = [r.name for r in client.list_runtimes().runtimes]
    assert "python-minimal" in names
    assert client.get_runtime("python-minimal").runtime.ready is True
    with pytest.raises(NotFound):
        client.get_runtime("no-such-runtime")


def test_create_runtime(client):
    r = client.create_runtime("py-test-rt", base_runtime="python-minimal",
                              env={"PY_TEST_RT": "1"})
    try:
        assert r.runtime.name == "py-test-rt" and r.runtime.ready is True
        assert r.runtime.image.startswith("sbx/custom-py-test-rt:")
        assert [(e.key, e.value) for e in r.runtime.env] == [("PY_TEST_RT", "1")]
        assert client.get_runtime("py-test-rt").runtime.image == r.runtime.image
        with pytest.raises(InvalidArgument):
            client.create_runtime("py-test-rt2", os_packages=["jq; id"])
    finally:
        subprocess.run(["docker", "rmi", "-f", r.runtime.image], capture_output=True)


def test_file_rpcs(client, sid):
    w = client.write(sid, "a/b.txt", b"one\ntwo\n")
    assert w.path == "/workspace/a/b.txt" and w.bytes_written == 8
    client.write(sid, "a/b.txt", b"three\n", append=True)
    r = client.read(sid, "a/b.txt", offset=1, limit=1)
    assert r.content == b"     2\ttwo\n\n... (1 more lines)" and r.total_lines == 3
    assert r.remaining_lines == 1
    rb = client.read_bytes(sid, "a/b.txt", offset=4, length=3)
    assert (rb.data, rb.file_size, rb.eof) == (b"two", 14, False)
    st = client.stat(sid, "a/b.txt")
    assert st.exists and st.info.size == 14 and not st.info.is_dir
    assert client.stat(sid, "nope").exists is False
    assert [e.name for e in client.ls(sid, "a").entries] == ["b.txt"]
    assert client.edit(sid, "a/b.txt", "two", "2").occurrences == 1
    client.mkdir(sid, "m/n", parents=True)
    client.move(sid, "a/b.txt", "m/n/c.txt")
    assert client.read_bytes(sid, "m/n/c.txt").data == b"one\n2\nthree\n"
    g = client.glob(sid, "**/*.txt")
    assert [f.path for f in g.files] == ["/workspace/m/n/c.txt"] and not g.truncated
    gr = client.grep(sid, "^t", mode=pb.GREP_MODE_CONTENT)
    assert [(m.path, m.line_number, m.line) for m in gr.matches] == [
        ("/workspace/m/n/c.txt", 3, b"three")]
    assert list(client.grep(sid, "e", mode=pb.GREP_MODE_FILES_WITH_MATCHES).files) == [
        "/workspace/m/n/c.txt"]
    assert client.grep(sid, "e", mode=pb.GREP_MODE_COUNT).counts[0].count == 2
    client.remove(sid, "m", recursive=True)
    assert client.stat(sid, "m").exists is False


def test_upload_download(client, sid):
    data = bytes(range(256)) * 9000       # ~2.3 MB: several chunks
    assert client.upload(sid, "big.bin", data) == len(data)
    assert client.download_all(sid, "big.bin") == data
    d = client.download(sid, "big.bin", length=10)
    assert d.data == data[:10] and d.total_size == len(data)
    begin = client.upload_begin(sid, "aborted.bin", 10)
    client.upload_abort(sid, begin.upload_id)
    with pytest.raises(SbxError):
        client.upload_finish(sid, begin.upload_id, hashlib.sha256(b"").digest())


def test_execute_rpc(client, sid):
    r = client.execute(sid, "echo $FOO; cat; pwd; echo e >&2", env={"FOO": "bar"},
                       stdin=b"in\n", cwd="/tmp")
    assert isinstance(r, pb.ExecuteResponse)
    assert r.stdout == b"bar\nin\n/tmp\n" and r.stderr == b"e\n" and r.exit_code == 0
    # the timeout is what is tested: generous enough for `echo` to have run first
    t = client.execute(sid, "echo partial; exec sleep 600", timeout_ms=10_000)
    assert t.timed_out and t.exit_code == 124 and t.stdout == b"partial\n"
    big = client.execute(sid, "head -c 5000 /dev/zero", max_output_bytes=1000)
    assert big.truncated and len(big.stdout) == 1000


def wait_exit(client, sid: str, process_id: str) -> pb.WaitProcessResponse:
    """WaitProcess until the process has exited (each call waits up to sbxd's
    own ceiling; the loop's bound is only a safety net)."""
    return wait_until(lambda: (lambda w: None if w.timed_out else w)(
        client.wait_process(sid, process_id, timeout_ms=30_000)), f"{process_id} exits", poll=0)


def test_process_rpcs(client, sid):
    p = client.start_process(sid, "read x; cat >/dev/null; echo got $x; exit 7").process
    assert p.state == pb.PROCESS_STATE_RUNNING and p.process_id
    client.send_stdin(sid, p.process_id, b"hello\n")
    client.close_stdin(sid, p.process_id)
    w = wait_exit(client, sid, p.process_id)
    assert w.process.state == pb.PROCESS_STATE_EXITED
    assert w.process.exit_code == 7
    assert client.read_process_output(sid, p.process_id).output == b"got hello\n"
    assert [x.process_id for x in client.list_processes(sid).processes] == [p.process_id]
    q = client.start_process(sid, "sleep 60").process
    assert client.signal_process(sid, q.process_id, signal=pb.SIGNAL_KILL).signalled == 1
    w = wait_exit(client, sid, q.process_id)
    assert w.process.state in (pb.PROCESS_STATE_KILLED, pb.PROCESS_STATE_EXITED)
    assert client.wait_process(sid, client.start_process(sid, "sleep 60").process.process_id,
                               timeout_ms=200).timed_out
    assert client.signal_process(sid, all=True, signal=pb.SIGNAL_KILL).signalled == 1


def test_error_codes_and_messages(client, sid):
    with pytest.raises(NotFound) as e:
        client.read(sid, "missing.txt")
    assert e.value.code == Code.NOT_FOUND
    assert e.value.message == "File '/workspace/missing.txt' not found"
    assert e.value.method == "sbx.v1.SandboxService/Read" and len(e.value.request_id) == 32
    client.write(sid, "f", "a\n")
    with pytest.raises(OutOfRange, match="exceeds file length"):
        client.read(sid, "f", offset=5)
    with pytest.raises(FailedPrecondition, match="is a directory"):
        client.read(sid, ".")
    with pytest.raises(InvalidArgument):
        client.create_session("../../etc")
    with pytest.raises(NotFound):
        client.get_session("s-00000000000000000000000000000000")
    assert isinstance(e.value, SbxError) and str(e.value).startswith("NOT_FOUND: ")


def test_session_token_reaches_only_its_session(sbxd, session, client):
    other = client.create_session(new_user())
    try:
        with Client(sbxd.endpoint, session_token=session.session_token) as tc:
            sid = session.session.session_id
            tc.write(sid, "t.txt", "mine")
            assert tc.read_bytes(sid, "t.txt").data == b"mine"
            with pytest.raises(PermissionDenied):
                tc.read_bytes(other.session.session_id, "t.txt")
            with pytest.raises((PermissionDenied, Unauthenticated)):
                tc.list_sessions()
    finally:
        client.end_session(other.session.session_id, purge=True)


def test_deadline_exceeded_never_waits_past_it(client, sid):
    with pytest.raises(DeadlineExceeded, match="deadline"):
        client.execute(sid, "sleep 600", timeout=1.0)


def test_request_id_is_echoed_and_checked(client, sid):
    r = client.execute(sid, "echo ok", request_id="my-request-id-1")
    assert r.stdout == b"ok\n"
    r = client.call("sbx.v1.SandboxService/Stat", pb.StatRequest(session_id=sid, path="."),
                    pb.StatResponse, request_id="my-request-id-2")
    assert r.exists and r.info.is_dir
    with pytest.raises(Unimplemented) as e:
        client.call("sbx.v1.SandboxService/NoSuchRpc", pb.StatRequest(), pb.StatResponse,
                    request_id="my-request-id-3")
    assert e.value.request_id == "my-request-id-3" and "NoSuchRpc" in e.value.message


def test_async_client(sbxd, sid):
    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            rs = await asyncio.gather(*(ac.execute(sid, f"echo {i}") for i in range(8)))
            assert [r.stdout for r in rs] == [f"{i}\n".encode() for i in range(8)]
            await ac.write(sid, "x.txt", "async")
            assert (await ac.read_bytes(sid, "x.txt")).data == b"async"
            with pytest.raises(NotFound):
                await ac.read(sid, "missing")
            task = asyncio.ensure_future(ac.execute(sid, "touch started; sleep 600"))
            while not (await ac.stat(sid, "started")).exists:   # the call is in flight
                assert not task.done()
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await ac.execute(sid, "echo after")).stdout == b"after\n"
    asyncio.run(main())


def test_async_calls_hold_no_thread(sbxd, sid):
    """24 commands in flight from one AsyncClient add no Python thread: each
    call is an nng operation whose completion wakes the loop."""
    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            await ac.execute(sid, "rm -f hold-*")
            before = threading.active_count()
            tasks = [asyncio.ensure_future(
                ac.execute(sid, f"touch hold-{i}; while [ ! -e hold-go ]; do sleep 0.05; done"))
                for i in range(24)]
            while len((await ac.glob(sid, "hold-*")).files) < 24:   # all in flight
                assert not any(t.done() for t in tasks)
                await asyncio.sleep(0.05)
            assert threading.active_count() == before
            await ac.write(sid, "hold-go", "")
            rs = await asyncio.gather(*tasks)
            assert all(r.exit_code == 0 for r in rs)
    asyncio.run(main())
