"""manager.py — `SbxSessionManager`, pydantic-ai-backend's SessionManager over sbx.

The same shape as the library's `SessionManager` (0.2.29: `await
get_or_create(id, runtime=None)`, `await release(id)`, `await
cleanup_idle(max_idle=None)`, `start_cleanup_loop(interval=300)`,
`stop_cleanup_loop()`, `await shutdown()`, `sessions`, `session_count`,
`len()`, `in`), plus the older synchronous `create_session(user_id=None)`,
`get_session(id)` and `end_session(id)` of the library's multi-user example,
so a web app swaps one import; the sandboxes it hands out are `SbxSandbox`es
on sbx sessions, one per session id (used as the sbx user id). Differences,
because sbx runs the sessions:
- get_or_create is one GetOrCreateSession: one sandbox per id even across
  processes; a dead one (ended, failed) is replaced, a stopped one is woken.
- release ends the session (container removed, workspace kept).
- cleanup_idle asks sbxd to stop idle sessions (CleanupIdle), scoped to this
  manager's own sessions (see `namespace`); the stopped ones are released
  here as the library releases them (dropped from `sessions`, `on_release`
  called). sbx wakes a stopped session, files intact, on its next request.
- max_sessions is enforced here as in the library; sbxd has its own limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic_ai_backends.backends.docker.session import (DEFAULT_CLEANUP_INTERVAL,
                                                          SessionLimitExceeded)

from .client import Client
from .sandbox import SbxSandbox

_log = logging.getLogger(__name__)

MANAGER_LABEL = "sbx.manager"
DEFAULT_NAMESPACE = "default"
CLEANUP_USERS_MAX = 1000        # user_ids sbxd takes in one CleanupIdle


class SbxSessionManager:
    """Creates, reuses and releases one `SbxSandbox` per session (user) id.

    Args:
        endpoint, service_key, client: how to reach sbxd (a `Client` given
            here is shared and left open by `shutdown`).
        default_runtime: sbx runtime (a name, or a `RuntimeConfig` whose
            `name` is used) for new sessions; None is sbxd's default.
        default_idle_timeout: seconds; each new session's idle timeout in
            sbxd, and the `idle_timeout` of its sandbox.
        workspace_root: accepted for compatibility. sbx keeps each user's
            workspace on the sbx host, under the `workspace_root` of sbxd's
            own configuration (`{root}/{user}/workspace`, mounted at
            /workspace), so this value is recorded (`workspace_root`) and not
            used: the directory may not even exist where this process runs.
        image: accepted for compatibility; sbx runs the image of the session's
            runtime, so name a runtime (`default_runtime`) instead.
        auto_remove: accepted for compatibility; sbx always removes a
            session's container when the session stops or ends, and always
            keeps its workspace unless a sandbox is stopped with purge=True.
        max_sessions: ceiling on this manager's open sessions; get_or_create
            raises SessionLimitExceeded beyond it, as the library does.
        on_release: called with a session id just after its session is
            released, by `release` (so `end_session` and `shutdown`) and by
            `cleanup_idle` for each session it stopped — outside the session's
            lock, as the library calls it; what it raises ends that call.
        executor: thread pool for the blocking calls, as in the library
            (None: asyncio's default pool).
        namespace: this manager's name in sbxd. Every session it creates is
            labelled `sbx.manager=<namespace>`, and `cleanup_idle` asks sbxd
            to stop only sessions carrying that label *and* belonging to the
            users this manager holds, so one application's housekeeping
            never stops another's sessions on a shared sbxd. Default
            "default": stable across restarts, so a restarted application
            reaps the sessions it gets back from get_or_create; applications
            sharing one sbxd should each pass their own.
        egress_allow: hosts this manager's new sessions may reach through
            sbx's egress proxy ("pypi.org", "*.example.com", optionally
            ":PORT"); empty: network none (or the runtime's list). A live
            session get_or_create finds must already have this list, else it
            raises sbx's FailedPrecondition (change the list with the
            client's `set_egress`).
    """

    def __init__(self, endpoint: str | None = None, *, service_key: str | None = None,
                 default_runtime: Any = None, default_idle_timeout: int = 3600,
                 workspace_root: str | Path | None = None, max_sessions: int | None = None,
                 on_release: Callable[[str], None] | None = None, executor: Any = None,
                 image: str | None = None, auto_remove: bool = True,
                 namespace: str = DEFAULT_NAMESPACE, client: Client | None = None,
                 egress_allow: Sequence[str] = ()) -> None:
        self._owns = client is None
        self._c = client or Client(endpoint, service_key=service_key)
        self._default_runtime = default_runtime
        self._default_idle_timeout = default_idle_timeout
        self.workspace_root = Path(workspace_root) if workspace_root else None
        self.image = image
        self.auto_remove = auto_remove
        self._max = max_sessions
        self._on_release = on_release
        self.executor = executor
        self.namespace = namespace
        self.egress_allow = list(egress_allow)
        self._sessions: dict[str, SbxSandbox] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sync_lock = threading.Lock()
        self._cleanup_task: asyncio.Task[None] | None = None

    @property
    def client(self) -> Client:
        return self._c

    @property
    def sessions(self) -> dict[str, SbxSandbox]:
        """Copy of the active sessions."""
        return dict(self._sessions)

    @property
    def _sandboxes(self) -> dict[str, SbxSandbox]:
        """The live map, under the name the library's older example reads."""
        return self._sessions

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

    async def _run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        bound = functools.partial(call, *args, **kwargs)
        if self.executor is None:
            return await asyncio.to_thread(bound)
        return await asyncio.get_running_loop().run_in_executor(self.executor, bound)

    def _open(self, session_id: str, runtime: Any) -> SbxSandbox:
        """One GetOrCreateSession for `session_id`, labelled with the namespace."""
        rt = runtime or self._default_runtime
        r = self._c.get_or_create_session(
            session_id, runtime=self._runtime_name(rt),
            idle_timeout_ms=int(self._default_idle_timeout * 1000),
            labels={MANAGER_LABEL: self.namespace}, egress_allow=self.egress_allow)
        return SbxSandbox(self._c, r.session.session_id, user_id=session_id,
                          session_token=r.session_token,
                          runtime=rt if rt is not None else (r.session.runtime or None),
                          idle_timeout=self._default_idle_timeout)

    async def get_or_create(self, session_id: str, runtime: Any = None) -> SbxSandbox:
        """The live sandbox of `session_id` (a user id), created when needed;
        an existing one is touched (its idle clock restarts).

        Raises:
            SessionLimitExceeded: `max_sessions` reached and the id is new.
            SbxError: sbxd refused (e.g. RESOURCE_EXHAUSTED when full).
        """
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            existing = self._sessions.get(session_id)
            if existing is not None:
                if await self._run(existing.is_alive):
                    existing.touch()
                    return existing
                self._sessions.pop(session_id, None)
            if self._max is not None and len(self._sessions) >= self._max:
                raise SessionLimitExceeded(self._max)
            sandbox = await self._run(self._open, session_id, runtime)
            self._sessions[session_id] = sandbox
            return sandbox

    async def release(self, session_id: str) -> bool:
        """Ends the session (workspace kept); then calls `on_release`.
        Returns whether it existed here."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            sandbox = self._sessions.pop(session_id, None)
            if sandbox is None:
                return False
            await self._run(sandbox.stop)
        self._locks.pop(session_id, None)
        if self._on_release is not None:
            self._on_release(session_id)
        return True

    async def cleanup_idle(self, max_idle: int | None = None) -> int:
        """Asks sbxd to stop this manager's sessions idle for `max_idle`
        seconds (None: each session's own idle timeout), releases those it
        stopped (dropped from `sessions`, `on_release` called) and returns
        how many. Scoped by this manager's label and users: no other
        application's sessions, nor sessions this manager does not hold.
        sbxd never counts a session with a call in progress as idle."""
        users = sorted(self._sessions)
        if not users:
            return 0
        ms = 0 if max_idle is None else max(1, int(max_idle * 1000))
        stopped: set[str] = set()
        for i in range(0, len(users), CLEANUP_USERS_MAX):    # sbxd's ceiling per request
            r = await self._run(self._c.cleanup_idle, max_idle_ms=ms,
                                labels={MANAGER_LABEL: self.namespace},
                                user_ids=users[i:i + CLEANUP_USERS_MAX])
            stopped.update(r.stopped_session_ids)
        released = 0
        for key, sandbox in list(self._sessions.items()):
            if sandbox.id not in stopped:
                continue
            async with self._locks.setdefault(key, asyncio.Lock()):
                if self._sessions.get(key) is not sandbox:
                    continue
                self._sessions.pop(key)
            self._locks.pop(key, None)
            released += 1
            if self._on_release is not None:
                self._on_release(key)
        return released

    def start_cleanup_loop(self, interval: int = DEFAULT_CLEANUP_INTERVAL) -> None:
        """Runs `cleanup_idle()` every `interval` seconds on the running loop,
        surviving a failing pass (logged, retried next time), as the library
        does. A second call while one runs does nothing."""
        if self._cleanup_task is not None:
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.cleanup_idle()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _log.exception("Idle sandbox cleanup failed; retrying next interval")

        self._cleanup_task = asyncio.create_task(loop())

    def stop_cleanup_loop(self) -> None:
        """Stops the background cleanup loop."""
        if self._cleanup_task is not None:
            self._cleanup_task.cancel()
            self._cleanup_task = None

    async def shutdown(self) -> int:
        """Stops the cleanup loop and ends every session of this manager;
        returns how many."""
        self.stop_cleanup_loop()
        ids = list(self._sessions)
        outcomes = await asyncio.gather(*(self.release(i) for i in ids), return_exceptions=True)
        for sid, out in zip(ids, outcomes):
            if isinstance(out, BaseException):
                _log.warning("Session %s did not end cleanly during shutdown: %s", sid, out)
        if self._owns:
            with contextlib.suppress(Exception):
                self._c.close()
        return len(ids)

    # ------------------------------------------------ the older synchronous API

    def create_session(self, user_id: str | None = None) -> str:
        """Opens (or reuses) the session of `user_id` — a new random id when
        None — and returns its session id, the key for get_session and
        end_session (the user id itself). Blocking; raises
        SessionLimitExceeded past `max_sessions` and SbxError when sbxd
        refuses."""
        key = user_id or "s-" + secrets.token_hex(8)
        with self._sync_lock:
            existing = self._sessions.get(key)
            if existing is not None and existing.is_alive():
                existing.touch()
                return key
            self._sessions.pop(key, None)
            if self._max is not None and len(self._sessions) >= self._max:
                raise SessionLimitExceeded(self._max)
            self._sessions[key] = self._open(key, None)
        return key

    def get_session(self, session_id: str) -> SbxSandbox:
        """The sandbox of a session this manager holds (touched).

        Raises:
            ValueError: no such session here (the library's example answers 404).
        """
        sandbox = self._sessions.get(session_id)
        if sandbox is None:
            raise ValueError(f"Session {session_id} not found")
        sandbox.touch()
        return sandbox

    def end_session(self, session_id: str) -> None:
        """Ends the session (workspace kept) and calls `on_release`; an
        unknown id does nothing."""
        with self._sync_lock:
            sandbox = self._sessions.pop(session_id, None)
        if sandbox is None:
            return
        sandbox.stop()
        self._locks.pop(session_id, None)
        if self._on_release is not None:
            self._on_release(session_id)
