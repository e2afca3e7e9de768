"""test_logs.py — the log subscription: sealed events opened, in order, gap-free.

Against a real sbxd: the async iterator yields a session's events once each,
in seq order, with the commands' output; dropped pub messages are refilled
from ReadLogs; events that left a small window are counted in `lost`; a
key opens only its own session's events (sealing as server/logbus.c does it).
"""

from __future__ import annotations

import asyncio

import pynng
import pytest

from sbx import AsyncClient, Client, pb
from sbx import logs as logsmod

from .conftest import new_user
from .sbxd_proc import Sbxd


async def collect_until(events, pred, limit=500):
    got = []
    async for ev in events:
        got.append(ev)
        if pred(ev) or len(got) >= limit:
            return got
    return got


def exited(ev) -> bool:
    return ev.stream == pb.LOG_STREAM_SYSTEM and b"exited with code 0" in ev.data


def test_subscription_in_order_with_output(sbxd, sid):
    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            async with ac.logs(sid, after_seq=None) as events:
                await ac.execute(sid, "echo one; echo two >&2; echo three")
                got = await asyncio.wait_for(collect_until(events, exited), 120)
        seqs = [e.seq for e in got]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        out = b"".join(e.data for e in got if e.stream == pb.LOG_STREAM_STDOUT)
        err = b"".join(e.data for e in got if e.stream == pb.LOG_STREAM_STDERR)
        assert out == b"one\nthree\n" and err == b"two\n"
        assert any(e.stream == pb.LOG_STREAM_SYSTEM and e.data.startswith(b"started: ")
                   for e in got)
        assert all(e.lost == 0 for e in got)
    asyncio.run(main())


def test_history_from_the_window(sbxd, sid, client):
    client.execute(sid, "echo early")

    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            async with ac.logs(sid, after_seq=0) as events:
                return await asyncio.wait_for(collect_until(events, exited), 120)
    got = asyncio.run(main())
    assert got[0].seq == 1
    assert b"early\n" in b"".join(e.data for e in got)


def test_dropped_pub_messages_are_refilled(sbxd, sid, monkeypatch):
    """Every even-numbered published event is thrown away; with the window
    poll pushed out of the way, only gap filling (ReadLogs when a later seq
    arrives) can deliver them."""
    real = logsmod.open_sealed
    dropped = []

    def lossy(raw, topic, key):
        ev = real(raw, topic, key)
        if ev is not None and ev.seq % 2 == 0:
            dropped.append(ev.seq)
            return None
        return ev
    monkeypatch.setattr(logsmod, "open_sealed", lossy)

    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            async with ac.logs(sid, after_seq=None, poll_interval=30) as events:
                for i in range(5):
                    await ac.execute(sid, f"echo line{i}")
                await ac.execute(sid, "echo tail")      # later events after line4's
                got = await asyncio.wait_for(
                    collect_until(events, lambda e: e.data == b"line4\n"), 120)
                return got, events.refetched
    got, refetched = asyncio.run(main())
    assert dropped, "the test dropped nothing: it proves nothing"
    seqs = [e.seq for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert set(dropped) & set(seqs) and refetched > 0
    out = b"".join(e.data for e in got if e.stream == pb.LOG_STREAM_STDOUT)
    assert out == b"".join(f"line{i}\n".encode() for i in range(5))


def test_key_opens_only_its_own_session(sbxd, client, sid):
    other = client.create_session(new_user()).session.session_id
    try:
        mine = client.subscribe_logs(sid)
        theirs = client.subscribe_logs(other)
        assert len(mine.key) == 32 and mine.key != theirs.key
        with pynng.Sub0(recv_timeout=120_000) as raw:          # a safety net
            raw.subscribe(b"")                    # a raw SUB receives everything
            raw.dial(mine.endpoint, block=True)
            client.execute(other, "echo secret")
            msg = None
            for _ in range(50):
                m = raw.recv()
                if m.startswith(theirs.topic.encode() + b"\0"):
                    msg = m
                    break
        assert msg is not None and b"secret" not in msg          # sealed on the wire
        topic = theirs.topic.encode() + b"\0"
        assert logsmod.open_sealed(msg, topic, bytes(theirs.key)) is not None
        assert logsmod.open_sealed(msg, topic, bytes(mine.key)) is None
        assert logsmod.open_sealed(msg, mine.topic.encode() + b"\0", bytes(mine.key)) is None
    finally:
        client.end_session(other, purge=True)


def test_read_logs_rpc(client, sid):
    client.execute(sid, "echo hi")
    r = client.read_logs(sid, after_seq=0)
    assert r.events and r.events[0].seq == 1 and r.first_available_seq == 1 and r.lost == 0
    with pytest.raises(Exception, match="INVALID_ARGUMENT"):
        client.read_logs(sid, after_seq=r.events[-1].seq + 100)


@pytest.fixture
def small_window_sbxd(sbxd):
    d = Sbxd(sbxd.binary)
    with open(d.conf, "a") as f:
        f.write("log_ring_events = 16\npool_size = 0\n")
    d.start()
    yield d
    d.finish()


def test_lost_events_are_counted(small_window_sbxd):
    d = small_window_sbxd
    with Client(d.endpoint, service_key=d.key) as c:
        sid = c.create_session(new_user()).session.session_id
        for i in range(15):
            c.execute(sid, f"echo {i}")
        window = c.read_logs(sid, after_seq=0)
        assert window.lost > 0

        async def main():
            async with AsyncClient(d.endpoint, service_key=d.key) as ac:
                async with ac.logs(sid, after_seq=0) as events:
                    return await asyncio.wait_for(
                        collect_until(events, lambda e: b"14\n" == e.data), 120)
        got = asyncio.run(main())
        assert got[0].seq == window.first_available_seq
        assert got[0].lost == window.first_available_seq - 1
        assert all(e.lost == 0 for e in got[1:])
        c.end_session(sid, purge=True)


@pytest.mark.parametrize("poll,n_after", [(0.2, 1), (30.0, 6)])
def test_subscription_follows_a_restarted_sbxd(small_window_sbxd, poll, n_after):
    """Seqs start at 1 again after a restart, under a larger epoch. With a
    0.2 s poll the window notices; with no poll and more new events than the
    old count (so a new seq can equal the one expected next, as when the
    subscriber reconnects late), only the published events' epoch tells."""
    d = small_window_sbxd

    async def main():
        async with AsyncClient(d.endpoint, service_key=d.key) as ac:
            sid = (await ac.create_session(new_user())).session.session_id
            async with ac.logs(sid, after_seq=0, poll_interval=poll) as events:
                for i in range(4):
                    await ac.execute(sid, f"echo before{i}")
                exits = []
                before = await collect_until(
                    events, lambda e: exited(e) and exits.append(e) is None and len(exits) == 4)
                await asyncio.to_thread(d.restart)
                for i in range(n_after):
                    await ac.execute(sid, f"echo after{i}")
                last = f"after{n_after - 1}\n".encode()
                after = await collect_until(events, lambda e: e.data == last)
            await ac.end_session(sid, purge=True)
            return before, after
    before, after = asyncio.run(asyncio.wait_for(main(), 240))
    assert before[-1].seq > 8
    # the new sbxd's events from seq 1: delivered, or counted lost when they
    # left its 16-event window before the subscriber noticed the restart
    assert after[0].seq - after[0].lost == 1
    assert [e.seq for e in after] == list(range(after[0].seq, after[0].seq + len(after)))
    assert all(e.lost == 0 for e in after[1:])
