"""client.py — `Client` (blocking) and `AsyncClient` (asyncio) for sbxd.

Both connect to an endpoint with a service key (reaches every session) or a
session token (reaches one) and expose every RPC of the protocol (see
`_api.Api`), plus small conveniences built on them: `upload`/`download` of
whole files in chunks. `AsyncClient` runs each call on the event loop over
the same transport (an nng operation whose completion callback wakes the
loop: no thread per call) and cancels the call's nng operation when the
awaiting task is cancelled; it adds `logs()`, the gap-free log subscription
as an async iterator.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from ._api import Api
from ._transport import DEFAULT_ENDPOINT, Transport, decode_payload


def _options(endpoint: str | None, service_key: str | None,
             session_token: str | None) -> tuple[str, str | None, str | None]:
    endpoint = endpoint or os.environ.get("SBX_ENDPOINT") or DEFAULT_ENDPOINT
    if service_key is None and session_token is None:
        service_key = os.environ.get("SBX_SERVICE_KEY")
        session_token = os.environ.get("SBX_SESSION_TOKEN")
    return endpoint, service_key, session_token


class Client(Api):
    """Blocking client; thread-safe. Use as a context manager or call `close()`.

    Args:
        endpoint: `tcp://HOST:PORT` (default `$SBX_ENDPOINT`, else tcp://127.0.0.1:7410).
        service_key / session_token: credentials (default `$SBX_SERVICE_KEY`,
            `$SBX_SESSION_TOKEN`).
        timeout: default deadline of a call in seconds (None = no deadline).
        connect_timeout: how long a call waits for a connection before it fails
            with `Unavailable`.
        tls_ca_file / tls_server_name: for tls+tcp:// endpoints, the CA that
            signed sbxd's certificate (PEM) and the name to check it against
            (default: the endpoint's host).
    """

    def __init__(self, endpoint: str | None = None, *, service_key: str | None = None,
                 session_token: str | None = None, timeout: float | None = 60.0,
                 connect_timeout: float = 5.0, max_reply_bytes: int = 64 << 20,
                 tls_ca_file: str | None = None, tls_server_name: str | None = None) -> None:
        endpoint, service_key, session_token = _options(endpoint, service_key, session_token)
        self.default_timeout = timeout
        self._t_ = Transport(endpoint, service_key=service_key, session_token=session_token,
                             connect_timeout=connect_timeout, max_reply_bytes=max_reply_bytes,
                             tls_ca_file=tls_ca_file, tls_server_name=tls_server_name)
        self.endpoint = endpoint

    def _invoke(self, method: str, request: Any, response_cls: type, timeout: float | None,
                request_id: str | None = None) -> Any:
        payload = self._t_.call(method, request.SerializeToString(), timeout,
                                request_id=request_id)
        return decode_payload(response_cls, payload, method, self.endpoint)

    def close(self) -> None:
        self._t_.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, session_id: str, path: str, data: bytes) -> int:
        """Writes `data` to `path` in chunks, checked by SHA-256; returns the size."""
        begin = self.upload_begin(session_id, path, len(data))
        step = begin.chunk_size or (1 << 20)
        for off in range(0, len(data), step):
            self.upload_chunk(session_id, begin.upload_id, off, data[off:off + step])
        return self.upload_finish(session_id, begin.upload_id,
                                  hashlib.sha256(data).digest()).size

    def download_all(self, session_id: str, path: str) -> bytes:
        """Reads a whole workspace file in chunks."""
        out = bytearray()
        while True:
            r = self.download(session_id, path, offset=len(out))
            out += r.data
            if r.eof or not r.data:
                return bytes(out)


class AsyncClient(Api):
    """asyncio client: the same methods as `Client`, each a coroutine.

    Calls run on the event loop itself: each is an nng operation whose
    completion callback wakes the loop, with no thread per call.
    `max_concurrency` bounds the calls in flight (others wait their turn).
    """

    def __init__(self, endpoint: str | None = None, *, service_key: str | None = None,
                 session_token: str | None = None, timeout: float | None = 60.0,
                 connect_timeout: float = 5.0, max_reply_bytes: int = 64 << 20,
                 tls_ca_file: str | None = None, tls_server_name: str | None = None,
                 max_concurrency: int = 64) -> None:
        endpoint, service_key, session_token = _options(endpoint, service_key, session_token)
        self.default_timeout = timeout
        self._t_ = Transport(endpoint, service_key=service_key, session_token=session_token,
                             connect_timeout=connect_timeout, max_reply_bytes=max_reply_bytes,
                             tls_ca_file=tls_ca_file, tls_server_name=tls_server_name)
        self._slots = asyncio.Semaphore(max_concurrency)
        self.endpoint = endpoint

    async def _invoke(self, method: str, request: Any, response_cls: type,
                      timeout: float | None, request_id: str | None = None) -> Any:
        payload = request.SerializeToString()
        async with self._slots:
            reply = await self._t_.acall(method, payload, timeout, request_id=request_id)
        return decode_payload(response_cls, reply, method, self.endpoint)

    async def close(self) -> None:
        self._t_.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def logs(self, session_id: str, *, after_seq: int | None = 0,
             poll_interval: float = 1.0):
        """Async iterator over the session's log events, in seq order, gap-free.

        `after_seq=0` starts with the oldest event still in the server's window,
        a number N with the event after N, None with the next new event. Use as
        `async with client.logs(sid) as events: async for ev in events: ...`.
        See `sbx.logs.LogSubscription`.
        """
        from .logs import LogSubscription
        return LogSubscription(self, session_id, after_seq=after_seq,
                               poll_interval=poll_interval)

    def terminal(self, session_id: str, *, argv=(), cols: int = 80, rows: int = 24,
                 env=None, cwd: str = "", terminal_id: str | None = None):
        """An interactive terminal as an async object (`sbx.terminal.Terminal`):
        `async with client.terminal(sid) as t: await t.write(b"ls\\r"); async for
        chunk in t: ...`. With `terminal_id`, attaches to one already open
        (its screen so far is replayed) instead of opening a new one."""
        from .terminal import Terminal
        return Terminal(self, session_id, argv=argv, cols=cols, rows=rows, env=env, cwd=cwd,
                        terminal_id=terminal_id)

    def watch_changes(self, session_id: str, path: str = "", *, recursive: bool = False,
                      globs=()):
        """A directory's changes as an async iterator of `pb.WatchEvent`
        (`sbx.terminal.Changes`): `async with client.watch_changes(sid, "src",
        recursive=True) as changes: async for ch in changes: ...`; leaving the
        block ends the watch. A `WATCH_RESCAN` event means changes were lost."""
        from .terminal import Changes
        return Changes(self, session_id, path, recursive=recursive, globs=globs)
