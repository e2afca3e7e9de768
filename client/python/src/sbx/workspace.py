"""workspace.py — sbx sessions as Pydantic AI workspaces (pydantic-ai 2.6x, pydantic-ai-backend 0.2.3x).

`SbxWorkspace` is a capability (like the library's `DockerWorkspace` and
`SandboxdWorkspace`): give it to an `Agent` beside `ConsoleCapability` (or the
harness's `Coder`/`Shell`/`FileSystem`) and each run works in an sbx session.
`SbxWorkspaceBackend` is the run's backend: it implements `WorkspaceBackend`,
`SupportsCommands`, `SupportsFilesystem` and `SupportsRealpath` on sbx's RPCs
through the asyncio client.

Lifecycle, as the workspace contract asks:
- building a backend does no I/O; its first operation opens the session
  (CreateSession, or GetOrCreateSession when the capability has a `user_id`:
  one session per user) or attaches to the one its `WorkspaceRef` names;
- the ref (`provider="sbx"`, `id=<session id>`) is recorded as soon as the
  session exists and never changes; concurrent first operations share one open;
- a run never ends the session: `SbxWorkspace.destroy(ref)` does (EndSession
  with purge).

Credentials: the service key stays in the capability (the application's
object). A backend — what tools reach as `ctx.workspace.backend` — is handed
only a one-shot opener until its first operation, then keeps the session's
token and a client holding that token alone: no attribute of it holds the key.
A capability made with `session_id` + `session_token` holds no key at all.

Errors are the library's: `FileNotFoundError`, `IsADirectoryError`,
`NotADirectoryError`, `FileExistsError`, `PermissionError`, `OSError` for path
failures; `ValueError`/`TypeError` for bad arguments; `WorkspaceTimeoutError`,
`WorkspaceOutputLimitError`; `WorkspaceUnavailableError` for a session that is
unknown, ended, not reachable with this token (another user's) or a closed
client; `SbxConnectionError` (a `ConnectionError`) when sbxd cannot be reached,
which is transient and left for a caller to retry.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import UserError
from pydantic_ai.workspaces import (CommandResult, FileEntry, SupportsCommands,
                                    SupportsFilesystem, SupportsRealpath, Workspace,
                                    WorkspaceBackend, WorkspaceCommand, WorkspaceError,
                                    WorkspaceOutputLimitError, WorkspaceRef,
                                    WorkspaceTimeoutError, WorkspaceUnavailableError)

from .client import AsyncClient
from .errors import (Aborted, AlreadyExists, Cancelled, DeadlineExceeded, FailedPrecondition,
                     InvalidArgument, NotFound, OutOfRange, PermissionDenied, SbxError,
                     Unauthenticated, Unavailable)
from .v1 import sbx_pb2 as pb

__all__ = ["SbxWorkspace", "SbxWorkspaceBackend", "SbxConnectionError", "SBX_PROVIDER"]

SBX_PROVIDER = "sbx"
"""Default `WorkspaceRef.provider` of an sbx workspace."""

WORK_DIR = "/workspace"
"""Where sbx starts commands and resolves relative paths (sbxd's Execute cwd default)."""

OUTPUT_LIMIT = 8 << 20
"""Per-stream output cap asked of sbxd (its ceiling); past it `run` raises WorkspaceOutputLimitError."""

READ_CHUNK = 4 << 20
"""Bytes per ReadBytes call of `read_bytes`."""

WRITE_ONE_CALL = 1 << 20
"""Files up to this size are written in one Write call; larger ones go through Upload*."""

STOP_GRACE_SECONDS = 10.0
"""Longest the kill of a cancelled command may hold up the cancellation."""

KILLED_RECHECK_SECONDS = 1.0
"""How long a command that died of a signal waits to learn whether its session was ended."""

RUN_ENV = "SBX_WORKSPACE_RUN"
"""Set on every command `run` starts, so a cancelled one can be found and killed."""

_KILL_SCRIPT = (
    'i=0; while [ "$i" -lt 15 ]; do found=; '
    'for p in /proc/[0-9]*; do '
    'if tr "\\000" "\\n" < "$p/environ" 2>/dev/null | grep -qx "$1"; then '
    'kill -KILL "${p#/proc/}" 2>/dev/null; found=1; fi; done; '
    '[ -n "$found" ] && exit 0; i=$((i+1)); sleep 0.2; done'
)
"""Kills every process whose environment carries `$1` (the cancelled command's RUN_ENV),
retrying briefly in case sbxd had not started it yet."""


class SbxConnectionError(ConnectionError):
    """sbxd did not answer (restarted, unreachable, or past the call's deadline).

    Transient: the session and its files survive a restart of sbxd. For a
    command, it may or may not have run.
    """


def _transport_error(e: SbxError, what: str) -> Exception | None:
    if isinstance(e, (Unavailable, DeadlineExceeded)):
        err = SbxConnectionError(f"sbx: {what}: sbxd did not answer ({e.message})")
        err.__cause__ = e
        return err
    if isinstance(e, Aborted) and e.message.startswith("sbxd is stopping"):
        # the command was killed by sbxd's shutdown: ABORTED, so not retried
        err = SbxConnectionError(f"sbx: {what}: {e.message}")
        err.__cause__ = e
        return err
    if isinstance(e, Cancelled):
        err = WorkspaceUnavailableError(f"sbx: {what}: the workspace's sbx client is closed "
                                        f"({e.message})")
        err.__cause__ = e
        return err
    return None


def _session_error(e: SbxError, session_id: str) -> Exception | None:
    """The library's error for a failure about the session itself (not a path), else None."""
    m = e.message
    if isinstance(e, NotFound) and m.startswith("session "):
        return WorkspaceUnavailableError(f"sbx session {session_id!r} does not exist: {m}")
    if isinstance(e, FailedPrecondition) and "has ended" in m:
        return WorkspaceUnavailableError(f"sbx session {session_id!r} has ended: {m}")
    if isinstance(e, Unauthenticated):
        return WorkspaceUnavailableError(
            f"sbx refused this workspace's token for session {session_id!r} (revoked, rotated "
            f"by another holder, or the session ended): {m}")
    if isinstance(e, PermissionDenied) and "session token does not reach" in m:
        return WorkspaceUnavailableError(
            f"sbx refused this workspace's token for session {session_id!r}: the session "
            f"belongs to someone else: {m}")
    if isinstance(e, InvalidArgument) and m.startswith("session_id"):
        return WorkspaceUnavailableError(f"sbx session id {session_id!r} is malformed: {m}")
    return None


def _path_error(e: SbxError, path: str) -> Exception:
    """The builtin error for a path-level failure sbxd reported."""
    m = e.message
    if isinstance(e, NotFound):
        return FileNotFoundError(2, m, path)
    if isinstance(e, AlreadyExists):
        return FileExistsError(17, m, path)
    if isinstance(e, PermissionDenied):
        return PermissionError(13, m, path)
    if isinstance(e, FailedPrecondition):
        if m.endswith("is a directory"):
            return IsADirectoryError(21, m, path)
        if "not a directory" in m:
            return NotADirectoryError(20, m, path)
        if "too many levels of symbolic links" in m:
            return OSError(40, m, path)
        return OSError(m)
    if isinstance(e, (InvalidArgument, OutOfRange)):
        return ValueError(m)
    return WorkspaceError(f"sbx: {m}")


@dataclass(frozen=True)
class _Opened:
    session_id: str
    client: AsyncClient          # holds the session token only
    exec_timeout_s: float


Opener = Callable[[WorkspaceRef | None], Awaitable[tuple[str, str, float]]]
"""Opens or attaches: (ref or None) -> (session id, session token, exec ceiling in seconds)."""


def _ended_while_running(session_id: str) -> WorkspaceUnavailableError:
    return WorkspaceUnavailableError(f"sbx session {session_id!r} ended while the command ran")


def _b(x: bytes) -> str:
    return x.decode("utf-8", errors="replace")


class SbxWorkspaceBackend(WorkspaceBackend, SupportsCommands, SupportsFilesystem,
                          SupportsRealpath):
    """One sbx session as the environment an agent run works in.

    Usually built by `SbxWorkspace.backend(ref)`. Direct use with a session's
    token: `SbxWorkspaceBackend.for_session(endpoint, session_id, token)`.

    File operations are sbx RPCs (Stat, Ls, ReadBytes, Write/Upload, Mkdir,
    Remove), served by sbxd off the workspace directory without a command in
    the container; a path through a symlink and `realpath` of such a path use
    one command. Commands are one Execute each (stdout and stderr apart,
    `timeout=` enforced by sbxd, which kills the process tree and keeps the
    partial output).
    """

    def __init__(self, *, opener: Opener, ref: WorkspaceRef | None = None,
                 provider: str = SBX_PROVIDER, env: Mapping[str, str] | None = None,
                 client_factory: Callable[[str], AsyncClient]) -> None:
        if ref is not None and ref.provider != provider:
            raise ValueError(f"expected a {provider!r} workspace ref, got {ref.provider!r}")
        self._ref = ref
        self._provider = provider
        self._env = dict(env) if env else {}
        self._opener: Opener | None = opener
        self._client_factory: Callable[[str], AsyncClient] | None = client_factory
        self._opened: _Opened | None = None
        self._lock = anyio.Lock()

    @classmethod
    def for_session(cls, endpoint: str, session_id: str, session_token: str, *,
                    provider: str = SBX_PROVIDER, env: Mapping[str, str] | None = None,
                    **client_kw: Any) -> "SbxWorkspaceBackend":
        """A backend on an existing session, reached with its token only."""
        cap = SbxWorkspace(endpoint=endpoint, session_id=session_id,
                           session_token=session_token, provider=provider, env=env,
                           client_options=client_kw)
        return cap.backend(WorkspaceRef(provider=provider, id=session_id))

    # ------------------------------------------------------------ lifecycle

    @property
    def ref(self) -> WorkspaceRef | None:
        """The session once it exists (or the ref given); never changes after."""
        return self._ref

    @property
    def session_id(self) -> str | None:
        return self._ref.id if self._ref is not None else None

    async def _connect(self) -> _Opened:
        opened = self._opened
        if opened is not None:
            return opened
        async with self._lock:
            if self._opened is not None:
                return self._opened
            if self._opener is None:
                raise WorkspaceUnavailableError("sbx: this workspace backend could not open its "
                                                "session before; build a new one from its ref")
            # Shielded: a caller cancelled mid-open still records the ref of a session sbxd made.
            with anyio.CancelScope(shield=True):
                try:
                    sid, token, ceiling = await self._opener(self._ref)
                except BaseException:
                    raise
                if self._ref is None:
                    self._ref = WorkspaceRef(provider=self._provider, id=sid)
                assert self._client_factory is not None
                client = self._client_factory(token)
                self._opened = _Opened(sid, client, ceiling)
                # From here on this object holds the session's token only.
                self._opener = None
                self._client_factory = None
            return self._opened

    async def working_dir(self) -> str:
        """`/workspace`: where sbx starts commands (opens the session on first use)."""
        await self._connect()
        return WORK_DIR

    async def _call(self, what: str, path: str | None, fn: Callable[[AsyncClient, str], Any]) -> Any:
        o = await self._connect()
        try:
            return await fn(o.client, o.session_id)
        except SbxError as e:
            err = (_transport_error(e, what) or _session_error(e, o.session_id)
                   or (_path_error(e, path) if path is not None else None))
            if err is None:
                raise
            raise err from e

    # ------------------------------------------------------------ commands

    async def run(self, command: WorkspaceCommand, *, shell: bool = False,
                  env: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> CommandResult:
        """Runs a command in the session (see `SupportsCommands.run`).

        An argv runs as sbxd's argv mode, with no shell: a missing program exits
        127 with the reason on stderr, as the contract asks, and `PWD` names
        the working directory, as a shell would export it. With no
        `timeout`, sbx's exec ceiling (300 s by default) applies; reaching it
        raises WorkspaceTimeoutError.
        """
        if isinstance(command, str):
            if not shell:
                raise TypeError("a string command requires shell=True; pass an argv sequence "
                                "otherwise")
            argv = ["/bin/sh", "-c", command]
        elif isinstance(command, (bytes, bytearray)):
            raise TypeError("a bytes command is not supported; pass a string or an argv sequence")
        else:
            if shell:
                raise TypeError("an argv sequence requires shell=False; pass a string to use "
                                "the shell")
            argv = [str(a) if not isinstance(a, str) else a for a in command]
            if not argv:
                raise ValueError("an argv command must name a program")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))
                                    or not math.isfinite(timeout) or timeout <= 0):
            raise ValueError("timeout must be a positive finite number or None")
        o = await self._connect()
        run_id = uuid.uuid4().hex
        full_env = {**self._env, **(env or {}), RUN_ENV: run_id}
        applied = timeout if timeout is not None and timeout <= o.exec_timeout_s else None
        timeout_ms = (max(1, math.ceil(timeout * 1000)) if applied is not None
                      else int(o.exec_timeout_s * 1000))
        answered = False
        try:
            r = await o.client.execute(o.session_id, "", argv=argv, env=full_env,
                                       timeout_ms=timeout_ms, max_output_bytes=OUTPUT_LIMIT)
            answered = True
        except Cancelled as e:       # the client was closed
            answered = True
            raise (_transport_error(e, "run") or e) from e
        except SbxError as e:
            # sbxd answered (or is unreachable, when nothing can be killed either)
            answered = True
            err = _session_error(e, o.session_id) or await self._gone(o)
            if err is None and isinstance(e, InvalidArgument):
                err = ValueError(f"sbx refused the command: {e.message}")
            if err is None:
                err = _transport_error(e, "run")
            if err is None:
                raise
            raise err from e
        finally:
            if not answered:
                await self._kill_run(o, run_id)
        if r.timed_out:
            reason = (f"Command timed out after {timeout:g} seconds" if applied is not None
                      else f"Command reached the sandbox's time limit "
                           f"({o.exec_timeout_s:g} s)")
            raise WorkspaceTimeoutError(reason, stdout=_b(r.stdout), stderr=_b(r.stderr))
        if r.truncated:
            raise WorkspaceOutputLimitError(
                f"Command output exceeded {OUTPUT_LIMIT} bytes; redirect large output to a file",
                limit=OUTPUT_LIMIT, stdout=_b(r.stdout), stderr=_b(r.stderr))
        # A session ended while the command ran is "unavailable", whatever the command
        # made of it (a loop on /workspace ends with 0 once the files are purged). sbxd
        # says so in the reply (session_state ENDED when EndSession began while the
        # command ran); an sbxd older than that field leaves it UNSPECIFIED, and one
        # GetSession (about a millisecond) tells instead.
        # (sbxd marks the session before it removes the container, so a command the end
        # kills is flagged too.)
        if r.session_state == pb.SESSION_STATE_ENDED:
            raise _ended_while_running(o.session_id)
        gone = None
        if r.session_state == pb.SESSION_STATE_UNSPECIFIED:
            gone = await self._gone(o)
        if (gone is None and r.session_state == pb.SESSION_STATE_UNSPECIFIED
                and (r.exit_code >= 128 or r.exit_code < 0)):
            # Killed: EndSession removes the container before it records the session as
            # ended, so a command it killed can return first. Ask again for a moment.
            with anyio.move_on_after(KILLED_RECHECK_SECONDS):
                while gone is None:
                    await anyio.sleep(0.05)
                    gone = await self._gone(o)
        if gone is not None:
            raise gone
        return CommandResult(exit_code=r.exit_code, stdout=_b(r.stdout), stderr=_b(r.stderr))

    async def _gone(self, o: _Opened) -> Exception | None:
        """WorkspaceUnavailableError when the session has ended or cannot be reached with
        this token, else None (asks GetSession, which a session token may call)."""
        with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
            try:
                s = await o.client.get_session(o.session_id, timeout=STOP_GRACE_SECONDS)
            except SbxError as e:
                return _session_error(e, o.session_id)
            if s.session.state == pb.SESSION_STATE_ENDED:
                return _ended_while_running(o.session_id)
        return None

    async def _kill_run(self, o: _Opened, run_id: str) -> None:
        """Best effort: kills what a command the caller stopped waiting for left running."""
        with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
            try:
                await o.client.execute(o.session_id, "", argv=[
                    "/bin/sh", "-c", _KILL_SCRIPT, "sh", f"{RUN_ENV}={run_id}"],
                    timeout_ms=int(STOP_GRACE_SECONDS * 1000), timeout=STOP_GRACE_SECONDS)
            except Exception:
                pass

    # ------------------------------------------------------------ files

    async def _stat(self, path: str) -> pb.StatResponse:
        return await self._call("stat", path, lambda c, sid: c.stat(sid, path))

    async def _shell(self) -> Workspace:
        return Workspace(_CommandsOnly(self))

    async def read_bytes(self, path: str) -> bytes:
        """The file's bytes (chunked ReadBytes; a symlink is followed by sbxd)."""
        out = bytearray()
        while True:
            off = len(out)
            r = await self._call("read", path, lambda c, sid: c.read_bytes(
                sid, path, offset=off, length=READ_CHUNK))
            out += r.data
            if r.eof or not r.data:
                return bytes(out)

    async def write_bytes(self, path: str, data: bytes) -> None:
        """Writes the file, creating parents, through an existing symlink."""
        data = bytes(data)
        if len(data) <= WRITE_ONE_CALL:
            await self._call("write", path, lambda c, sid: c.write(sid, path, data))
            return
        o = await self._connect()
        # Upload* publishes a temporary file by rename: check the target first, as Write does.
        st = await self._stat(path)
        if st.exists and st.info.is_symlink:
            path = await self.realpath(path)
            st = await self._stat(path)
        if st.exists and st.info.is_dir:
            raise IsADirectoryError(21, f"'{path}' is a directory", path)
        await self.make_dir(posixpath.dirname(path) or "/")
        try:
            begin = await o.client.upload_begin(o.session_id, path, len(data))
            step = begin.chunk_size or (1 << 20)
            try:
                for off in range(0, len(data), step):
                    await o.client.upload_chunk(o.session_id, begin.upload_id, off,
                                                data[off:off + step])
                await o.client.upload_finish(o.session_id, begin.upload_id,
                                             hashlib.sha256(data).digest())
            except BaseException:
                with anyio.move_on_after(STOP_GRACE_SECONDS, shield=True):
                    try:
                        await o.client.upload_abort(o.session_id, begin.upload_id)
                    except SbxError:
                        pass
                raise
        except SbxError as e:
            err = (_transport_error(e, "write") or _session_error(e, o.session_id)
                   or _path_error(e, path))
            raise err from e

    async def stat(self, path: str) -> FileEntry:
        """Metadata, following a symlink to its target."""
        r = await self._stat(path)
        if not r.exists:
            raise FileNotFoundError(2, f"File '{path}' not found", path)
        if r.info.is_symlink:
            entry = await (await self._shell()).stat(path)
            return entry
        name = posixpath.basename(posixpath.normpath(path)) or "/"
        return FileEntry(name=name, path=path, is_dir=r.info.is_dir,
                         size=None if r.info.is_dir else int(r.info.size))

    async def list_dir(self, path: str) -> list[FileEntry]:
        """The directory's entries, sorted by path; a symlink's `is_dir` follows it."""
        st = await self._stat(path)
        if not st.exists:
            raise FileNotFoundError(2, f"File '{path}' not found", path)
        if not st.info.is_dir and not st.info.is_symlink:
            raise NotADirectoryError(20, f"'{path}' is not a directory", path)
        r = await self._call("list", path, lambda c, sid: c.ls(sid, path))
        if r.truncated:
            raise WorkspaceError(f"sbx: the listing of {path!r} has more entries than one reply "
                                 "holds")
        if st.info.is_symlink and len(r.entries) == 1 and \
                r.entries[0].path == posixpath.normpath(path):
            raise NotADirectoryError(20, f"'{path}' is not a directory", path)
        base = path.rstrip("/") or "/"
        rows = []
        links = []
        for e in r.entries:
            name = (e.raw_name.decode(errors="surrogateescape") if e.raw_name else e.name)
            child = posixpath.join(base, name)
            rows.append([name, child, e.is_dir, None if e.is_dir else int(e.size), e.is_symlink])
            if e.is_symlink:
                links.append(child)
        if links:
            dirs = await self._dirs(links)
            for row in rows:
                if row[4]:
                    row[2] = row[1] in dirs
                    row[3] = None
        rows.sort(key=lambda row: row[1])
        return [FileEntry(name=n, path=p, is_dir=d, size=s) for n, p, d, s, _ in rows]

    async def _dirs(self, paths: Sequence[str]) -> set[str]:
        """Which of `paths` lead to a directory (one command for all of them)."""
        res = await self.run(["sh", "-c", 'for f do if test -d "$f"; then printf "%s\\0" "$f"; '
                              'fi; done', "sh", *paths])
        return {p for p in res.stdout.split("\0") if p}

    async def make_dir(self, path: str) -> None:
        """`mkdir -p`: FileExistsError over a file, NotADirectoryError under one."""
        try:
            await self._call("mkdir", path, lambda c, sid: c.mkdir(sid, path, parents=True))
        except NotADirectoryError:
            st = await self._stat(path)
            if st.exists and not st.info.is_dir:
                if not st.info.is_symlink or not (await self._dirs([path])):
                    raise FileExistsError(17, f"'{path}' exists and is not a directory",
                                          path) from None
                return
            raise

    async def remove(self, path: str) -> None:
        """Removes a file or a tree (a symlink itself); refuses the working dir and its
        ancestors with ValueError."""
        parent = await self.realpath(posixpath.dirname(path) or "/")
        target = posixpath.join(parent, posixpath.basename(path)) if posixpath.basename(path) \
            else parent
        target = posixpath.normpath(target)
        if target == WORK_DIR or WORK_DIR.startswith(target.rstrip("/") + "/"):
            raise ValueError("cannot remove the workspace root or its ancestor")
        await self._call("remove", path, lambda c, sid: c.remove(sid, path, recursive=True))

    async def exists(self, path: str) -> bool:
        """Whether a file or directory is there (a dangling symlink is not)."""
        try:
            r = await self._stat(path)
        except (NotADirectoryError, FileNotFoundError):
            return False
        if not r.exists:
            return False
        if r.info.is_symlink:
            res = await self.run(["test", "-e", path])
            return res.exit_code == 0
        return True

    async def realpath(self, path: str) -> str:
        """Resolves symlinks like `os.path.realpath(strict=False)`.

        A path with no `..` and no symlink on the way is answered by Stat calls
        (concurrently, one per component); otherwise by one command resolving it
        in the container.
        """
        if not posixpath.isabs(path):
            path = posixpath.join(WORK_DIR, path)
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." not in parts:
            prefixes = ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]
            results: list[pb.StatResponse | None] = [None] * len(prefixes)

            unsure = False

            async def one(i: int, p: str) -> None:
                nonlocal unsure
                try:
                    results[i] = await self._stat(p)
                except (NotADirectoryError, FileNotFoundError):
                    results[i] = None
                except OSError:             # a link loop, say: the shell walk decides
                    unsure = True

            async with anyio.create_task_group() as tg:
                for i, p in enumerate(prefixes):
                    tg.start_soon(one, i, p)
            if not unsure and not any(r is not None and r.exists and r.info.is_symlink
                                      for r in results):
                return "/" + "/".join(parts)
        return await (await self._shell()).realpath(path)

    async def purge(self) -> None:
        """Ends the session and deletes its files; already gone is fine."""
        try:
            await self._call("end", None, lambda c, sid: c.end_session(sid, purge=True))
        except WorkspaceUnavailableError:
            return


class _CommandsOnly:
    """The backend seen through its commands only: Workspace derives file operations from
    `run` for it (used for symlink-following stat and realpath)."""

    def __init__(self, backend: SbxWorkspaceBackend) -> None:
        self._backend = backend

    @property
    def ref(self) -> WorkspaceRef | None:
        return self._backend.ref

    async def working_dir(self) -> str:
        return await self._backend.working_dir()

    async def run(self, command: WorkspaceCommand, *, shell: bool = False,
                  env: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> CommandResult:
        return await self._backend.run(command, shell=shell, env=env, timeout=timeout)


@dataclass(kw_only=True)
class SbxWorkspace(AbstractCapability[object]):
    """Supplies an sbx session as the run's workspace.

    Three ways to configure it:
    - `service_key` alone: each run without a ref gets a new session;
    - `service_key` + `user_id`: one session per user (GetOrCreateSession), the
      way `SessionManager.get_or_create` works; a ref of another user's session
      is refused;
    - `session_id` + `session_token` (no key): the one session the application
      opened, reached with its token only.

    A run with a ref of this provider attaches to that session (a stopped one
    is woken with its files); an unknown or ended one raises
    `WorkspaceUnavailableError`. Sessions outlive runs: `destroy(ref)` ends one
    and deletes its files.

    With the service key, attaching needs the session's token: a token this
    capability was given when it created the session is reused; otherwise it
    mints a new one (RotateToken), which invalidates the token other holders of
    that session had.

    Use it as an async context manager (or call `aclose()`) to close its
    clients. Example:

        async with SbxWorkspace(endpoint=EP, service_key=KEY, user_id="alice") as ws:
            agent = Agent(model, capabilities=[ws, ConsoleCapability()])
            result = await agent.run("...")
    """

    endpoint: str | None = None
    """sbxd's request endpoint (default `$SBX_ENDPOINT`, else tcp://127.0.0.1:7410)."""

    service_key: str | None = field(default=None, repr=False)
    """The service key: opens sessions for anyone, so it stays here and out of backends."""

    user_id: str | None = None
    """One session per user id (GetOrCreateSession); None: a new session per run."""

    session_id: str | None = None
    """With `session_token`: the single session this capability reaches."""

    session_token: str | None = field(default=None, repr=False)
    """The token of `session_id` (reaches that session only)."""

    provider: str = SBX_PROVIDER
    """Provider name in refs; give each sbxd its own when an agent can reach several."""

    runtime: str | None = None
    """Runtime of new sessions; sbxd's default when None."""

    idle_timeout: float | None = None
    """Seconds of inactivity before sbxd stops a new session (its files stay)."""

    labels: Mapping[str, str] | None = None
    """Labels of new sessions."""

    egress_allow: Sequence[str] = ()
    """Hosts new sessions may reach through sbx's egress proxy ("pypi.org",
    "*.example.com", optionally ":PORT"); empty: network none (or the runtime's
    list). With `user_id`, the user's live session must already have this list,
    else opening it fails (sbx's FailedPrecondition: change it with set_egress)."""

    env: Mapping[str, str] | None = field(default=None, repr=False)
    """Variables every command gets, under any a call passes."""

    client_options: Mapping[str, Any] | None = field(default=None, repr=False)
    """Extra keyword arguments of every `AsyncClient` (timeouts, TLS)."""

    _service: AsyncClient | None = field(default=None, init=False, repr=False, compare=False)
    _tokens: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _clients: list[AsyncClient] = field(default_factory=list, init=False, repr=False,
                                        compare=False)
    _by_token: dict[str, AsyncClient] = field(default_factory=dict, init=False, repr=False,
                                              compare=False)
    _closed: bool = field(default=False, init=False, repr=False, compare=False)
    _open_lock: anyio.Lock | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.defer_loading:
            raise UserError("`SbxWorkspace` does not support `defer_loading=True`: the workspace "
                            "is selected before deferred capabilities load.")
        if (self.session_token is None) != (self.session_id is None):
            raise ValueError("give session_id and session_token together")
        if self.session_token is not None and self.service_key is not None:
            raise ValueError("give either service_key or session_id + session_token, not both")
        if self.session_token is None and self.service_key is None:
            raise ValueError("SbxWorkspace needs service_key, or session_id + session_token")
        if self.session_token is not None:
            self._tokens[self.session_id] = self.session_token  # type: ignore[index]

    # ------------------------------------------------------------ clients

    def _client(self, **cred: str) -> AsyncClient:
        if self._closed:
            raise WorkspaceUnavailableError("sbx: this SbxWorkspace is closed")
        c = AsyncClient(self.endpoint, **cred, **dict(self.client_options or {}))
        self._clients.append(c)
        return c

    def _service_client(self) -> AsyncClient:
        if self._service is None:
            assert self.service_key is not None
            self._service = self._client(service_key=self.service_key)
        return self._service

    def _token_client(self, token: str) -> AsyncClient:
        """One client per session token, shared by every backend on that session."""
        c = self._by_token.get(token)
        if c is None:
            c = self._by_token[token] = self._client(session_token=token)
        return c

    async def __aenter__(self) -> "SbxWorkspace":
        self._closed = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes every client this capability and its backends opened (not the sessions)."""
        self._closed = True
        clients, self._clients, self._service = self._clients, [], None
        self._by_token = {}
        for c in clients:
            await c.close()

    # ------------------------------------------------------------ sessions

    async def _open(self, ref: WorkspaceRef | None) -> tuple[str, str, float]:
        """(session id, token, exec ceiling s) for a new or per-user session, or `ref`'s.

        Serialized per capability: two first runs of one user must not both mint a token
        (the second RotateToken would revoke the first's)."""
        if self._open_lock is None:
            self._open_lock = anyio.Lock()
        async with self._open_lock:
            return await self._open_locked(ref)

    async def _open_locked(self, ref: WorkspaceRef | None) -> tuple[str, str, float]:
        what = "open session" if ref is None else f"attach to session {ref.id!r}"
        try:
            if self.session_token is not None:
                assert self.session_id is not None
                sid = ref.id if ref is not None else self.session_id
                probe = self._client(session_token=self.session_token)
                try:
                    s = (await probe.get_session(sid)).session
                finally:
                    self._clients.remove(probe)
                    await probe.close()
                return self._checked(s, self.session_token)
            svc = self._service_client()
            if ref is None:
                if self.user_id is not None:
                    r = await svc.get_or_create_session(self.user_id, **self._create_args())
                else:
                    r = await svc.create_session("ws-" + secrets.token_hex(8),
                                                 **self._create_args())
                token = r.session_token or self._tokens.get(r.session.session_id)
                if not token:
                    token = (await svc.rotate_token(r.session.session_id)).session_token
                self._tokens[r.session.session_id] = token
                return self._checked(r.session, token)
            s = (await svc.get_session(ref.id)).session
            if self.user_id is not None and s.user_id != self.user_id:
                raise WorkspaceUnavailableError(
                    f"sbx session {ref.id!r} belongs to another user; this workspace serves "
                    f"user {self.user_id!r}")
            self._checked(s, "")
            token = self._tokens.get(s.session_id)
            if not token:
                token = (await svc.rotate_token(s.session_id)).session_token
                self._tokens[s.session_id] = token
            return self._checked(s, token)
        except SbxError as e:
            sid = ref.id if ref is not None else (self.session_id or "")
            err = _transport_error(e, what) or _session_error(e, sid)
            if err is None:
                raise
            raise err from e

    def _create_args(self) -> dict[str, Any]:
        return {"runtime": self.runtime or "",
                "idle_timeout_ms": int((self.idle_timeout or 0) * 1000),
                "labels": dict(self.labels or {}),
                "egress_allow": list(self.egress_allow)}

    @staticmethod
    def _checked(s: pb.Session, token: str) -> tuple[str, str, float]:
        if s.state == pb.SESSION_STATE_ENDED:
            raise WorkspaceUnavailableError(
                f"sbx session {s.session_id!r} has ended ({s.stop_reason or 'ended'})")
        ceiling = (s.limits.exec_timeout_ms or 300_000) / 1000
        return s.session_id, token, ceiling

    # ------------------------------------------------------------ capability

    def backend(self, ref: WorkspaceRef | None = None) -> SbxWorkspaceBackend:
        """A backend for `ref`, or for a new (or the user's) session; no I/O until used."""
        if ref is None and self.session_id is not None:
            ref = WorkspaceRef(provider=self.provider, id=self.session_id)
        return SbxWorkspaceBackend(
            opener=self._open, ref=ref, provider=self.provider, env=self.env,
            client_factory=self._token_client)

    def get_workspace(self, ctx: RunContext[object], *,
                      ref: WorkspaceRef | None) -> WorkspaceBackend | None:
        """This run's backend, or None for a ref another provider (or session) owns."""
        del ctx
        if ref is not None and ref.provider != self.provider:
            return None
        if ref is not None and self.session_id is not None and ref.id != self.session_id:
            return None
        return self.backend(ref)

    async def destroy(self, ref: WorkspaceRef) -> None:
        """Ends the session `ref` names and deletes its files; already gone is fine.

        Raises:
            ValueError: `ref` belongs to another provider.
            WorkspaceUnavailableError: the session belongs to another user.
        """
        if ref.provider != self.provider:
            raise ValueError(f"expected a {self.provider!r} workspace ref, got {ref.provider!r}")
        try:
            if self.session_token is not None:
                c = self._client(session_token=self.session_token)
            else:
                c = self._service_client()
                if self.user_id is not None:
                    s = (await c.get_session(ref.id)).session
                    if s.user_id != self.user_id:
                        raise WorkspaceUnavailableError(
                            f"sbx session {ref.id!r} belongs to another user; this workspace "
                            f"serves user {self.user_id!r}")
            await c.end_session(ref.id, purge=True)
        except SbxError as e:
            err = _transport_error(e, f"destroy session {ref.id!r}")
            if err is not None:
                raise err from e
            if _session_error(e, ref.id) is not None and not isinstance(
                    e, (Unauthenticated, PermissionDenied)):
                self._tokens.pop(ref.id, None)
                return          # unknown or ended already
            raise
        self._tokens.pop(ref.id, None)
