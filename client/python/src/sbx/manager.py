"""manager.py — `SbxSessionManager`, pydantic-ai-backend's SessionManager over sbx.

The same shape as the library's `SessionManager` (`await get_or_create(id,
runtime=None)`, `await release(id)`, `await cleanup_idle(max_idle=None)`,
`await shutdown()`, `sessions`, `session_count`, `len()`, `in`), so a web app
swaps one import; the sandboxes it hands out are `SbxSandbox`es on sbx
sessions (one per user id, `{workspace_root}/{id}/workspace` on the sbx host,
mounted at /workspace). Differences, because sbx runs the sessions:
- get_or_create is one GetOrCreateSession: one sandbox per id even across
  processes; a dead one (ended, failed) is replaced, a stopped one is woken.
- release ends the session (container removed, workspace kept).
- cleanup_idle asks sbxd to stop idle sessions (CleanupIdle) and returns how
  many it stopped; they stay in `sessions`, since sbx wakes a stopped session
  with its files intact on its next request.
- max_sessions is enforced here as in the library; sbxd has its own limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pydantic_ai_backends.backends.docker.session import SessionLimitExceeded

from .client import Client
from .sandbox import SbxSandbox

_log = logging.getLogger(__name__)


class SbxSessionManager:
    """Creates, reuses and releases one `SbxSandbox` per session (user) id."""

    def __init__(self, endpoint: str | None = None, *, service_key: str | None = None,
                 default_runtime: Any = None, default_idle_timeout: int = 3600,
                 max_sessions: int | None = None, client: Client | None = None) -> None:
        self._owns = client is None
        self._c = client or Client(endpoint, service_key=service_key)
        self._default_runtime = default_runtime
        self._idle_ms = int(default_idle_timeout * 1000)
        self._max = max_sessions
        self._sessions: dict[str, SbxSandbox] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def client(self) -> Client:
        return self._c

    @property
    def sessions(self) -> dict[str, SbxSandbox]:
        """Copy of the active sessions."""
        return dict(self._sessions)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    @staticmethod
    def _runtime_name(runtime: Any) -> str:
        if runtime is None:
            return ""
        return runtime if isinstance(runtime, str) else getattr(runtime, "name", str(runtime))

    async def get_or_create(self, session_id: str, runtime: Any = None) -> SbxSandbox:
        """The live sandbox of `session_id` (a user id), created when needed.

        Raises:
            SessionLimitExceeded: `max_sessions` reached and the id is new.
            SbxError: sbxd refused (e.g. RESOURCE_EXHAUSTED when full).
        """
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            existing = self._sessions.get(session_id)
            if existing is not None:
                if await asyncio.to_thread(existing.is_alive):
                    return existing
                self._sessions.pop(session_id, None)
            if self._max is not None and len(self._sessions) >= self._max:
                raise SessionLimitExceeded(self._max)
            name = self._runtime_name(runtime or self._default_runtime)
            r = await asyncio.to_thread(self._c.get_or_create_session, session_id,
                                        runtime=name, idle_timeout_ms=self._idle_ms)
            sandbox = SbxSandbox(self._c, r.session.session_id, user_id=session_id,
                                 session_token=r.session_token)
            self._sessions[session_id] = sandbox
            return sandbox

    async def release(self, session_id: str) -> bool:
        """Ends the session (workspace kept). Returns whether it existed here."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            sandbox = self._sessions.pop(session_id, None)
            if sandbox is None:
                return False
            await asyncio.to_thread(sandbox.stop)
        self._locks.pop(session_id, None)
        return True

    async def cleanup_idle(self, max_idle: int | None = None) -> int:
        """Asks sbxd to stop sessions idle for `max_idle` seconds (None: each
        session's own idle timeout); returns how many it stopped."""
        ms = 0 if max_idle is None else max(1, int(max_idle * 1000))
        r = await asyncio.to_thread(self._c.cleanup_idle, max_idle_ms=ms)
        return len(r.stopped_session_ids)

    async def shutdown(self) -> int:
        """Ends every session of this manager; returns how many."""
        ids = list(self._sessions)
        outcomes = await asyncio.gather(*(self.release(i) for i in ids), return_exceptions=True)
        for sid, out in zip(ids, outcomes):
            if isinstance(out, BaseException):
                _log.warning("Session %s did not end cleanly during shutdown: %s", sid, out)
        if self._owns:
            with contextlib.suppress(Exception):
                self._c.close()
        return len(ids)
