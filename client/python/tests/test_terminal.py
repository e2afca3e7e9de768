"""test_terminal.py — `AsyncClient.terminal`: an interactive pty in the sandbox.

Against a real sbxd and container: the async terminal object writes
keystrokes, yields what the shell shows, resizes (seen by `stty size`),
detaches and attaches again with the screen replayed, ends with the
command's exit code, and a closed terminal refuses input clearly.
"""

from __future__ import annotations

import asyncio

import pytest

from sbx import AsyncClient, FailedPrecondition, InvalidArgument


async def read_until(t, needle: bytes, got: bytearray) -> bytearray:
    async for chunk in t:
        got += chunk
        if needle in got:
            return got
    return got


def test_terminal_write_resize_iterate_close(sbxd, sid):
    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            async with ac.terminal(sid, cols=90, rows=20) as t:
                got = bytearray()
                await t.write("stty size; echo py-$((6*7))\r")
                await asyncio.wait_for(read_until(t, b"py-42", got), 120)
                assert b"20 90" in got
                await t.resize(101, 33)
                await t.write(b"stty size; echo rs-$((6*7))\r")
                await asyncio.wait_for(read_until(t, b"rs-42", got), 120)
                assert b"33 101" in got
                tid = t.terminal_id
            assert t.exit_code == 137                  # closed: killed
            with pytest.raises(FailedPrecondition):
                await ac.terminal_input(sid, tid, b"x")
    asyncio.run(main())


def test_terminal_detach_attach_and_exit_code(sbxd, sid):
    async def main():
        async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as ac:
            t = await ac.terminal(sid).open()
            got = bytearray()
            await t.write("echo before-$((1+1))\r")
            await asyncio.wait_for(read_until(t, b"before-2", got), 120)
            await t.detach()
            async with ac.terminal(sid, terminal_id=t.terminal_id) as again:
                seen = bytearray()
                await asyncio.wait_for(read_until(again, b"before-2", seen), 120)
                await again.write("exit 4\r")
                async for chunk in again:
                    seen += chunk
                assert again.exit_code == 4
            with pytest.raises(InvalidArgument):
                await ac.open_terminal(sid, cols=0, rows=0)
    asyncio.run(main())
