"""sandbox.py — `SbxSandbox`, an sbx session as a pydantic-ai-backend sandbox.

Implements pydantic-ai-backend's `SandboxProtocol` and
`BackgroundSandboxProtocol` (the API of pydantic-ai-backend 0.2.29, pinned by
the `pydantic-ai` extra) over one sbx session, with the behaviour and the
exact error strings of /work/shared/SEMANTICS.md: results are the library's
own types (`FileInfo`, `WriteResult`, `EditResult`, `ExecuteResponse`,
`GrepMatch`, `BackgroundHandle`, ...), and failures are returned, never raised
(`"Error: ..."` strings, `error` fields, `b""`, `[]`, `False`), as the
library's failure contract asks. Paths are the container's: relative ones
(and ".") are in /workspace. Every call is one RPC; sbxd does the work
(no shell lines are built here).
"""

from __future__ import annotations

import datetime
import re
import stat as statmod

from pydantic_ai_backends.types import (BackgroundHandle, BackgroundOutput,
                                        BackgroundProcessInfo, EditResult, ExecuteResponse,
                                        FileInfo, GrepMatch, WriteResult)

from .client import Client
from .errors import InvalidArgument, NotFound, SbxError
from .v1 import sbx_pb2 as pb

MAX_OUTPUT_CHARS = 100_000
KILL_GRACE_MS = 2000
WRITE_INLINE_MAX = 8 << 20      # bigger writes in /workspace go as a chunked upload
WORKDIR = "/workspace"
_LIVE = (pb.SESSION_STATE_CREATING, pb.SESSION_STATE_RUNNING, pb.SESSION_STATE_STOPPED)


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def _shown(path: str) -> str:
    """The container path the caller means (relative paths are in /workspace)."""
    if path.startswith("/"):
        return path
    if path in ("", "."):
        return WORKDIR
    return f"{WORKDIR}/{path.removeprefix('./')}"


def _info(f: pb.FileInfo) -> FileInfo:
    info = FileInfo(name=f.name, path=f.path, is_dir=f.is_dir,
                    size=None if f.is_dir else f.size)
    if f.mtime_unix_ms:
        info["modified_at"] = datetime.datetime.fromtimestamp(
            f.mtime_unix_ms / 1000, tz=datetime.timezone.utc).isoformat()
    return info


def _read_error(e: SbxError, path: str) -> str:
    """SEMANTICS.md's strings for Read's failures."""
    if isinstance(e, NotFound) and e.message.startswith("File '"):
        return f"Error: File '{path}' not found"
    if e.message.endswith("is a directory"):
        return f"Error: '{path}' is a directory"
    if "is a binary file" in e.message:
        return f"Error: '{path}' is a binary file; read it with read_bytes"
    return f"Error: {e.message}"


def _edit_error(e: SbxError, path: str, old: str) -> str:
    """SEMANTICS.md's strings for Edit's failures, with the whole old string."""
    if isinstance(e, NotFound) and e.message.startswith("File '"):
        return f"File '{path}' not found"
    if e.message.startswith("String '") and e.message.endswith("not found in file"):
        return f"String '{old}' not found in file"
    m = re.search(r"' found (\d+) times\. Use replace_all=True", e.message)
    if e.message.startswith("String '") and m:
        return (f"String '{old}' found {m.group(1)} times. Use replace_all=True to replace "
                "all, or provide more context.")
    return e.message


class SbxSandbox:
    """One sbx session behind pydantic-ai-backend's sandbox protocols.

    Build it from a `Client` and a session id, or with `create()` (a service
    key: a new or the user's running session) or `connect()` (a session
    token: an end user's agent reaching its own session only).
    """

    def __init__(self, client: Client, session_id: str, *, owns_client: bool = False,
                 user_id: str = "", session_token: str = "") -> None:
        self._c = client
        self._sid = session_id
        self._owns = owns_client
        self.user_id = user_id
        self.session_token = session_token

    @classmethod
    def create(cls, user_id: str, *, runtime: str = "", endpoint: str | None = None,
               service_key: str | None = None, client: Client | None = None) -> "SbxSandbox":
        """The user's live session (created when there is none)."""
        owns = client is None
        c = client or Client(endpoint, service_key=service_key)
        try:
            r = c.get_or_create_session(user_id, runtime=runtime)
        except BaseException:
            if owns:
                c.close()
            raise
        return cls(c, r.session.session_id, owns_client=owns, user_id=user_id,
                   session_token=r.session_token)

    @classmethod
    def connect(cls, session_id: str, session_token: str, *,
                endpoint: str | None = None) -> "SbxSandbox":
        """Reach one session with its token (what an end user's agent holds)."""
        return cls(Client(endpoint, session_token=session_token), session_id,
                   owns_client=True, session_token=session_token)

    @property
    def id(self) -> str:
        return self._sid

    @property
    def client(self) -> Client:
        return self._c

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Checks that the session exists (NotFound otherwise); sbx starts a
        stopped session's container by itself on its next file or command."""
        self._c.get_session(self._sid)

    def is_alive(self) -> bool:
        try:
            return self._c.get_session(self._sid).session.state in _LIVE
        except SbxError:
            return False

    def stop(self, purge: bool = False) -> None:
        """Ends the session (the workspace is kept unless `purge`)."""
        try:
            self._c.end_session(self._sid, purge=purge)
        except NotFound:
            pass
        finally:
            if self._owns:
                self._c.close()

    def close(self) -> None:
        """Closes the connection; the session lives on."""
        if self._owns:
            self._c.close()

    # ------------------------------------------------------------ files

    def exists(self, path: str) -> bool:
        try:
            r = self._c.stat(self._sid, path)
        except SbxError:
            return False
        if not r.exists or r.info.is_dir:
            return False
        if r.info.is_symlink:       # like `test -f`: a link to a regular file counts
            try:
                self._c.read_bytes(self._sid, path, length=1)
                return True
            except SbxError:
                return False
        return r.info.mode == 0 or statmod.S_ISREG(r.info.mode)

    def ls_info(self, path: str) -> list[FileInfo]:
        try:
            return [_info(f) for f in self._c.ls(self._sid, path).entries]
        except SbxError:
            return []

    def read_bytes(self, path: str) -> bytes:
        """The whole file, or b"" on any failure (missing, denied, not a
        regular file, over the server's read ceiling)."""
        try:
            r = self._c.read_bytes(self._sid, path)
        except SbxError:
            return b""
        return r.data if r.eof else b""

    def read(self, path: str, offset: int = 0, limit: int = 2000) -> str:
        if offset < 0 or limit <= 0:
            return f"Error: offset must be >= 0 and limit > 0 (got {offset}, {limit})"
        try:
            return _text(self._c.read(self._sid, path, offset=offset, limit=limit).content)
        except SbxError as e:
            return _read_error(e, path)

    def write(self, path: str, content: str | bytes) -> WriteResult:
        """Overwrites, creating parents; bytes kept exactly. Content over
        WRITE_INLINE_MAX in /workspace travels as a chunked, SHA-256-checked
        upload (one message would pass the server's message limit)."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        try:
            if len(data) > WRITE_INLINE_MAX and _shown(path).startswith(WORKDIR + "/"):
                self._c.upload(self._sid, path, data)
                return WriteResult(path=_shown(path))
            return WriteResult(path=self._c.write(self._sid, path, data).path)
        except SbxError as e:
            return WriteResult(error=e.message)

    def edit(self, path: str, old_string: str, new_string: str,
             replace_all: bool = False) -> EditResult:
        try:
            r = self._c.edit(self._sid, path, old_string, new_string, replace_all=replace_all)
        except SbxError as e:
            return EditResult(error=_edit_error(e, path, old_string))
        return EditResult(path=_shown(path), occurrences=r.occurrences)

    def glob_info(self, pattern: str, path: str = "/", *,
                  newest_first: bool = False) -> list[FileInfo]:
        """Files only, in path order or newest-modified first (`*` stays within
        a directory, `**/` crosses, no braces). "/" is the container's root
        (sbx searches it in the container, skipping /workspace): the console
        tools pass "." (the workspace)."""
        try:
            r = self._c.glob(self._sid, pattern, path, newest_first=newest_first)
            return [_info(f) for f in r.files]
        except SbxError:
            return []

    def grep_raw(self, pattern: str, path: str | None = None, glob: str | None = None,
                 ignore_hidden: bool = True) -> list[GrepMatch] | str:
        """Perl-compatible regex (PCRE2) matches, or an "Error: ..." string."""
        try:
            r = self._c.grep(self._sid, pattern, path or "", glob=glob or "",
                             include_hidden=not ignore_hidden)
        except SbxError as e:
            return f"Error: {e.message}"
        return [GrepMatch(path=m.path, line_number=m.line_number, line=_text(m.line))
                for m in r.matches]

    # ------------------------------------------------------------ commands

    def execute(self, command: str, timeout: int | None = None) -> ExecuteResponse:
        """`sh -c command` in /workspace; stdout and stderr merged; 124 on timeout."""
        try:
            r = self._c.execute(self._sid, command,
                                timeout_ms=int(timeout * 1000) if timeout else 0)
        except SbxError as e:
            return ExecuteResponse(output=f"Error: {e.message}", exit_code=1)
        out = _text(r.output)
        truncated = r.truncated or len(out) > MAX_OUTPUT_CHARS
        return ExecuteResponse(output=out[:MAX_OUTPUT_CHARS], exit_code=r.exit_code,
                               truncated=truncated)

    def execute_background(self, command: str) -> BackgroundHandle:
        p = self._c.start_process(self._sid, command).process
        return BackgroundHandle(shell_id=p.process_id, pid=p.pid, command=p.command or command)

    def read_background(self, shell_id: str) -> BackgroundOutput:
        """Output new since the last read (stdout and stderr merged, in stdout)."""
        try:
            r = self._c.read_process_output(self._sid, shell_id)
        except (NotFound, InvalidArgument):
            return BackgroundOutput(shell_id=shell_id, stdout="",
                                    stderr=f"No such background shell: {shell_id}",
                                    running=False, exit_code=None)
        except SbxError as e:
            return BackgroundOutput(shell_id=shell_id, stdout="", stderr=f"Error: {e.message}",
                                    running=False, exit_code=None)
        running = r.process.state == pb.PROCESS_STATE_RUNNING
        return BackgroundOutput(shell_id=shell_id, stdout=_text(r.output), stderr="",
                                running=running,
                                exit_code=None if running else r.process.exit_code)

    def kill_background(self, shell_id: str) -> bool:
        """Kills the process and its tree; True when it was running. Waits up
        to KILL_GRACE_MS for it to be reaped, so a second call answers False."""
        try:
            procs = self._c.list_processes(self._sid).processes
            if not any(p.process_id == shell_id and p.state == pb.PROCESS_STATE_RUNNING
                       for p in procs):
                return False
            if self._c.signal_process(self._sid, shell_id, signal=pb.SIGNAL_KILL).signalled == 0:
                return False
            self._c.wait_process(self._sid, shell_id, timeout_ms=KILL_GRACE_MS)
            return True
        except SbxError:
            return False

    def list_background(self) -> list[BackgroundProcessInfo]:
        try:
            procs = self._c.list_processes(self._sid).processes
        except SbxError:
            return []
        out = []
        for p in procs:
            running = p.state == pb.PROCESS_STATE_RUNNING
            out.append(BackgroundProcessInfo(shell_id=p.process_id, command=p.command, pid=p.pid,
                                             running=running,
                                             exit_code=None if running else p.exit_code))
        return out

    def kill_all_background(self) -> None:
        try:
            self._c.signal_process(self._sid, signal=pb.SIGNAL_KILL, all=True)
        except SbxError:
            pass
