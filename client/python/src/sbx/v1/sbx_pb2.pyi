from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ABORTED: Code
ALREADY_EXISTS: Code
CANCELLED: Code
DATA_LOSS: Code
DEADLINE_EXCEEDED: Code
DESCRIPTOR: _descriptor.FileDescriptor
FAILED_PRECONDITION: Code
GREP_MODE_CONTENT: GrepMode
GREP_MODE_COUNT: GrepMode
GREP_MODE_FILES_WITH_MATCHES: GrepMode
INTERNAL: Code
INVALID_ARGUMENT: Code
LOG_STREAM_STDERR: LogStream
LOG_STREAM_STDOUT: LogStream
LOG_STREAM_SYSTEM: LogStream
LOG_STREAM_TERMINAL: LogStream
LOG_STREAM_UNSPECIFIED: LogStream
LOG_STREAM_WATCH: LogStream
NOT_FOUND: Code
OK: Code
OUT_OF_RANGE: Code
PERMISSION_DENIED: Code
PROCESS_STATE_EXITED: ProcessState
PROCESS_STATE_KILLED: ProcessState
PROCESS_STATE_RUNNING: ProcessState
PROCESS_STATE_UNSPECIFIED: ProcessState
RESOURCE_EXHAUSTED: Code
SESSION_STATE_CREATING: SessionState
SESSION_STATE_ENDED: SessionState
SESSION_STATE_FAILED: SessionState
SESSION_STATE_RUNNING: SessionState
SESSION_STATE_STOPPED: SessionState
SESSION_STATE_UNSPECIFIED: SessionState
SIGNAL_INT: Signal
SIGNAL_KILL: Signal
SIGNAL_TERM: Signal
SIGNAL_UNSPECIFIED: Signal
UNAUTHENTICATED: Code
UNAVAILABLE: Code
UNIMPLEMENTED: Code
UNKNOWN: Code
WATCH_CREATED: WatchEventKind
WATCH_DELETED: WatchEventKind
WATCH_MODIFIED: WatchEventKind
WATCH_MOVED: WatchEventKind
WATCH_RESCAN: WatchEventKind
WATCH_UNSPECIFIED: WatchEventKind

class CleanupIdleRequest(_message.Message):
    __slots__ = ["labels", "max_idle_ms", "user_ids"]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_IDLE_MS_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    max_idle_ms: int
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, max_idle_ms: _Optional[int] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CleanupIdleResponse(_message.Message):
    __slots__ = ["stopped_session_ids"]
    STOPPED_SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    stopped_session_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stopped_session_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CloseStdinRequest(_message.Message):
    __slots__ = ["process_id", "session_id"]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., process_id: _Optional[str] = ...) -> None: ...

class CloseStdinResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class CloseTerminalRequest(_message.Message):
    __slots__ = ["session_id", "terminal_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    terminal_id: str
    def __init__(self, session_id: _Optional[str] = ..., terminal_id: _Optional[str] = ...) -> None: ...

class CloseTerminalResponse(_message.Message):
    __slots__ = ["terminal"]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    terminal: TerminalInfo
    def __init__(self, terminal: _Optional[_Union[TerminalInfo, _Mapping]] = ...) -> None: ...

class CreateRuntimeRequest(_message.Message):
    __slots__ = ["base_runtime", "env", "name", "npm_packages", "os_packages", "pip_packages", "setup_commands", "work_dir"]
    BASE_RUNTIME_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NPM_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    OS_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    PIP_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    SETUP_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    WORK_DIR_FIELD_NUMBER: _ClassVar[int]
    base_runtime: str
    env: _containers.RepeatedCompositeFieldContainer[Label]
    name: str
    npm_packages: _containers.RepeatedScalarFieldContainer[str]
    os_packages: _containers.RepeatedScalarFieldContainer[str]
    pip_packages: _containers.RepeatedScalarFieldContainer[str]
    setup_commands: _containers.RepeatedScalarFieldContainer[str]
    work_dir: str
    def __init__(self, name: _Optional[str] = ..., base_runtime: _Optional[str] = ..., os_packages: _Optional[_Iterable[str]] = ..., pip_packages: _Optional[_Iterable[str]] = ..., npm_packages: _Optional[_Iterable[str]] = ..., setup_commands: _Optional[_Iterable[str]] = ..., env: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., work_dir: _Optional[str] = ...) -> None: ...

class CreateRuntimeResponse(_message.Message):
    __slots__ = ["build_log", "runtime"]
    BUILD_LOG_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    build_log: bytes
    runtime: Runtime
    def __init__(self, runtime: _Optional[_Union[Runtime, _Mapping]] = ..., build_log: _Optional[bytes] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ["egress_allow", "from_snapshot", "idle_timeout_ms", "isolation", "labels", "limits", "runtime", "user_id"]
    EGRESS_ALLOW_FIELD_NUMBER: _ClassVar[int]
    FROM_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    egress_allow: _containers.RepeatedScalarFieldContainer[str]
    from_snapshot: str
    idle_timeout_ms: int
    isolation: str
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    limits: Limits
    runtime: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., runtime: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., idle_timeout_ms: _Optional[int] = ..., isolation: _Optional[str] = ..., from_snapshot: _Optional[str] = ..., egress_allow: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ["session", "session_token"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session: Session
    session_token: str
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., session_token: _Optional[str] = ...) -> None: ...

class Credentials(_message.Message):
    __slots__ = ["service_key", "session_token"]
    SERVICE_KEY_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    service_key: str
    session_token: str
    def __init__(self, service_key: _Optional[str] = ..., session_token: _Optional[str] = ...) -> None: ...

class DeleteSnapshotRequest(_message.Message):
    __slots__ = ["snapshot_id"]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    def __init__(self, snapshot_id: _Optional[str] = ...) -> None: ...

class DeleteSnapshotResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DownloadRequest(_message.Message):
    __slots__ = ["length", "offset", "path", "session_id"]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    length: int
    offset: int
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class DownloadResponse(_message.Message):
    __slots__ = ["data", "eof", "sha256", "total_size"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    eof: bool
    sha256: bytes
    total_size: int
    def __init__(self, data: _Optional[bytes] = ..., total_size: _Optional[int] = ..., eof: bool = ..., sha256: _Optional[bytes] = ...) -> None: ...

class EditRequest(_message.Message):
    __slots__ = ["new_string", "old_string", "path", "replace_all", "session_id"]
    NEW_STRING_FIELD_NUMBER: _ClassVar[int]
    OLD_STRING_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REPLACE_ALL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    new_string: bytes
    old_string: bytes
    path: str
    replace_all: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., old_string: _Optional[bytes] = ..., new_string: _Optional[bytes] = ..., replace_all: bool = ...) -> None: ...

class EditResponse(_message.Message):
    __slots__ = ["occurrences"]
    OCCURRENCES_FIELD_NUMBER: _ClassVar[int]
    occurrences: int
    def __init__(self, occurrences: _Optional[int] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ["purge", "session_id"]
    PURGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    purge: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., purge: bool = ...) -> None: ...

class EndSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ["name", "value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ["argv", "command", "cwd", "env", "max_output_bytes", "session_id", "stdin", "timeout_ms"]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    argv: _containers.RepeatedScalarFieldContainer[str]
    command: str
    cwd: str
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    max_output_bytes: int
    session_id: str
    stdin: bytes
    timeout_ms: int
    def __init__(self, session_id: _Optional[str] = ..., command: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., cwd: _Optional[str] = ..., stdin: _Optional[bytes] = ..., max_output_bytes: _Optional[int] = ..., argv: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ["duration_ms", "exit_code", "output", "session_state", "stderr", "stdout", "timed_out", "truncated"]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SESSION_STATE_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    duration_ms: int
    exit_code: int
    output: bytes
    session_state: SessionState
    stderr: bytes
    stdout: bytes
    timed_out: bool
    truncated: bool
    def __init__(self, exit_code: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., output: _Optional[bytes] = ..., truncated: bool = ..., timed_out: bool = ..., duration_ms: _Optional[int] = ..., session_state: _Optional[_Union[SessionState, str]] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ["is_dir", "is_symlink", "mode", "mtime_unix_ms", "name", "path", "raw_name", "raw_path", "size"]
    IS_DIR_FIELD_NUMBER: _ClassVar[int]
    IS_SYMLINK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MTIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RAW_NAME_FIELD_NUMBER: _ClassVar[int]
    RAW_PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    is_dir: bool
    is_symlink: bool
    mode: int
    mtime_unix_ms: int
    name: str
    path: str
    raw_name: bytes
    raw_path: bytes
    size: int
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., is_dir: bool = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., mtime_unix_ms: _Optional[int] = ..., is_symlink: bool = ..., raw_name: _Optional[bytes] = ..., raw_path: _Optional[bytes] = ...) -> None: ...

class GetOrCreateSessionRequest(_message.Message):
    __slots__ = ["egress_allow", "idle_timeout_ms", "isolation", "labels", "limits", "runtime", "user_id"]
    EGRESS_ALLOW_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    egress_allow: _containers.RepeatedScalarFieldContainer[str]
    idle_timeout_ms: int
    isolation: str
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    limits: Limits
    runtime: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., runtime: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., idle_timeout_ms: _Optional[int] = ..., isolation: _Optional[str] = ..., egress_allow: _Optional[_Iterable[str]] = ...) -> None: ...

class GetOrCreateSessionResponse(_message.Message):
    __slots__ = ["created", "session", "session_token"]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    created: bool
    session: Session
    session_token: str
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., created: bool = ..., session_token: _Optional[str] = ...) -> None: ...

class GetRuntimeRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetRuntimeResponse(_message.Message):
    __slots__ = ["runtime"]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    runtime: Runtime
    def __init__(self, runtime: _Optional[_Union[Runtime, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ["snapshot_id"]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    def __init__(self, snapshot_id: _Optional[str] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ["snapshot"]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class GlobRequest(_message.Message):
    __slots__ = ["max_results", "newest_first", "path", "pattern", "session_id"]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    newest_first: bool
    path: str
    pattern: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., pattern: _Optional[str] = ..., path: _Optional[str] = ..., max_results: _Optional[int] = ..., newest_first: bool = ...) -> None: ...

class GlobResponse(_message.Message):
    __slots__ = ["files", "truncated"]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileInfo]
    truncated: bool
    def __init__(self, files: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class GrepCount(_message.Message):
    __slots__ = ["count", "path", "raw_path"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RAW_PATH_FIELD_NUMBER: _ClassVar[int]
    count: int
    path: str
    raw_path: bytes
    def __init__(self, path: _Optional[str] = ..., count: _Optional[int] = ..., raw_path: _Optional[bytes] = ...) -> None: ...

class GrepMatch(_message.Message):
    __slots__ = ["line", "line_number", "path", "raw_path"]
    LINE_FIELD_NUMBER: _ClassVar[int]
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RAW_PATH_FIELD_NUMBER: _ClassVar[int]
    line: bytes
    line_number: int
    path: str
    raw_path: bytes
    def __init__(self, path: _Optional[str] = ..., line_number: _Optional[int] = ..., line: _Optional[bytes] = ..., raw_path: _Optional[bytes] = ...) -> None: ...

class GrepRequest(_message.Message):
    __slots__ = ["case_insensitive", "glob", "include_hidden", "max_results", "mode", "path", "pattern", "session_id"]
    CASE_INSENSITIVE_FIELD_NUMBER: _ClassVar[int]
    GLOB_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    case_insensitive: bool
    glob: str
    include_hidden: bool
    max_results: int
    mode: GrepMode
    path: str
    pattern: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., pattern: _Optional[str] = ..., path: _Optional[str] = ..., glob: _Optional[str] = ..., mode: _Optional[_Union[GrepMode, str]] = ..., case_insensitive: bool = ..., max_results: _Optional[int] = ..., include_hidden: bool = ...) -> None: ...

class GrepResponse(_message.Message):
    __slots__ = ["counts", "files", "matches", "truncated"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[GrepCount]
    files: _containers.RepeatedScalarFieldContainer[str]
    matches: _containers.RepeatedCompositeFieldContainer[GrepMatch]
    truncated: bool
    def __init__(self, matches: _Optional[_Iterable[_Union[GrepMatch, _Mapping]]] = ..., files: _Optional[_Iterable[str]] = ..., counts: _Optional[_Iterable[_Union[GrepCount, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class Label(_message.Message):
    __slots__ = ["key", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ["exec_timeout_ms", "memory_bytes", "nano_cpus", "pids"]
    EXEC_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NANO_CPUS_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    exec_timeout_ms: int
    memory_bytes: int
    nano_cpus: int
    pids: int
    def __init__(self, memory_bytes: _Optional[int] = ..., nano_cpus: _Optional[int] = ..., pids: _Optional[int] = ..., exec_timeout_ms: _Optional[int] = ...) -> None: ...

class ListProcessesRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListProcessesResponse(_message.Message):
    __slots__ = ["processes"]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[ProcessInfo]
    def __init__(self, processes: _Optional[_Iterable[_Union[ProcessInfo, _Mapping]]] = ...) -> None: ...

class ListRuntimesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListRuntimesResponse(_message.Message):
    __slots__ = ["runtimes"]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    runtimes: _containers.RepeatedCompositeFieldContainer[Runtime]
    def __init__(self, runtimes: _Optional[_Iterable[_Union[Runtime, _Mapping]]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ["include_ended", "labels", "page_size", "page_token", "state", "user_id"]
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    include_ended: bool
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    page_size: int
    page_token: str
    state: SessionState
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., state: _Optional[_Union[SessionState, str]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_ended: bool = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ["next_page_token", "sessions"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ["session_id", "user_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ["snapshots"]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ...) -> None: ...

class ListTerminalsRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListTerminalsResponse(_message.Message):
    __slots__ = ["terminals"]
    TERMINALS_FIELD_NUMBER: _ClassVar[int]
    terminals: _containers.RepeatedCompositeFieldContainer[TerminalInfo]
    def __init__(self, terminals: _Optional[_Iterable[_Union[TerminalInfo, _Mapping]]] = ...) -> None: ...

class LogEvent(_message.Message):
    __slots__ = ["data", "epoch", "process_id", "seq", "stream", "unix_ms"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    epoch: int
    process_id: str
    seq: int
    stream: LogStream
    unix_ms: int
    def __init__(self, seq: _Optional[int] = ..., process_id: _Optional[str] = ..., stream: _Optional[_Union[LogStream, str]] = ..., data: _Optional[bytes] = ..., unix_ms: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class LsRequest(_message.Message):
    __slots__ = ["path", "session_id"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class LsResponse(_message.Message):
    __slots__ = ["entries", "truncated"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[FileInfo]
    truncated: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class MkdirRequest(_message.Message):
    __slots__ = ["parents", "path", "session_id"]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    parents: bool
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., parents: bool = ...) -> None: ...

class MkdirResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class MoveRequest(_message.Message):
    __slots__ = ["overwrite", "session_id", "to"]
    FROM_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    overwrite: bool
    session_id: str
    to: str
    def __init__(self, session_id: _Optional[str] = ..., to: _Optional[str] = ..., overwrite: bool = ..., **kwargs) -> None: ...

class MoveResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class OpenTerminalRequest(_message.Message):
    __slots__ = ["argv", "cols", "cwd", "env", "rows", "session_id"]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    argv: _containers.RepeatedScalarFieldContainer[str]
    cols: int
    cwd: str
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    rows: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., cwd: _Optional[str] = ...) -> None: ...

class OpenTerminalResponse(_message.Message):
    __slots__ = ["terminal"]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    terminal: TerminalInfo
    def __init__(self, terminal: _Optional[_Union[TerminalInfo, _Mapping]] = ...) -> None: ...

class ProcessInfo(_message.Message):
    __slots__ = ["command", "ended_unix_ms", "exit_code", "pid", "process_id", "started_unix_ms", "state"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENDED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    command: str
    ended_unix_ms: int
    exit_code: int
    pid: int
    process_id: str
    started_unix_ms: int
    state: ProcessState
    def __init__(self, process_id: _Optional[str] = ..., command: _Optional[str] = ..., state: _Optional[_Union[ProcessState, str]] = ..., exit_code: _Optional[int] = ..., started_unix_ms: _Optional[int] = ..., ended_unix_ms: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class ReadBytesRequest(_message.Message):
    __slots__ = ["length", "offset", "path", "session_id"]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    length: int
    offset: int
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadBytesResponse(_message.Message):
    __slots__ = ["data", "eof", "file_size"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    eof: bool
    file_size: int
    def __init__(self, data: _Optional[bytes] = ..., file_size: _Optional[int] = ..., eof: bool = ...) -> None: ...

class ReadLogsRequest(_message.Message):
    __slots__ = ["after_seq", "max", "session_id"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    max: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., max: _Optional[int] = ...) -> None: ...

class ReadLogsResponse(_message.Message):
    __slots__ = ["epoch", "events", "first_available_seq", "lost"]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_AVAILABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    events: _containers.RepeatedCompositeFieldContainer[LogEvent]
    first_available_seq: int
    lost: int
    def __init__(self, events: _Optional[_Iterable[_Union[LogEvent, _Mapping]]] = ..., first_available_seq: _Optional[int] = ..., lost: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class ReadProcessOutputRequest(_message.Message):
    __slots__ = ["process_id", "session_id"]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., process_id: _Optional[str] = ...) -> None: ...

class ReadProcessOutputResponse(_message.Message):
    __slots__ = ["output", "process"]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    output: bytes
    process: ProcessInfo
    def __init__(self, output: _Optional[bytes] = ..., process: _Optional[_Union[ProcessInfo, _Mapping]] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ["limit", "offset", "path", "session_id"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ["content", "remaining_lines", "total_lines"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    remaining_lines: int
    total_lines: int
    def __init__(self, content: _Optional[bytes] = ..., total_lines: _Optional[int] = ..., remaining_lines: _Optional[int] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ["path", "recursive", "session_id"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    recursive: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: bool = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Request(_message.Message):
    __slots__ = ["credentials", "deadline_unix_ms", "method", "payload", "request_id"]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    credentials: Credentials
    deadline_unix_ms: int
    method: str
    payload: bytes
    request_id: str
    def __init__(self, method: _Optional[str] = ..., request_id: _Optional[str] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., deadline_unix_ms: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ResizeTerminalRequest(_message.Message):
    __slots__ = ["cols", "rows", "session_id", "terminal_id"]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    cols: int
    rows: int
    session_id: str
    terminal_id: str
    def __init__(self, session_id: _Optional[str] = ..., terminal_id: _Optional[str] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class ResizeTerminalResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Response(_message.Message):
    __slots__ = ["payload", "request_id", "status"]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    request_id: str
    status: Status
    def __init__(self, request_id: _Optional[str] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., payload: _Optional[bytes] = ...) -> None: ...

class RestoreSessionRequest(_message.Message):
    __slots__ = ["session_id", "snapshot_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    snapshot_id: str
    def __init__(self, session_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ...) -> None: ...

class RestoreSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class RotateTokenRequest(_message.Message):
    __slots__ = ["revoke_only", "session_id"]
    REVOKE_ONLY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    revoke_only: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., revoke_only: bool = ...) -> None: ...

class RotateTokenResponse(_message.Message):
    __slots__ = ["session_token"]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    def __init__(self, session_token: _Optional[str] = ...) -> None: ...

class Runtime(_message.Message):
    __slots__ = ["build_command", "default_limits", "description", "env", "image", "isolation", "name", "network_mode", "packages", "ready", "work_dir"]
    BUILD_COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LIMITS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_MODE_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    WORK_DIR_FIELD_NUMBER: _ClassVar[int]
    build_command: str
    default_limits: Limits
    description: str
    env: _containers.RepeatedCompositeFieldContainer[Label]
    image: str
    isolation: str
    name: str
    network_mode: str
    packages: _containers.RepeatedScalarFieldContainer[str]
    ready: bool
    work_dir: str
    def __init__(self, name: _Optional[str] = ..., image: _Optional[str] = ..., description: _Optional[str] = ..., packages: _Optional[_Iterable[str]] = ..., work_dir: _Optional[str] = ..., env: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., default_limits: _Optional[_Union[Limits, _Mapping]] = ..., network_mode: _Optional[str] = ..., ready: bool = ..., build_command: _Optional[str] = ..., isolation: _Optional[str] = ...) -> None: ...

class SealedLogEvent(_message.Message):
    __slots__ = ["ciphertext", "nonce", "seq"]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    nonce: bytes
    seq: int
    def __init__(self, seq: _Optional[int] = ..., nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class SendStdinRequest(_message.Message):
    __slots__ = ["data", "process_id", "session_id"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    process_id: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., process_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SendStdinResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Session(_message.Message):
    __slots__ = ["container_id", "created_unix_ms", "egress", "egress_allow", "idle_timeout_ms", "isolation", "labels", "last_active_unix_ms", "limits", "runtime", "session_id", "state", "stop_reason", "usage", "user_id", "workspace_path"]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EGRESS_ALLOW_FIELD_NUMBER: _ClassVar[int]
    EGRESS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_PATH_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    created_unix_ms: int
    egress: bool
    egress_allow: _containers.RepeatedScalarFieldContainer[str]
    idle_timeout_ms: int
    isolation: str
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    last_active_unix_ms: int
    limits: Limits
    runtime: str
    session_id: str
    state: SessionState
    stop_reason: str
    usage: Usage
    user_id: str
    workspace_path: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., runtime: _Optional[str] = ..., container_id: _Optional[str] = ..., workspace_path: _Optional[str] = ..., state: _Optional[_Union[SessionState, str]] = ..., created_unix_ms: _Optional[int] = ..., last_active_unix_ms: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., stop_reason: _Optional[str] = ..., isolation: _Optional[str] = ..., egress_allow: _Optional[_Iterable[str]] = ..., egress: bool = ...) -> None: ...

class SetEgressRequest(_message.Message):
    __slots__ = ["egress_allow", "session_id"]
    EGRESS_ALLOW_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    egress_allow: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., egress_allow: _Optional[_Iterable[str]] = ...) -> None: ...

class SetEgressResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class SignalProcessRequest(_message.Message):
    __slots__ = ["all", "process_id", "session_id", "signal"]
    ALL_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    process_id: str
    session_id: str
    signal: Signal
    def __init__(self, session_id: _Optional[str] = ..., process_id: _Optional[str] = ..., signal: _Optional[_Union[Signal, str]] = ..., all: bool = ...) -> None: ...

class SignalProcessResponse(_message.Message):
    __slots__ = ["signalled"]
    SIGNALLED_FIELD_NUMBER: _ClassVar[int]
    signalled: int
    def __init__(self, signalled: _Optional[int] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ["created_unix_ms", "frozen_ms", "image", "kept", "labels", "layer_bytes", "name", "runtime", "session_id", "snapshot_id", "user_id", "workspace_bytes"]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FROZEN_MS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LAYER_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_BYTES_FIELD_NUMBER: _ClassVar[int]
    created_unix_ms: int
    frozen_ms: int
    image: str
    kept: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    layer_bytes: int
    name: str
    runtime: str
    session_id: str
    snapshot_id: str
    user_id: str
    workspace_bytes: int
    def __init__(self, snapshot_id: _Optional[str] = ..., name: _Optional[str] = ..., user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., runtime: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., frozen_ms: _Optional[int] = ..., workspace_bytes: _Optional[int] = ..., layer_bytes: _Optional[int] = ..., kept: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., image: _Optional[str] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ["labels", "name", "session_id"]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    name: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., name: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ["snapshot"]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class StartProcessRequest(_message.Message):
    __slots__ = ["argv", "command", "cwd", "env", "session_id"]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    argv: _containers.RepeatedScalarFieldContainer[str]
    command: str
    cwd: str
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., command: _Optional[str] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., cwd: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ...) -> None: ...

class StartProcessResponse(_message.Message):
    __slots__ = ["process"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    process: ProcessInfo
    def __init__(self, process: _Optional[_Union[ProcessInfo, _Mapping]] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ["path", "session_id"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class StatResponse(_message.Message):
    __slots__ = ["exists", "info"]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    info: FileInfo
    def __init__(self, exists: bool = ..., info: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ["code", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: Code
    message: str
    def __init__(self, code: _Optional[_Union[Code, str]] = ..., message: _Optional[str] = ...) -> None: ...

class SubscribeLogsRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class SubscribeLogsResponse(_message.Message):
    __slots__ = ["endpoint", "epoch", "key", "next_seq", "topic"]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQ_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    epoch: int
    key: bytes
    next_seq: int
    topic: str
    def __init__(self, endpoint: _Optional[str] = ..., topic: _Optional[str] = ..., key: _Optional[bytes] = ..., next_seq: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class TerminalInfo(_message.Message):
    __slots__ = ["after_seq", "cols", "command", "ended_unix_ms", "exit_code", "pid", "rows", "running", "started_unix_ms", "terminal_id"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENDED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    cols: int
    command: str
    ended_unix_ms: int
    exit_code: int
    pid: int
    rows: int
    running: bool
    started_unix_ms: int
    terminal_id: str
    def __init__(self, terminal_id: _Optional[str] = ..., command: _Optional[str] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ..., running: bool = ..., exit_code: _Optional[int] = ..., started_unix_ms: _Optional[int] = ..., ended_unix_ms: _Optional[int] = ..., pid: _Optional[int] = ..., after_seq: _Optional[int] = ...) -> None: ...

class TerminalInputRequest(_message.Message):
    __slots__ = ["data", "session_id", "terminal_id"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    session_id: str
    terminal_id: str
    def __init__(self, session_id: _Optional[str] = ..., terminal_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class TerminalInputResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UnwatchRequest(_message.Message):
    __slots__ = ["session_id", "watch_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    watch_id: str
    def __init__(self, session_id: _Optional[str] = ..., watch_id: _Optional[str] = ...) -> None: ...

class UnwatchResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UploadAbortRequest(_message.Message):
    __slots__ = ["session_id", "upload_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    upload_id: str
    def __init__(self, session_id: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class UploadAbortResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UploadBeginRequest(_message.Message):
    __slots__ = ["path", "session_id", "total_size"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    session_id: str
    total_size: int
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class UploadBeginResponse(_message.Message):
    __slots__ = ["chunk_size", "upload_id"]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    chunk_size: int
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class UploadChunkRequest(_message.Message):
    __slots__ = ["data", "offset", "session_id", "upload_id"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    session_id: str
    upload_id: str
    def __init__(self, session_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadChunkResponse(_message.Message):
    __slots__ = ["received"]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    received: int
    def __init__(self, received: _Optional[int] = ...) -> None: ...

class UploadFinishRequest(_message.Message):
    __slots__ = ["session_id", "sha256", "upload_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    sha256: bytes
    upload_id: str
    def __init__(self, session_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., sha256: _Optional[bytes] = ...) -> None: ...

class UploadFinishResponse(_message.Message):
    __slots__ = ["size"]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ["cpu_percent", "disk_bytes", "disk_limit_bytes", "memory_bytes", "memory_limit_bytes", "oom_kills", "pids"]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLS_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    disk_bytes: int
    disk_limit_bytes: int
    memory_bytes: int
    memory_limit_bytes: int
    oom_kills: int
    pids: int
    def __init__(self, memory_bytes: _Optional[int] = ..., memory_limit_bytes: _Optional[int] = ..., cpu_percent: _Optional[float] = ..., pids: _Optional[int] = ..., oom_kills: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., disk_limit_bytes: _Optional[int] = ...) -> None: ...

class WaitProcessRequest(_message.Message):
    __slots__ = ["process_id", "session_id", "timeout_ms"]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    session_id: str
    timeout_ms: int
    def __init__(self, session_id: _Optional[str] = ..., process_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class WaitProcessResponse(_message.Message):
    __slots__ = ["process", "timed_out"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    process: ProcessInfo
    timed_out: bool
    def __init__(self, process: _Optional[_Union[ProcessInfo, _Mapping]] = ..., timed_out: bool = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ["is_dir", "kind", "mtime_unix_ns", "path", "size"]
    FROM_FIELD_NUMBER: _ClassVar[int]
    IS_DIR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MTIME_UNIX_NS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    is_dir: bool
    kind: WatchEventKind
    mtime_unix_ns: int
    path: bytes
    size: int
    def __init__(self, kind: _Optional[_Union[WatchEventKind, str]] = ..., path: _Optional[bytes] = ..., size: _Optional[int] = ..., mtime_unix_ns: _Optional[int] = ..., is_dir: bool = ..., **kwargs) -> None: ...

class WatchEventBatch(_message.Message):
    __slots__ = ["events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WatchEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[WatchEvent, _Mapping]]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ["globs", "path", "recursive", "session_id"]
    GLOBS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    globs: _containers.RepeatedScalarFieldContainer[str]
    path: str
    recursive: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: bool = ..., globs: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ["after_seq", "watch_id"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    watch_id: str
    def __init__(self, watch_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ["append", "content", "path", "session_id"]
    APPEND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    append: bool
    content: bytes
    path: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., content: _Optional[bytes] = ..., append: bool = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ["bytes_written", "path"]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    bytes_written: int
    path: str
    def __init__(self, path: _Optional[str] = ..., bytes_written: _Optional[int] = ...) -> None: ...

class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class GrepMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ProcessState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Signal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LogStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class WatchEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
