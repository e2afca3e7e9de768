"""terminal.py — an interactive terminal in the sandbox as an async object,
and a directory's changes (file watch) as an async iterator.

`Terminal` opens a pty through OpenTerminal (or attaches to an open one),
follows the session's log stream from the terminal's `after_seq` (the same
gap-free `LogSubscription` as `AsyncClient.logs`, so a terminal followed
again after a disconnect replays exactly what it missed), and yields the
bytes the terminal shows, in order, until it ends; `exit_code` is then set.
Any holder of the session's credential may attach and type; a read-only
viewer simply never calls `write`.

    async with client.terminal(sid, cols=120, rows=40) as t:
        await t.write(b"top\\r")
        async for chunk in t:          # bytes, until the terminal ends
            ...
        await t.resize(100, 30)
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from .logs import LogSubscription
from .v1 import sbx_pb2 as pb

_END = re.compile(rb"^terminal (?:exited with code (-?\d+)|ended)")


class Terminal:
    """See the module docstring. Use with `async with`, or call `open()` and
    `close()` / `detach()` yourself."""

    def __init__(self, client, session_id: str, *, argv: Iterable[str] = (), cols: int = 80,
                 rows: int = 24, env: Mapping[str, str] | None = None, cwd: str = "",
                 terminal_id: str | None = None) -> None:
        self._c = client
        self.session_id = session_id
        self._argv = list(argv)
        self._cols, self._rows = cols, rows
        self._env = env
        self._cwd = cwd
        self.terminal_id = terminal_id or ""
        self.info: pb.TerminalInfo | None = None
        self.exit_code: int | None = None
        self.last_seq = 0
        self._sub: LogSubscription | None = None

    async def open(self) -> "Terminal":
        if self.terminal_id:
            r = await self._c.list_terminals(self.session_id)
            found = [t for t in r.terminals if t.terminal_id == self.terminal_id]
            if not found:
                from .errors import NotFound
                raise NotFound(f"session {self.session_id} has no terminal "
                               f"{self.terminal_id}")
            self.info = found[0]
        else:
            r = await self._c.open_terminal(self.session_id, argv=self._argv, cols=self._cols,
                                            rows=self._rows, env=self._env, cwd=self._cwd)
            self.info = r.terminal
            self.terminal_id = r.terminal.terminal_id
        self.last_seq = self.info.after_seq
        self._sub = LogSubscription(self._c, self.session_id, after_seq=self.info.after_seq)
        await self._sub.__aenter__()
        return self

    async def __aenter__(self) -> "Terminal":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def write(self, data: str | bytes) -> None:
        """Sends keystrokes (at most 64 KiB per call; longer data is split)."""
        b = data.encode() if isinstance(data, str) else bytes(data)
        for i in range(0, max(len(b), 1), 64 << 10):
            await self._c.terminal_input(self.session_id, self.terminal_id, b[i:i + (64 << 10)])

    async def resize(self, cols: int, rows: int) -> None:
        await self._c.resize_terminal(self.session_id, self.terminal_id, cols, rows)

    def __aiter__(self) -> "Terminal":
        return self

    async def __anext__(self) -> bytes:
        if self._sub is None or self.exit_code is not None:
            raise StopAsyncIteration
        async for ev in self._sub:
            self.last_seq = ev.seq
            if ev.process_id != self.terminal_id:
                continue
            if ev.stream == pb.LOG_STREAM_TERMINAL:
                return ev.data
            m = _END.match(ev.data) if ev.stream == pb.LOG_STREAM_SYSTEM else None
            if m is not None:
                self.exit_code = int(m.group(1)) if m.group(1) is not None else 137
                raise StopAsyncIteration
        raise StopAsyncIteration

    async def detach(self) -> None:
        """Stops following; the terminal goes on (attach again with its id)."""
        if self._sub is not None:
            await self._sub.aclose()
            self._sub = None

    async def close(self) -> None:
        """Kills every process of the terminal and stops following."""
        try:
            if self.terminal_id and self.exit_code is None:
                r = await self._c.close_terminal(self.session_id, self.terminal_id)
                self.exit_code = r.terminal.exit_code
        finally:
            await self.detach()


class Changes:
    """`async with client.watch_changes(sid, path) as changes: async for ch in
    changes: ...` — each `ch` a `pb.WatchEvent` (kind, path, from, size,
    mtime_unix_ns, is_dir; paths are bytes). Ends when the watch does (its
    directory went); leaving the block ends the watch."""

    def __init__(self, client, session_id: str, path: str = "", *, recursive: bool = False,
                 globs: Iterable[str] = ()) -> None:
        self._c = client
        self.session_id = session_id
        self._path, self._recursive, self._globs = path, recursive, list(globs)
        self.watch_id = ""
        self._sub: LogSubscription | None = None
        self._ready: list = []
        self.ended = False

    async def __aenter__(self) -> "Changes":
        r = await self._c.watch(self.session_id, self._path, recursive=self._recursive,
                                globs=self._globs)
        self.watch_id = r.watch_id
        self._sub = LogSubscription(self._c, self.session_id, after_seq=r.after_seq)
        await self._sub.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if not self.ended:
                await self._c.unwatch(self.session_id, self.watch_id)
        finally:
            if self._sub is not None:
                await self._sub.aclose()

    def __aiter__(self) -> "Changes":
        return self

    async def __anext__(self) -> pb.WatchEvent:
        while not self._ready:
            if self._sub is None or self.ended:
                raise StopAsyncIteration
            async for ev in self._sub:
                if ev.process_id != self.watch_id:
                    continue
                if ev.stream == pb.LOG_STREAM_WATCH:
                    b = pb.WatchEventBatch()
                    b.ParseFromString(ev.data)
                    self._ready.extend(b.events)
                    break
                if ev.stream == pb.LOG_STREAM_SYSTEM:
                    self.ended = True
                    break
            else:
                raise StopAsyncIteration
        return self._ready.pop(0)
