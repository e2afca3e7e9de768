"""terminals.py — which pages hold which terminal, and closing a terminal
that no page holds any more.

A page's WebSocket holds the terminal it opened or reattached to (live.py).
When the last connection holding a terminal goes away, the terminal is closed
(sbx's CloseTerminal: its processes are killed) after `grace_s` seconds,
unless a page reattaches first — so a reload, or a dropped connection that
comes back, keeps its shell, and a closed page does not leave one running. A
terminal that ended by itself (its shell exited) is forgotten. When the app
stops, every terminal it still tracks is closed at once.

State is in memory, on the event loop's thread only.
"""

from __future__ import annotations

import asyncio
import logging

from sbx import SbxError

log = logging.getLogger("sbxweb.terminals")

CLOSE_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0

Key = tuple[str, str]          # (session id, terminal id)


class Terminals:
    def __init__(self, client, grace_s: float) -> None:
        self._client = client
        self.grace_s = max(0.0, grace_s)
        self._holders: dict[Key, int] = {}
        self._pending: dict[Key, asyncio.Task] = {}      # closes waiting out the grace
        self._closing: set[Key] = set()                  # CloseTerminal in flight

    def closing(self, sid: str, tid: str) -> bool:
        """True when `tid` is being closed (a page must open a new one)."""
        return (sid, tid) in self._closing

    def hold(self, sid: str, tid: str) -> None:
        """One more connection holds `tid`; a close waiting out its grace is called off."""
        key = (sid, tid)
        self._holders[key] = self._holders.get(key, 0) + 1
        t = self._pending.pop(key, None)
        if t is not None:
            t.cancel()

    def release(self, sid: str, tid: str) -> None:
        """A connection holding `tid` went away; the last one schedules its close."""
        key = (sid, tid)
        n = self._holders.get(key)
        if n is None:
            return                                        # ended, or never held
        if n > 1:
            self._holders[key] = n - 1
            return
        del self._holders[key]
        self._pending[key] = asyncio.create_task(self._close_later(key))

    def ended(self, sid: str, tid: str) -> None:
        """`tid` ended by itself: nothing to close."""
        key = (sid, tid)
        self._holders.pop(key, None)
        t = self._pending.pop(key, None)
        if t is not None:
            t.cancel()

    async def _close_later(self, key: Key) -> None:
        await asyncio.sleep(self.grace_s)
        if self._pending.get(key) is not asyncio.current_task():
            return
        del self._pending[key]
        await self._close(key)

    async def _close(self, key: Key, timeout: float = CLOSE_TIMEOUT_S) -> None:
        sid, tid = key
        self._closing.add(key)
        try:
            await self._client.close_terminal(sid, tid, timeout=timeout)
            log.info("terminal %s of %s closed: no page holds it", tid, sid)
        except SbxError as e:                             # ended already, session gone, sbxd down
            log.info("terminal %s of %s: close: %s", tid, sid, e.message)
        finally:
            self._closing.discard(key)

    async def close_all(self) -> None:
        """Closes every tracked terminal now (the app is stopping)."""
        keys = set(self._holders) | set(self._pending)
        for t in self._pending.values():
            t.cancel()
        self._pending.clear()
        self._holders.clear()
        await asyncio.gather(*(self._close(k, SHUTDOWN_TIMEOUT_S) for k in keys))
