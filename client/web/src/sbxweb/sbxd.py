"""sbxd.py — the app's side of sbxd: one service-key client, workspace paths
checked before they reach it, and sbx errors turned into HTTP answers.

The service key stays in this process; the browser never receives it, a
session token or a log key. Every route checks that the sandbox belongs to
the signed-in user (db.sandbox_of) before it calls anything here.
"""

from __future__ import annotations

from fastapi import HTTPException

from sbx import (AlreadyExists, AsyncClient, DeadlineExceeded, FailedPrecondition,
                 InvalidArgument, NotFound, OutOfRange, PermissionDenied, SbxError,
                 Unauthenticated, Unavailable)

MAX_PATH = 1024
MAX_LISTED = 5000
WORKSPACE = "/workspace"


def sbx_user(prefix: str, name: str) -> str:
    """The sbx user id of an app user (sbx keeps one workspace per user id, so
    all of a user's sandboxes share their files)."""
    return prefix + name


def clean_path(p: str | None) -> str:
    """A path inside the workspace, relative ("" = the workspace itself).
    Refuses `..`, NUL and over-long paths with 400 (sbxd confines paths too;
    this answers clearly before asking it)."""
    p = p or ""
    if len(p) > MAX_PATH or "\0" in p:
        raise HTTPException(400, f"a path has at most {MAX_PATH} characters and no NUL")
    if p.startswith(WORKSPACE + "/") or p == WORKSPACE:
        p = p[len(WORKSPACE):]
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if ".." in parts:
        raise HTTPException(400, "paths are inside the workspace: '..' is not allowed")
    return "/".join(parts)


def abs_path(rel: str) -> str:
    return WORKSPACE + ("/" + rel if rel else "")


def http_error(e: SbxError) -> HTTPException:
    """The HTTP answer for an sbx failure (its message says what happened)."""
    if isinstance(e, (Unavailable, DeadlineExceeded)):
        return HTTPException(503, "sbxd is not answering right now; try again in a moment")
    if isinstance(e, NotFound):
        return HTTPException(404, e.message)
    if isinstance(e, (PermissionDenied, Unauthenticated)):
        return HTTPException(403, e.message)
    if isinstance(e, (InvalidArgument, OutOfRange)):
        return HTTPException(400, e.message)
    if isinstance(e, (FailedPrecondition, AlreadyExists)):
        return HTTPException(409, e.message)
    return HTTPException(502, f"sbxd: {e.message}")


class Sbxd:
    """The service-key client; made once at start-up (no I/O until first use)."""

    def __init__(self, endpoint: str, service_key: str) -> None:
        self.endpoint = endpoint
        self.client = AsyncClient(endpoint, service_key=service_key, timeout=30.0,
                                  connect_timeout=2.0)

    async def close(self) -> None:
        await self.client.close()

    async def sessions(self, **filters) -> list:
        """Every session ListSessions gives for `filters`, all pages (at most
        MAX_LISTED, a bound on what one page of the app shows)."""
        out, token = [], ""
        while len(out) < MAX_LISTED:
            r = await self.client.list_sessions(page_token=token, **filters)
            out.extend(r.sessions)
            token = r.next_page_token
            if not token:
                break
        return out[:MAX_LISTED]

    async def renewed_token(self, sid: str, token: str) -> str | None:
        """None while `token` still reaches session `sid`; when sbxd refuses
        it (rotated or revoked from outside, e.g. `sbx session rotate-token`),
        a new token minted with the service key (RotateToken), which revokes
        any other. Other failures raise SbxError."""
        probe = AsyncClient(self.endpoint, session_token=token, timeout=10.0, connect_timeout=2.0)
        try:
            await probe.get_session(sid)
            return None
        except Unauthenticated:
            pass
        finally:
            await probe.close()
        return (await self.client.rotate_token(sid)).session_token

    async def call(self, coro):
        """Awaits an sbx call; failures become HTTPException."""
        try:
            return await coro
        except SbxError as e:
            raise http_error(e) from e
