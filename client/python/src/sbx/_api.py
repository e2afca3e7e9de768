"""_api.py — every SessionService and SandboxService RPC as one method.

Each method builds the RPC's request message from keyword arguments and hands
it to `self._invoke`, which `Client` (sync: returns the response) and
`AsyncClient` (returns a coroutine to await) implement; so the RPC table is
written once for both. Results are the generated response messages
(`sbx.v1.sbx_pb2`): every field of the protocol, the same names as the proto
and the C API, typed by the committed .pyi, at no conversion cost.

`timeout` is the call's deadline in seconds (None = the client's default).
Execute and WaitProcess wait for a command, so their default deadline is the
command's own timeout plus `COMMAND_GRACE`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .v1 import sbx_pb2 as pb

SESSION = "sbx.v1.SessionService/"
SANDBOX = "sbx.v1.SandboxService/"
COMMAND_GRACE = 30.0
EXECUTE_DEFAULT_S = 300.0  # no timeout given: the runtime's default, at most exec_timeout_max (300 s)


def _labels(labels: Mapping[str, str] | None) -> list[pb.Label]:
    return [pb.Label(key=k, value=v) for k, v in (labels or {}).items()]


def _env(env: Mapping[str, str] | None) -> list[pb.EnvVar]:
    return [pb.EnvVar(name=k, value=v) for k, v in (env or {}).items()]


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


RUNTIME_BUILD_TIMEOUT = 30 * 60.0   # seconds CreateRuntime waits by default
SNAPSHOT_TIMEOUT = 10 * 60.0        # Snapshot, fork and restore (libsbx's SBX_SNAPSHOT_TIMEOUT_MS)

class Api:
    """The RPC methods; subclasses supply `_invoke` and `default_timeout`."""

    default_timeout: float | None

    def _invoke(self, method: str, request: Any, response_cls: type, timeout: float | None,
                request_id: str | None = None) -> Any:
        raise NotImplementedError

    def _t(self, timeout: float | None) -> float | None:
        return self.default_timeout if timeout is None else timeout

    def call(self, method: str, request: Any, response_cls: type, *,
             timeout: float | None = None, request_id: str | None = None) -> Any:
        """Any RPC by its full name ("sbx.v1.SandboxService/Read"), like libsbx's
        sbx_call_raw; `request_id` names the call in sbxd's log (default: random)."""
        return self._invoke(method, request, response_cls, self._t(timeout), request_id)

    # ------------------------------------------------------------ sessions

    def create_session(self, user_id: str, *, runtime: str = "", limits: pb.Limits | None = None,
                       labels: Mapping[str, str] | None = None, idle_timeout_ms: int = 0,
                       isolation: str = "", from_snapshot: str = "",
                       egress_allow: Iterable[str] = (),
                       timeout: float | None = None) -> pb.CreateSessionResponse:
        """`isolation`: "runc" or "gvisor" ("" = the runtime's, else the server's
        default); the response's session.isolation says which one it got.
        `from_snapshot`: a fork of that snapshot (its workspace and, when kept,
        its container layer; its runtime). `egress_allow`: hosts the session
        may reach through sbx's egress proxy ("pypi.org", "*.example.com",
        optionally ":PORT"); empty = no network. Change it with set_egress."""
        rq = pb.CreateSessionRequest(user_id=user_id, runtime=runtime, limits=limits,
                                     labels=_labels(labels), idle_timeout_ms=idle_timeout_ms,
                                     isolation=isolation, from_snapshot=from_snapshot,
                                     egress_allow=list(egress_allow))
        if from_snapshot:
            timeout = self._slow(timeout)
        return self._invoke(SESSION + "CreateSession", rq, pb.CreateSessionResponse, self._t(timeout))

    def _slow(self, timeout: float | None) -> float | None:
        if timeout is None and self.default_timeout is not None:
            return max(self.default_timeout, SNAPSHOT_TIMEOUT)
        return timeout

    # ------------------------------------------------------------ snapshots

    def snapshot(self, session_id: str, *, name: str = "",
                 labels: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> pb.SnapshotResponse:
        """Captures the session at one instant (frozen for `frozen_ms`): its
        workspace, and its container layer on a writable root (`kept`)."""
        rq = pb.SnapshotRequest(session_id=session_id, name=name, labels=_labels(labels))
        return self._invoke(SESSION + "Snapshot", rq, pb.SnapshotResponse,
                            self._t(self._slow(timeout)))

    def list_snapshots(self, *, user_id: str = "", session_id: str = "",
                       timeout: float | None = None) -> pb.ListSnapshotsResponse:
        rq = pb.ListSnapshotsRequest(user_id=user_id, session_id=session_id)
        return self._invoke(SESSION + "ListSnapshots", rq, pb.ListSnapshotsResponse,
                            self._t(timeout))

    def get_snapshot(self, snapshot_id: str, *,
                     timeout: float | None = None) -> pb.GetSnapshotResponse:
        return self._invoke(SESSION + "GetSnapshot", pb.GetSnapshotRequest(snapshot_id=snapshot_id),
                            pb.GetSnapshotResponse, self._t(timeout))

    def delete_snapshot(self, snapshot_id: str, *,
                        timeout: float | None = None) -> pb.DeleteSnapshotResponse:
        return self._invoke(SESSION + "DeleteSnapshot",
                            pb.DeleteSnapshotRequest(snapshot_id=snapshot_id),
                            pb.DeleteSnapshotResponse, self._t(timeout))

    def restore_session(self, session_id: str, snapshot_id: str, *,
                        timeout: float | None = None) -> pb.RestoreSessionResponse:
        """Puts the session back to one of its user's snapshots: its processes
        end, its workspace and container become the snapshot's."""
        rq = pb.RestoreSessionRequest(session_id=session_id, snapshot_id=snapshot_id)
        return self._invoke(SESSION + "RestoreSession", rq, pb.RestoreSessionResponse,
                            self._t(self._slow(timeout)))

    def get_session(self, session_id: str, *, timeout: float | None = None) -> pb.GetSessionResponse:
        rq = pb.GetSessionRequest(session_id=session_id)
        return self._invoke(SESSION + "GetSession", rq, pb.GetSessionResponse, self._t(timeout))

    def get_or_create_session(self, user_id: str, *, runtime: str = "",
                              limits: pb.Limits | None = None,
                              labels: Mapping[str, str] | None = None, idle_timeout_ms: int = 0,
                              isolation: str = "", egress_allow: Iterable[str] = (),
                              timeout: float | None = None) -> pb.GetOrCreateSessionResponse:
        """The user's live session, or a new one made with these arguments.
        `egress_allow`: a new session's allowlist (as create_session's); the
        live session must already have exactly this list (any order or case),
        else FailedPrecondition (change it with set_egress, or end a session
        on network none); empty asks nothing of the live session's egress."""
        rq = pb.GetOrCreateSessionRequest(user_id=user_id, runtime=runtime, limits=limits,
                                          labels=_labels(labels), idle_timeout_ms=idle_timeout_ms,
                                          isolation=isolation, egress_allow=list(egress_allow))
        return self._invoke(SESSION + "GetOrCreateSession", rq, pb.GetOrCreateSessionResponse,
                            self._t(timeout))

    def list_sessions(self, *, user_id: str = "", state: int = 0,
                      labels: Mapping[str, str] | None = None, page_size: int = 0,
                      page_token: str = "", include_ended: bool = False,
                      timeout: float | None = None) -> pb.ListSessionsResponse:
        rq = pb.ListSessionsRequest(user_id=user_id, state=state, labels=_labels(labels),
                                    page_size=page_size, page_token=page_token,
                                    include_ended=include_ended)
        return self._invoke(SESSION + "ListSessions", rq, pb.ListSessionsResponse, self._t(timeout))

    def end_session(self, session_id: str, *, purge: bool = False,
                    timeout: float | None = None) -> pb.EndSessionResponse:
        rq = pb.EndSessionRequest(session_id=session_id, purge=purge)
        return self._invoke(SESSION + "EndSession", rq, pb.EndSessionResponse, self._t(timeout))

    def set_egress(self, session_id: str, egress_allow: Iterable[str], *,
                   timeout: float | None = None) -> pb.SetEgressResponse:
        """Replaces the egress allowlist of a session created with one; it
        applies without a restart (empty: nothing allowed). Service key only."""
        rq = pb.SetEgressRequest(session_id=session_id, egress_allow=list(egress_allow))
        return self._invoke(SESSION + "SetEgress", rq, pb.SetEgressResponse, self._t(timeout))

    def rotate_token(self, session_id: str, *, revoke_only: bool = False,
                     timeout: float | None = None) -> pb.RotateTokenResponse:
        rq = pb.RotateTokenRequest(session_id=session_id, revoke_only=revoke_only)
        return self._invoke(SESSION + "RotateToken", rq, pb.RotateTokenResponse, self._t(timeout))

    def cleanup_idle(self, *, max_idle_ms: int = 0, labels: Mapping[str, str] | None = None,
                     user_ids: Iterable[str] = (),
                     timeout: float | None = None) -> pb.CleanupIdleResponse:
        """Stops idle sessions; with `labels`, only those carrying every one;
        with `user_ids`, only those of these users (empty: any)."""
        rq = pb.CleanupIdleRequest(max_idle_ms=max_idle_ms, labels=_labels(labels),
                                   user_ids=list(user_ids))
        return self._invoke(SESSION + "CleanupIdle", rq, pb.CleanupIdleResponse, self._t(timeout))

    def list_runtimes(self, *, timeout: float | None = None) -> pb.ListRuntimesResponse:
        return self._invoke(SESSION + "ListRuntimes", pb.ListRuntimesRequest(),
                            pb.ListRuntimesResponse, self._t(timeout))

    def get_runtime(self, name: str, *, timeout: float | None = None) -> pb.GetRuntimeResponse:
        return self._invoke(SESSION + "GetRuntime", pb.GetRuntimeRequest(name=name),
                            pb.GetRuntimeResponse, self._t(timeout))

    def create_runtime(self, name: str, *, base_runtime: str = "",
                       os_packages: Iterable[str] = (), pip_packages: Iterable[str] = (),
                       npm_packages: Iterable[str] = (), setup_commands: Iterable[str] = (),
                       env: Mapping[str, str] | None = None, work_dir: str = "",
                       timeout: float | None = None) -> pb.CreateRuntimeResponse:
        rq = pb.CreateRuntimeRequest(name=name, base_runtime=base_runtime,
                                     os_packages=list(os_packages), pip_packages=list(pip_packages),
                                     npm_packages=list(npm_packages),
                                     setup_commands=list(setup_commands),
                                     env=_labels(env), work_dir=work_dir)
        # a build takes tens of seconds to minutes: unless told otherwise wait
        # as long as libsbx does (SBX_RUNTIME_BUILD_TIMEOUT_MS, 30 minutes)
        if timeout is None and self.default_timeout is not None:
            timeout = max(self.default_timeout, RUNTIME_BUILD_TIMEOUT)
        return self._invoke(SESSION + "CreateRuntime", rq, pb.CreateRuntimeResponse, self._t(timeout))

    # ------------------------------------------------------------ files

    def ls(self, session_id: str, path: str = "", *, timeout: float | None = None) -> pb.LsResponse:
        return self._invoke(SANDBOX + "Ls", pb.LsRequest(session_id=session_id, path=path),
                            pb.LsResponse, self._t(timeout))

    def stat(self, session_id: str, path: str, *, timeout: float | None = None) -> pb.StatResponse:
        return self._invoke(SANDBOX + "Stat", pb.StatRequest(session_id=session_id, path=path),
                            pb.StatResponse, self._t(timeout))

    def read(self, session_id: str, path: str, *, offset: int = 0, limit: int = 0,
             timeout: float | None = None) -> pb.ReadResponse:
        rq = pb.ReadRequest(session_id=session_id, path=path, offset=offset, limit=limit)
        return self._invoke(SANDBOX + "Read", rq, pb.ReadResponse, self._t(timeout))

    def read_bytes(self, session_id: str, path: str, *, offset: int = 0, length: int = 0,
                   timeout: float | None = None) -> pb.ReadBytesResponse:
        rq = pb.ReadBytesRequest(session_id=session_id, path=path, offset=offset, length=length)
        return self._invoke(SANDBOX + "ReadBytes", rq, pb.ReadBytesResponse, self._t(timeout))

    def write(self, session_id: str, path: str, content: str | bytes, *, append: bool = False,
              timeout: float | None = None) -> pb.WriteResponse:
        rq = pb.WriteRequest(session_id=session_id, path=path, content=_bytes(content),
                             append=append)
        return self._invoke(SANDBOX + "Write", rq, pb.WriteResponse, self._t(timeout))

    def edit(self, session_id: str, path: str, old_string: str | bytes, new_string: str | bytes,
             *, replace_all: bool = False, timeout: float | None = None) -> pb.EditResponse:
        rq = pb.EditRequest(session_id=session_id, path=path, old_string=_bytes(old_string),
                            new_string=_bytes(new_string), replace_all=replace_all)
        return self._invoke(SANDBOX + "Edit", rq, pb.EditResponse, self._t(timeout))

    def glob(self, session_id: str, pattern: str, path: str = "", *, max_results: int = 0,
             newest_first: bool = False, timeout: float | None = None) -> pb.GlobResponse:
        rq = pb.GlobRequest(session_id=session_id, pattern=pattern, path=path,
                            max_results=max_results, newest_first=newest_first)
        return self._invoke(SANDBOX + "Glob", rq, pb.GlobResponse, self._t(timeout))

    def grep(self, session_id: str, pattern: str, path: str = "", *, glob: str = "",
             mode: int = pb.GREP_MODE_CONTENT, case_insensitive: bool = False,
             max_results: int = 0, include_hidden: bool = False,
             timeout: float | None = None) -> pb.GrepResponse:
        rq = pb.GrepRequest(session_id=session_id, pattern=pattern, path=path, glob=glob,
                            mode=mode, case_insensitive=case_insensitive,
                            max_results=max_results, include_hidden=include_hidden)
        return self._invoke(SANDBOX + "Grep", rq, pb.GrepResponse, self._t(timeout))

    def mkdir(self, session_id: str, path: str, *, parents: bool = False,
              timeout: float | None = None) -> pb.MkdirResponse:
        rq = pb.MkdirRequest(session_id=session_id, path=path, parents=parents)
        return self._invoke(SANDBOX + "Mkdir", rq, pb.MkdirResponse, self._t(timeout))

    def remove(self, session_id: str, path: str, *, recursive: bool = False,
               timeout: float | None = None) -> pb.RemoveResponse:
        rq = pb.RemoveRequest(session_id=session_id, path=path, recursive=recursive)
        return self._invoke(SANDBOX + "Remove", rq, pb.RemoveResponse, self._t(timeout))

    def move(self, session_id: str, src: str, dst: str, *, overwrite: bool = False,
             timeout: float | None = None) -> pb.MoveResponse:
        rq = pb.MoveRequest(session_id=session_id, to=dst, overwrite=overwrite)
        setattr(rq, "from", src)   # `from` is a Python keyword
        return self._invoke(SANDBOX + "Move", rq, pb.MoveResponse, self._t(timeout))

    def upload_begin(self, session_id: str, path: str, total_size: int, *,
                     timeout: float | None = None) -> pb.UploadBeginResponse:
        rq = pb.UploadBeginRequest(session_id=session_id, path=path, total_size=total_size)
        return self._invoke(SANDBOX + "UploadBegin", rq, pb.UploadBeginResponse, self._t(timeout))

    def upload_chunk(self, session_id: str, upload_id: str, offset: int, data: bytes, *,
                     timeout: float | None = None) -> pb.UploadChunkResponse:
        rq = pb.UploadChunkRequest(session_id=session_id, upload_id=upload_id, offset=offset,
                                   data=data)
        return self._invoke(SANDBOX + "UploadChunk", rq, pb.UploadChunkResponse, self._t(timeout))

    def upload_finish(self, session_id: str, upload_id: str, sha256: bytes, *,
                      timeout: float | None = None) -> pb.UploadFinishResponse:
        rq = pb.UploadFinishRequest(session_id=session_id, upload_id=upload_id, sha256=sha256)
        return self._invoke(SANDBOX + "UploadFinish", rq, pb.UploadFinishResponse,
                            self._t(timeout))

    def upload_abort(self, session_id: str, upload_id: str, *,
                     timeout: float | None = None) -> pb.UploadAbortResponse:
        rq = pb.UploadAbortRequest(session_id=session_id, upload_id=upload_id)
        return self._invoke(SANDBOX + "UploadAbort", rq, pb.UploadAbortResponse, self._t(timeout))

    def download(self, session_id: str, path: str, *, offset: int = 0, length: int = 0,
                 timeout: float | None = None) -> pb.DownloadResponse:
        rq = pb.DownloadRequest(session_id=session_id, path=path, offset=offset, length=length)
        return self._invoke(SANDBOX + "Download", rq, pb.DownloadResponse, self._t(timeout))

    # ------------------------------------------------------------ commands

    def execute(self, session_id: str, command: str, *, timeout_ms: int = 0,
                env: Mapping[str, str] | None = None, cwd: str = "", stdin: bytes = b"",
                max_output_bytes: int = 0, argv: Iterable[str] = (),
                timeout: float | None = None,
                request_id: str | None = None) -> pb.ExecuteResponse:
        """`sh -c command`, or with `argv` (and command "") exactly those words."""
        rq = pb.ExecuteRequest(session_id=session_id, command=command, timeout_ms=timeout_ms,
                               env=_env(env), cwd=cwd, stdin=stdin,
                               max_output_bytes=max_output_bytes, argv=list(argv))
        if timeout is None:
            run_s = timeout_ms / 1000 if timeout_ms else EXECUTE_DEFAULT_S
            timeout = max(self.default_timeout or 0, run_s + COMMAND_GRACE)
        return self._invoke(SANDBOX + "Execute", rq, pb.ExecuteResponse, timeout, request_id)

    def start_process(self, session_id: str, command: str, *,
                      env: Mapping[str, str] | None = None, cwd: str = "",
                      argv: Iterable[str] = (),
                      timeout: float | None = None) -> pb.StartProcessResponse:
        """`sh -c command`, or with `argv` (and command "") exactly those words."""
        rq = pb.StartProcessRequest(session_id=session_id, command=command, env=_env(env),
                                    cwd=cwd, argv=list(argv))
        return self._invoke(SANDBOX + "StartProcess", rq, pb.StartProcessResponse,
                            self._t(timeout))

    def list_processes(self, session_id: str, *,
                       timeout: float | None = None) -> pb.ListProcessesResponse:
        rq = pb.ListProcessesRequest(session_id=session_id)
        return self._invoke(SANDBOX + "ListProcesses", rq, pb.ListProcessesResponse,
                            self._t(timeout))

    def wait_process(self, session_id: str, process_id: str, *, timeout_ms: int = 0,
                     timeout: float | None = None) -> pb.WaitProcessResponse:
        rq = pb.WaitProcessRequest(session_id=session_id, process_id=process_id,
                                   timeout_ms=timeout_ms)
        if timeout is None:
            timeout = max(self.default_timeout or 0, timeout_ms / 1000 + COMMAND_GRACE)
        return self._invoke(SANDBOX + "WaitProcess", rq, pb.WaitProcessResponse, timeout)

    def signal_process(self, session_id: str, process_id: str = "", *,
                       signal: int = pb.SIGNAL_TERM, all: bool = False,
                       timeout: float | None = None) -> pb.SignalProcessResponse:
        rq = pb.SignalProcessRequest(session_id=session_id, process_id=process_id,
                                     signal=signal, all=all)
        return self._invoke(SANDBOX + "SignalProcess", rq, pb.SignalProcessResponse,
                            self._t(timeout))

    def send_stdin(self, session_id: str, process_id: str, data: str | bytes, *,
                   timeout: float | None = None) -> pb.SendStdinResponse:
        rq = pb.SendStdinRequest(session_id=session_id, process_id=process_id, data=_bytes(data))
        return self._invoke(SANDBOX + "SendStdin", rq, pb.SendStdinResponse, self._t(timeout))

    def close_stdin(self, session_id: str, process_id: str, *,
                    timeout: float | None = None) -> pb.CloseStdinResponse:
        rq = pb.CloseStdinRequest(session_id=session_id, process_id=process_id)
        return self._invoke(SANDBOX + "CloseStdin", rq, pb.CloseStdinResponse, self._t(timeout))

    def read_process_output(self, session_id: str, process_id: str, *,
                            timeout: float | None = None) -> pb.ReadProcessOutputResponse:
        rq = pb.ReadProcessOutputRequest(session_id=session_id, process_id=process_id)
        return self._invoke(SANDBOX + "ReadProcessOutput", rq, pb.ReadProcessOutputResponse,
                            self._t(timeout))

    # ------------------------------------------------------------ logs

    def subscribe_logs(self, session_id: str, *,
                       timeout: float | None = None) -> pb.SubscribeLogsResponse:
        rq = pb.SubscribeLogsRequest(session_id=session_id)
        return self._invoke(SANDBOX + "SubscribeLogs", rq, pb.SubscribeLogsResponse,
                            self._t(timeout))

    def read_logs(self, session_id: str, *, after_seq: int = 0, max: int = 0,
                  timeout: float | None = None) -> pb.ReadLogsResponse:
        rq = pb.ReadLogsRequest(session_id=session_id, after_seq=after_seq, max=max)
        return self._invoke(SANDBOX + "ReadLogs", rq, pb.ReadLogsResponse, self._t(timeout))

    # ------------------------------------------------------------ terminals

    def open_terminal(self, session_id: str, *, argv: Iterable[str] = (), cols: int = 80,
                      rows: int = 24, env: Mapping[str, str] | None = None, cwd: str = "",
                      timeout: float | None = None) -> pb.OpenTerminalResponse:
        """A pty in the sandbox running `argv` (empty: the user's login shell).
        Its output comes on the log stream (LOG_STREAM_TERMINAL, process_id =
        its id) after `terminal.after_seq`; `AsyncClient.terminal` wraps it."""
        rq = pb.OpenTerminalRequest(session_id=session_id, argv=list(argv), cols=cols,
                                    rows=rows, env=_env(env), cwd=cwd)
        return self._invoke(SANDBOX + "OpenTerminal", rq, pb.OpenTerminalResponse,
                            self._t(timeout))

    def terminal_input(self, session_id: str, terminal_id: str, data: str | bytes, *,
                       timeout: float | None = None) -> pb.TerminalInputResponse:
        rq = pb.TerminalInputRequest(session_id=session_id, terminal_id=terminal_id,
                                     data=_bytes(data))
        return self._invoke(SANDBOX + "TerminalInput", rq, pb.TerminalInputResponse,
                            self._t(timeout))

    def resize_terminal(self, session_id: str, terminal_id: str, cols: int, rows: int, *,
                        timeout: float | None = None) -> pb.ResizeTerminalResponse:
        rq = pb.ResizeTerminalRequest(session_id=session_id, terminal_id=terminal_id,
                                      cols=cols, rows=rows)
        return self._invoke(SANDBOX + "ResizeTerminal", rq, pb.ResizeTerminalResponse,
                            self._t(timeout))

    def close_terminal(self, session_id: str, terminal_id: str, *,
                       timeout: float | None = None) -> pb.CloseTerminalResponse:
        """Kills every process of the terminal; waits (up to 30 s) for its end."""
        rq = pb.CloseTerminalRequest(session_id=session_id, terminal_id=terminal_id)
        if timeout is None:
            timeout = max(self.default_timeout or 0, COMMAND_GRACE + 30.0)
        return self._invoke(SANDBOX + "CloseTerminal", rq, pb.CloseTerminalResponse, timeout)

    def list_terminals(self, session_id: str, *,
                       timeout: float | None = None) -> pb.ListTerminalsResponse:
        rq = pb.ListTerminalsRequest(session_id=session_id)
        return self._invoke(SANDBOX + "ListTerminals", rq, pb.ListTerminalsResponse,
                            self._t(timeout))

    # ------------------------------------------------------------ file watches

    def watch(self, session_id: str, path: str = "", *, recursive: bool = False,
              globs: Iterable[str] = (), timeout: float | None = None) -> pb.WatchResponse:
        """Starts a watch; its changes come on the log stream (LOG_STREAM_WATCH,
        process_id = its id, data = a packed WatchEventBatch) after `after_seq`.
        `AsyncClient.watch_changes` wraps it as an async iterator."""
        rq = pb.WatchRequest(session_id=session_id, path=path, recursive=recursive,
                             globs=list(globs))
        return self._invoke(SANDBOX + "Watch", rq, pb.WatchResponse, self._t(timeout))

    def unwatch(self, session_id: str, watch_id: str, *,
                timeout: float | None = None) -> pb.UnwatchResponse:
        rq = pb.UnwatchRequest(session_id=session_id, watch_id=watch_id)
        return self._invoke(SANDBOX + "Unwatch", rq, pb.UnwatchResponse, self._t(timeout))
