"""sbx — Python client for sbx, isolated per-user sandboxes driven over nng + protobuf.

`Client` / `AsyncClient` speak every RPC of proto/sbx/v1/sbx.proto (results are
the generated messages in `sbx.v1.sbx_pb2`, failures `SbxError` subclasses per
status code). `SbxSandbox` and `SbxSessionManager` (module `sbx.sandbox`,
`sbx.manager`; need the `pydantic-ai` extra) make sbx a drop-in backend for
pydantic-ai-backend's agents (0.2.29); `SbxWorkspace` / `SbxWorkspaceBackend`
(module `sbx.workspace`; the `pydantic-ai-current` extra) are sbx sessions as
workspaces of today's pydantic-ai and pydantic-ai-backend (0.2.30+).
"""

from .client import AsyncClient, Client
from .errors import (Aborted, AlreadyExists, BadReply, Cancelled, Code, DataLoss,
                     DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, NotFound,
                     OutOfRange, PermissionDenied, ResourceExhausted, SbxError, Unauthenticated,
                     Unavailable, Unimplemented, Unknown)
from .v1 import sbx_pb2 as pb

__all__ = [
    "AsyncClient", "Client", "pb", "Code", "SbxError", "Aborted", "AlreadyExists", "BadReply",
    "Cancelled",
    "DataLoss", "DeadlineExceeded", "FailedPrecondition", "Internal", "InvalidArgument",
    "NotFound", "OutOfRange", "PermissionDenied", "ResourceExhausted", "Unauthenticated",
    "Unavailable", "Unimplemented", "Unknown", "SbxSandbox", "SbxSessionManager",
    "SbxWorkspace", "SbxWorkspaceBackend",
]


def __getattr__(name: str):
    """SbxSandbox / SbxSessionManager load on first use: they import pydantic-ai-backend."""
    if name == "SbxSandbox":
        from .sandbox import SbxSandbox
        return SbxSandbox
    if name in ("SbxWorkspace", "SbxWorkspaceBackend"):
        from . import workspace
        return getattr(workspace, name)
    if name == "SbxSessionManager":
        from .manager import SbxSessionManager
        return SbxSessionManager
    raise AttributeError(f"module 'sbx' has no attribute {name!r}")
