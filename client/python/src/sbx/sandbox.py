"""sandbox.py — `SbxSandbox`, an sbx session as a pydantic-ai-backend sandbox.

Implements pydantic-ai-backend's `SandboxProtocol` and
`BackgroundSandboxProtocol` (the API of pydantic-ai-backend 0.2.29, pinned by
the `pydantic-ai` extra) over one sbx session, with the behaviour and the
exact error strings of /work/shared/SEMANTICS.md: results are the library's
own types (`FileInfo`, `WriteResult`, `EditResult`, `ExecuteResponse`,
`GrepMatch`, `BackgroundHandle`, ...), and failures are returned, never raised
(`"Error: ..."` strings, `error` fields, `b""`, `[]`, `False`), as the
library's failure contract asks (a `str` that cannot be encoded, e.g. one
holding lone surrogates, is such a failure too). Paths are the container's:
relative ones are in /workspace, resolved by sbxd as the container's shell
would (`../x` is `/x`). `ls_info`, `glob_info` and `grep_raw` take "", "/"
and "." as the working directory (/workspace), as DockerSandbox does for the
protocol's default "/" argument (SEMANTICS.md, "default paths"); another
spelling of the root, such as "/.", reaches the container's root. Names that
are not valid UTF-8 come back decoded as `os.fsdecode` would (undecodable
bytes as lone surrogates), which is what LocalBackend returns for them.
Every call is one RPC (a kill also waits for the process to be gone); sbxd
does the work (no shell lines are built here).
"""

from __future__ import annotations

import datetime
import posixpath
import re
import stat as statmod
import time
import warnings
from collections.abc import Sequence

from pydantic_ai_backends.types import (BackgroundHandle, BackgroundOutput,
                                        BackgroundProcessInfo, EditResult, ExecuteResponse,
                                        FileInfo, GrepMatch, RuntimeConfig, SandboxUsage,
                                        WriteResult)

from .client import Client
from .errors import InvalidArgument, NotFound, ResourceExhausted, SbxError
from .v1 import sbx_pb2 as pb

MAX_OUTPUT_CHARS = 100_000
KILL_WAIT_SLICE_MS = 10_000     # one WaitProcess of a kill; repeated while the process runs
KILL_WAIT_MAX_S = 120.0         # safety net only: a SIGKILLed tree is normally gone at once
WRITE_INLINE_MAX = 8 << 20      # bigger writes in /workspace go as a chunked upload
WORKDIR = "/workspace"
_LIVE = (pb.SESSION_STATE_CREATING, pb.SESSION_STATE_RUNNING, pb.SESSION_STATE_STOPPED)


_ROOT_SPELLINGS = ("", "/", ".")
# Failures a call can raise before or after its RPC that the library would
# return instead: sbx's own errors, and a str the protocol cannot carry
# (UnicodeEncodeError is a ValueError).
_FAILURES = (SbxError, ValueError)


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def _fsname(text: str, raw: bytes) -> str:
    """A name as os.fsdecode gives it: the raw bytes when sbxd sent them (the
    name is not UTF-8), undecodable bytes as lone surrogates."""
    return raw.decode("utf-8", errors="surrogateescape") if raw else text


def _root(path: str | None) -> str:
    """The search root the caller means: "", "/", "." (and None) are the
    working directory, as in DockerSandbox; any other path as given."""
    return WORKDIR if path is None or path.strip() in _ROOT_SPELLINGS else path


def _shown(path: str) -> str:
    """The container path the caller means: relative paths are in /workspace
    and `..` is taken lexically, as the shell's `cd` takes it (`../x` is
    `/x`); used only to name the file in a result."""
    if path in ("", "."):
        return WORKDIR
    full = path if path.startswith("/") else f"{WORKDIR}/{path}"
    return posixpath.normpath(full).replace("//", "/", 1)


def _info(f: pb.FileInfo) -> FileInfo:
    info = FileInfo(name=_fsname(f.name, f.raw_name), path=_fsname(f.path, f.raw_path),
                    is_dir=f.is_dir,
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

    The public attributes of DockerSandbox mean the same here: `id` and
    `session_id` (the sbx session id), `runtime` (a `RuntimeConfig`, or None
    when the sbx session runs the server's default and none was named),
    `idle_timeout` (seconds after which SbxSessionManager may reap it),
    `last_activity` / `touch()` (wall clock of the last operation through this
    object), `resource_usage()`, `is_alive()`, `start()` and `stop()`.
    """

    def __init__(self, client: Client, session_id: str, *, owns_client: bool = False,
                 user_id: str = "", session_token: str = "",
                 runtime: RuntimeConfig | str | None = None,
                 idle_timeout: int = 3600) -> None:
        self._c = client
        self._sid = session_id
        self._owns = owns_client
        self.user_id = user_id
        self.session_token = session_token
        self._runtime = _runtime_config(runtime)
        self._idle_timeout = idle_timeout
        self._last_activity = time.time()
        self._released: set[str] = set()     # background ids kill_all_background let go of

    @classmethod
    def create(cls, user_id: str, *, runtime: str = "", endpoint: str | None = None,
               service_key: str | None = None, client: Client | None = None,
               egress_allow: Sequence[str] = ()) -> "SbxSandbox":
        """The user's live session (created when there is none). `egress_allow`:
        as `Client.get_or_create_session`'s (a new session's allowlist; a live
        one must already have it, else FailedPrecondition)."""
        owns = client is None
        c = client or Client(endpoint, service_key=service_key)
        try:
            r = c.get_or_create_session(user_id, runtime=runtime, egress_allow=egress_allow)
        except BaseException:
            if owns:
                c.close()
            raise
        return cls(c, r.session.session_id, owns_client=owns, user_id=user_id,
                   session_token=r.session_token, runtime=r.session.runtime or runtime or None,
                   idle_timeout=r.session.idle_timeout_ms // 1000 or 3600)

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
    def session_id(self) -> str:
        """The sbx session id (DockerSandbox: alias of `id`)."""
        return self._sid

    @property
    def runtime(self) -> RuntimeConfig | None:
        """The runtime this sandbox was created with, as a `RuntimeConfig`
        (an sbx runtime name becomes `RuntimeConfig(name=...)`)."""
        return self._runtime

    @property
    def idle_timeout(self) -> int:
        """Idle seconds after which SbxSessionManager may reap this sandbox."""
        return self._idle_timeout

    @property
    def last_activity(self) -> float:
        """Wall clock (time.time()) of the last operation through this object."""
        return self._last_activity

    def touch(self) -> None:
        """Records activity, so idle cleanup does not reap a sandbox in use."""
        self._last_activity = time.time()

    @property
    def client(self) -> Client:
        return self._c

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Checks that the session exists (NotFound otherwise); sbx starts a
        stopped session's container by itself on its next file or command."""
        self._c.get_session(self._sid)

    def is_alive(self) -> bool:
        """Whether the session can serve calls: creating, running, or stopped
        (sbx wakes a stopped session, files intact, on its next call)."""
        try:
            return self._c.get_session(self._sid).session.state in _LIVE
        except SbxError:
            return False

    def resource_usage(self) -> SandboxUsage | None:
        """The session's current usage as sbxd last sampled it, or None when
        it cannot be had (no such session, no container)."""
        try:
            s = self._c.get_session(self._sid).session
        except SbxError:
            return None
        if not s.HasField("usage"):
            return None
        u = s.usage
        return SandboxUsage(memory_bytes=u.memory_bytes or None,
                            memory_limit_bytes=u.memory_limit_bytes or None,
                            cpu_percent=u.cpu_percent, pids=u.pids or None)

    def stop(self, purge: bool = False, *, remove: bool | None = None) -> None:
        """Ends the session: its container is removed, the workspace kept
        unless `purge`. `remove` is DockerSandbox's old name for `purge`,
        honoured with the same DeprecationWarning."""
        if remove is not None:
            warnings.warn("SbxSandbox.stop(remove=...) is deprecated; pass purge=... instead, "
                          "as DockerSandbox asks.", DeprecationWarning, stacklevel=2)
            purge = remove
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
        self.touch()
        try:
            r = self._c.stat(self._sid, path)
        except _FAILURES:
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
        """Immediate children, directories first; "", "/" and "." are /workspace."""
        self.touch()
        try:
            return [_info(f) for f in self._c.ls(self._sid, _root(path)).entries]
        except _FAILURES:
            return []

    def read_bytes(self, path: str) -> bytes:
        """The whole file, or b"" on any failure (missing, denied, not a
        regular file, over the server's read ceiling)."""
        self.touch()
        try:
            r = self._c.read_bytes(self._sid, path)
        except _FAILURES:
            return b""
        return r.data if r.eof else b""

    def read(self, path: str, offset: int = 0, limit: int = 2000) -> str:
        self.touch()
        if offset < 0 or limit <= 0:
            return f"Error: offset must be >= 0 and limit > 0 (got {offset}, {limit})"
        try:
            return _text(self._c.read(self._sid, path, offset=offset, limit=limit).content)
        except SbxError as e:
            return _read_error(e, path)
        except ValueError as e:
            return f"Error: {e}"

    def write(self, path: str, content: str | bytes) -> WriteResult:
        """Overwrites, creating parents; bytes kept exactly. Content over
        WRITE_INLINE_MAX in /workspace travels as a chunked, SHA-256-checked
        upload (one message would pass the server's message limit). A str
        that is not encodable as UTF-8 (lone surrogates) is an error result,
        worded as DockerSandbox words it."""
        self.touch()
        try:
            data = content.encode() if isinstance(content, str) else bytes(content)
        except UnicodeEncodeError as e:
            return WriteResult(error=f"Failed to write file: {e}")
        try:
            if len(data) > WRITE_INLINE_MAX and _shown(path).startswith(WORKDIR + "/"):
                self._c.upload(self._sid, path, data)
                return WriteResult(path=_shown(path))
            return WriteResult(path=self._c.write(self._sid, path, data).path)
        except SbxError as e:
            return WriteResult(error=e.message)
        except ValueError as e:
            return WriteResult(error=f"Failed to write file: {e}")

    def edit(self, path: str, old_string: str, new_string: str,
             replace_all: bool = False) -> EditResult:
        self.touch()
        try:
            r = self._c.edit(self._sid, path, old_string, new_string, replace_all=replace_all)
        except SbxError as e:
            return EditResult(error=_edit_error(e, path, old_string))
        except ValueError as e:
            return EditResult(error=f"Failed to edit file: {e}")
        return EditResult(path=_shown(path), occurrences=r.occurrences)

    def glob_info(self, pattern: str, path: str = "/", *,
                  newest_first: bool = False) -> list[FileInfo]:
        """Files only, in path order or newest-modified first (`*` stays within
        a directory, `**/` crosses, no braces). "", "/" and "." (the
        protocol's default) search /workspace, as DockerSandbox does."""
        self.touch()
        try:
            r = self._c.glob(self._sid, pattern, _root(path), newest_first=newest_first)
            return [_info(f) for f in r.files]
        except _FAILURES:
            return []

    def grep_raw(self, pattern: str, path: str | None = None, glob: str | None = None,
                 ignore_hidden: bool = True) -> list[GrepMatch] | str:
        """Perl-compatible regex (PCRE2) matches, or an "Error: ..." string.
        None, "", "/" and "." search /workspace."""
        self.touch()
        try:
            r = self._c.grep(self._sid, pattern, _root(path), glob=glob or "",
                             include_hidden=not ignore_hidden)
        except SbxError as e:
            return f"Error: {e.message}"
        except ValueError as e:
            return f"Error: {e}"
        return [GrepMatch(path=_fsname(m.path, m.raw_path), line_number=m.line_number,
                          line=_text(m.line))
                for m in r.matches]

    # ------------------------------------------------------------ commands

    def execute(self, command: str, timeout: int | None = None) -> ExecuteResponse:
        """`sh -c command` in /workspace; stdout and stderr merged; 124 on timeout."""
        self.touch()
        try:
            r = self._c.execute(self._sid, command,
                                timeout_ms=int(timeout * 1000) if timeout else 0)
        except SbxError as e:
            return ExecuteResponse(output=f"Error: {e.message}", exit_code=1)
        except ValueError as e:
            return ExecuteResponse(output=f"Error: {e}", exit_code=1)
        out = _text(r.output)
        truncated = r.truncated or len(out) > MAX_OUTPUT_CHARS
        return ExecuteResponse(output=out[:MAX_OUTPUT_CHARS], exit_code=r.exit_code,
                               truncated=truncated)

    def execute_background(self, command: str) -> BackgroundHandle:
        """Starts `sh -c command` detached. Raises SbxError when sbxd refuses
        (there is no error field in a handle; LocalBackend raises too)."""
        self.touch()
        p = self._c.start_process(self._sid, command).process
        return BackgroundHandle(shell_id=p.process_id, pid=p.pid, command=p.command or command)

    def _no_such(self, shell_id: str) -> BackgroundOutput:
        return BackgroundOutput(shell_id=shell_id, stdout="",
                                stderr=f"No such background shell: {shell_id}",
                                running=False, exit_code=None)

    def read_background(self, shell_id: str) -> BackgroundOutput:
        """Output new since the last read (stdout and stderr merged, in stdout)."""
        self.touch()
        if shell_id in self._released:
            return self._no_such(shell_id)
        try:
            r = self._c.read_process_output(self._sid, shell_id)
        except (NotFound, InvalidArgument, ValueError):
            return self._no_such(shell_id)
        except SbxError as e:
            return BackgroundOutput(shell_id=shell_id, stdout="", stderr=f"Error: {e.message}",
                                    running=False, exit_code=None)
        running = r.process.state == pb.PROCESS_STATE_RUNNING
        return BackgroundOutput(shell_id=shell_id, stdout=_text(r.output), stderr="",
                                running=running,
                                exit_code=None if running else r.process.exit_code)

    def _wait_gone(self, shell_id: str) -> bool:
        """Waits (WaitProcess) until the process has exited; False if it is
        still running after KILL_WAIT_MAX_S, a safety net, not a schedule."""
        end = time.monotonic() + KILL_WAIT_MAX_S
        while time.monotonic() < end:
            try:
                w = self._c.wait_process(self._sid, shell_id, timeout_ms=KILL_WAIT_SLICE_MS)
            except NotFound:
                return True
            except ResourceExhausted:       # sbxd's waiter slots are all taken: poll
                w = self._c.wait_process(self._sid, shell_id, timeout_ms=0)
                if w.process.state == pb.PROCESS_STATE_RUNNING:
                    time.sleep(0.05)
                    continue
            if w.process.state != pb.PROCESS_STATE_RUNNING:
                return True
        return False

    def kill_background(self, shell_id: str) -> bool:
        """Kills the process and its tree; True when it was running. Returns
        once sbxd has seen it exit, so a second call answers False."""
        self.touch()
        if shell_id in self._released:
            return False
        try:
            procs = self._c.list_processes(self._sid).processes
            if not any(p.process_id == shell_id and p.state == pb.PROCESS_STATE_RUNNING
                       for p in procs):
                return False
            if self._c.signal_process(self._sid, shell_id, signal=pb.SIGNAL_KILL).signalled == 0:
                return False
            self._wait_gone(shell_id)
            return True
        except _FAILURES:
            return False

    def list_background(self) -> list[BackgroundProcessInfo]:
        """The session's background processes, but for those
        kill_all_background released (sbxd keeps their records; this
        sandbox no longer lists them, as the library's backends do)."""
        self.touch()
        try:
            procs = self._c.list_processes(self._sid).processes
        except _FAILURES:
            return []
        out = []
        for p in procs:
            if p.process_id in self._released:
                continue
            running = p.state == pb.PROCESS_STATE_RUNNING
            out.append(BackgroundProcessInfo(shell_id=p.process_id, command=p.command, pid=p.pid,
                                             running=running,
                                             exit_code=None if running else p.exit_code))
        return out

    def kill_all_background(self) -> None:
        """Kills every background process of the session, waits until each is
        gone, and releases them all: list_background no longer lists them and
        read_background answers "No such background shell"."""
        self.touch()
        try:
            procs = self._c.list_processes(self._sid).processes
            self._c.signal_process(self._sid, signal=pb.SIGNAL_KILL, all=True)
            for p in procs:
                if p.state == pb.PROCESS_STATE_RUNNING:
                    self._wait_gone(p.process_id)
        except _FAILURES:
            return
        self._released.update(p.process_id for p in procs)


def _runtime_config(runtime: RuntimeConfig | str | None) -> RuntimeConfig | None:
    if runtime is None or isinstance(runtime, RuntimeConfig):
        return runtime
    return RuntimeConfig(name=str(runtime)) if runtime else None
