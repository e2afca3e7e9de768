"""live.py — the page's one WebSocket: the sandbox's log stream and its terminal.

The server subscribes to the session's sealed log stream (sbx.logs, with the
service key; the log key never leaves this process) from the sequence number
the page last saw (`?after=N`), so a page that reconnects gets exactly what it
missed. Events wait in a bounded queue per connection; when a page does not
keep up and the queue fills, the connection is closed (code 4008) and the page
reconnects from its last seq — nothing is held without bound and nothing is
skipped.

To the page (JSON): {"t":"log", seq, stream, pid, text}, {"t":"term", seq,
id, data}, {"t":"term_open", id}, {"t":"term_end", id}, {"t":"status", ok,
text}. From the page: {"t":"term_open", cols, rows, id?}, {"t":"term_in", id,
data}, {"t":"term_resize", id, cols, rows}. Terminal ids are checked against
this session by sbxd (terminals are per session). The connection holds the
terminal it opened or reattached to; when it ends, terminals.py closes that
terminal unless another page holds it or one reattaches within the grace.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import re

from fastapi import WebSocket, WebSocketDisconnect

from sbx import DeadlineExceeded, SbxError, Unavailable, pb

from .terminals import Terminals

# how sbxd says a terminal ended (as sbx.terminal reads it)
TERMINAL_END = re.compile(r"^terminal (?:exited with code -?\d+|ended)")

log = logging.getLogger("sbxweb.live")

CLOSE_SLOW = 4008
SLOW_S = 5.0
WATCH_S = 2.0
CANCEL_AGAIN_S = 1.0
MAX_IN = 64 << 10
STREAMS = {pb.LOG_STREAM_STDOUT: "stdout", pb.LOG_STREAM_STDERR: "stderr",
           pb.LOG_STREAM_SYSTEM: "system"}


class Overflow(Exception):
    pass


async def serve(ws: WebSocket, client, sid: str, after: int, queue_events: int,
                terminals: Terminals) -> None:
    """Runs one accepted connection until either side ends it."""
    q: asyncio.Queue = asyncio.Queue(queue_events)
    held: set[str] = set()                     # terminal ids this connection holds
    decoders: dict[str, codecs.IncrementalDecoder] = {}

    async def put(msg: dict) -> None:
        # a page that has not taken anything for SLOW_S while the queue is full is
        # too far behind: it reconnects and replays from its last seq
        try:
            await asyncio.wait_for(q.put(msg), SLOW_S)
        except TimeoutError:
            raise Overflow() from None

    async def follow() -> None:
        while True:
            try:
                async with client.logs(sid, after_seq=after, poll_interval=1.0) as events:
                    await put({"t": "status", "ok": True, "text": "live"})
                    async for ev in events:
                        await on_event(ev)
                return
            except Unavailable:
                await put({"t": "status", "ok": False,
                     "text": "sbxd is not answering; reconnecting…"})
                await asyncio.sleep(2.0)      # the next try; the page keeps its place
            except SbxError as e:
                await put({"t": "status", "ok": False, "text": f"log stream ended: {e.message}"})
                return

    async def on_event(ev) -> None:
        nonlocal after
        after = ev.seq
        if ev.stream == pb.LOG_STREAM_TERMINAL:
            d = decoders.setdefault(ev.process_id, codecs.getincrementaldecoder("utf-8")("replace"))
            await put({"t": "term", "seq": ev.seq, "id": ev.process_id, "data": d.decode(ev.data)})
        elif ev.stream in STREAMS:
            text = ev.data.decode("utf-8", "replace")
            if ev.stream == pb.LOG_STREAM_SYSTEM and TERMINAL_END.match(text):
                if ev.process_id in held:
                    held.discard(ev.process_id)
                    terminals.ended(sid, ev.process_id)
                await put({"t": "term_end", "seq": ev.seq, "id": ev.process_id, "text": text})
            await put({"t": "log", "seq": ev.seq, "stream": STREAMS[ev.stream],
                       "pid": ev.process_id, "text": text, "lost": ev.lost, "ms": ev.unix_ms})
        # watch events are not shown here

    async def watchdog() -> None:
        # the log stream itself waits quietly through an sbxd restart: ask
        # sbxd now and then, so the page can say it is down and when it is back
        down = False
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                await client.get_session(sid, timeout=WATCH_S)
                if down:
                    await put({"t": "status", "ok": True, "text": "live"})
                down = False
            except (Unavailable, DeadlineExceeded):
                if not down:
                    await put({"t": "status", "ok": False,
                               "text": "sbxd is not answering; waiting for it to come back…"})
                down = True
            except SbxError:
                pass

    async def send() -> None:
        while True:
            await ws.send_text(json.dumps(await q.get()))

    async def receive() -> None:
        while True:
            raw = await ws.receive_text()
            if len(raw) > MAX_IN:
                await put({"t": "status", "ok": False,
                           "text": "message too large (64 KiB at most)"})
                continue
            try:
                m = json.loads(raw)
                await on_message(m)
            except (ValueError, TypeError, KeyError):
                await put({"t": "status", "ok": False, "text": "malformed message ignored"})
            except SbxError as e:
                await put({"t": "status", "ok": False, "text": f"terminal: {e.message}"})

    async def on_message(m: dict) -> None:
        kind = m["t"]
        if kind == "term_open":
            cols, rows = _size(m)
            tid = str(m.get("id") or "")
            if tid and not terminals.closing(sid, tid):
                r = await client.list_terminals(sid)
                if any(t.terminal_id == tid and t.running for t in r.terminals):
                    hold(tid)
                    await put({"t": "term_open", "id": tid})
                    return
            opening = asyncio.ensure_future(client.open_terminal(sid, cols=cols, rows=rows))
            try:
                r = await asyncio.shield(opening)
            except asyncio.CancelledError:
                # the page went while sbxd opened it: nobody holds it, so it is closed
                opening.add_done_callback(lambda f: _orphan(terminals, sid, f))
                raise
            hold(r.terminal.terminal_id)
            await put({"t": "term_open", "id": r.terminal.terminal_id})
        elif kind == "term_in":
            await client.terminal_input(sid, str(m["id"]), str(m["data"]).encode())
        elif kind == "term_resize":
            cols, rows = _size(m)
            await client.resize_terminal(sid, str(m["id"]), cols, rows)

    def hold(tid: str) -> None:
        if tid not in held:
            held.add(tid)
            terminals.hold(sid, tid)

    tasks = [asyncio.create_task(f()) for f in (follow, send, receive, watchdog)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            exc = t.exception()
            if isinstance(exc, Overflow):
                await ws.close(CLOSE_SLOW, "too far behind: reconnect from your last seq")
            elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.warning("live connection for %s ended: %r", sid, exc)
    finally:
        await _cancel_all(tasks)
        for tid in held:
            terminals.release(sid, tid)


async def _cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancels `tasks` and waits for their end. Cancels again while any is
    left: Python 3.11's asyncio.wait_for (which the log subscription waits in)
    loses a cancellation that comes as its awaited result arrives, and the
    task would then follow the log for a page that is gone."""
    pending = set(tasks)
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_AGAIN_S)
    for t in tasks:
        if not t.cancelled():
            t.exception()                   # retrieved: ended as it was told to


def _orphan(terminals: Terminals, sid: str, opened: asyncio.Future) -> None:
    if not opened.cancelled() and opened.exception() is None:
        tid = opened.result().terminal.terminal_id
        terminals.hold(sid, tid)
        terminals.release(sid, tid)


def _size(m: dict) -> tuple[int, int]:
    cols, rows = int(m.get("cols", 80)), int(m.get("rows", 24))
    if not (10 <= cols <= 500 and 2 <= rows <= 300):
        raise ValueError("terminal size out of range")
    return cols, rows
