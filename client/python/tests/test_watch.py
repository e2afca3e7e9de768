"""test_watch.py — `AsyncClient.watch_changes`: a directory's changes as an async iterator.

Against a real sbxd and container: a created, modified, moved and deleted
file are each seen with their paths, sizes and times, and a missing
directory is NotFound.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from sbx import AsyncClient, NotFound, pb


async def until(changes, pred, got):
    async for ch in changes:
        got.append(ch)
        if pred(ch):
            return got
    return got


def test_watch_changes_sees_each_kind(sbxd, sid, client):
    client.execute(sid, "mkdir -p /workspace/pw")

    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            async with ac.watch_changes(sid, "pw") as changes:
                got = []
                await ac.execute(sid, "printf abc > /workspace/pw/a")
                await asyncio.wait_for(until(changes, lambda c: c.path == b"/workspace/pw/a"
                                             and c.size == 3, got), 120)
                # its time is the file's modification time, on the host's clock
                assert abs(got[-1].mtime_unix_ns - time.time_ns()) < 86400 * 10**9
                assert not got[-1].is_dir
                await ac.execute(sid, "mv /workspace/pw/a /workspace/pw/b")
                await asyncio.wait_for(until(changes, lambda c: c.kind == pb.WATCH_MOVED,
                                             got), 120)
                assert got[-1].path == b"/workspace/pw/b"
                assert getattr(got[-1], "from") == b"/workspace/pw/a"   # a Python keyword
                await ac.execute(sid, "rm /workspace/pw/b")
                await asyncio.wait_for(until(changes, lambda c: c.kind == pb.WATCH_DELETED,
                                             got), 120)
                assert got[-1].path == b"/workspace/pw/b"
            with pytest.raises(NotFound):
                async with ac.watch_changes(sid, "no-such-dir"):
                    pass
    asyncio.run(main())
