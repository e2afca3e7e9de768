"""test_terminals.py — a terminal's lifetime follows its pages (terminals.py):
it lives while a page's WebSocket holds it, a page that comes back within the
grace (a reload) reattaches to the same shell, and when no page holds it any
more it is closed. Against the real app (terminal_grace_s = 3 in conftest)
and the real sbxd, whose ListTerminals (service key) is the judge.
"""

from __future__ import annotations

import asyncio
import json
import time

from conftest import TERMINAL_GRACE_S
from test_api import _until, _ws, new_session


def running(sbxd, sid: str, tid: str) -> bool:
    with sbxd.client(timeout=30.0) as c:
        return any(t.terminal_id == tid and t.running for t in c.list_terminals(sid).terminals)


async def wait_closed(sbxd, sid: str, tid: str, bound: float = 60.0) -> float:
    """Seconds until `tid` is no longer running (fails after `bound`)."""
    start = time.monotonic()
    while await asyncio.to_thread(running, sbxd, sid, tid):
        assert time.monotonic() - start < bound, f"terminal {tid} still running after {bound} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - start


async def attach(web, client, sid: str, tid: str = ""):
    conn = await _ws(web, client, sid)
    await conn.send(json.dumps({"t": "term_open", "id": tid, "cols": 80, "rows": 24}))
    got = (await _until(conn, lambda m: m["t"] == "term_open"))["id"]
    return conn, got


async def typed(conn, tid: str, line: str, expect: str, timeout: float = 60.0) -> None:
    """Types `line` into terminal `tid`; returns once its output holds `expect`
    (fails if the terminal ends first)."""
    await conn.send(json.dumps({"t": "term_in", "id": tid, "data": line + "\r"}))
    seen = ""
    async with asyncio.timeout(timeout):
        while expect not in seen:
            m = json.loads(await conn.recv())
            assert not (m["t"] == "term_end" and m["id"] == tid), \
                f"terminal ended waiting for {expect!r}: {m}"
            if m["t"] == "term" and m["id"] == tid:
                seen = seen[-200:] + m["data"]


def test_a_terminal_lives_while_a_page_holds_it_and_closes_after(web, sbxd):
    alice = web.login("alice")
    sid = new_session(alice, title="terminals")

    async def go():
        a, tid = await attach(web, alice, sid)
        await typed(a, tid, "export MARK=kept-$((6*7))", "kept-$((6*7))")
        b, same = await attach(web, alice, sid, tid)        # a second page of alice's
        assert same == tid
        await a.close()
        # b still holds it: the shell outlives the grace after a's close
        await typed(b, tid, f"sleep {TERMINAL_GRACE_S + 2}; echo $MARK-survived",
                    "kept-42-survived")
        # a reload: the page goes and comes back within the grace, to the same shell
        await b.close()
        c, again = await attach(web, alice, sid, tid)
        assert again == tid
        await typed(c, tid, "echo $MARK-again", "kept-42-again")
        assert await asyncio.to_thread(running, sbxd, sid, tid)
        await c.close()
        # no page holds it: closed after the grace
        took = await wait_closed(sbxd, sid, tid)
        # a page asking for it now gets a new terminal
        d, fresh = await attach(web, alice, sid, tid)
        assert fresh != tid
        await d.close()
        return took

    took = asyncio.run(go())
    print(f"\nterminal closed {took:.1f} s after its last page (grace {TERMINAL_GRACE_S} s)")
    alice.close()


def test_a_terminal_that_exits_is_forgotten_and_a_new_one_opens(web, sbxd):
    alice = web.login("alice")
    sid = new_session(alice, title="terminal exits")

    async def go():
        a, tid = await attach(web, alice, sid)
        await a.send(json.dumps({"t": "term_in", "id": tid, "data": "exit\r"}))
        await _until(a, lambda m: m["t"] == "term_end" and m["id"] == tid)
        await a.send(json.dumps({"t": "term_open", "id": tid, "cols": 80, "rows": 24}))
        fresh = (await _until(a, lambda m: m["t"] == "term_open"))["id"]
        assert fresh != tid
        await a.close()
        await wait_closed(sbxd, sid, fresh)

    asyncio.run(go())
    alice.close()
