"""errors.py — the exceptions of the sbx client.

Every failure of a call is one `SbxError` carrying the canonical status
`code` (the protocol's `Code`, gRPC's numbering) and the server's `message`
(what went wrong and what to do). Each code has its own subclass, so callers
can catch one kind (`except NotFound`) or all (`except SbxError`); transport
failures the client detects itself (no connection, the connection dropped,
no reply in time) use the same classes: `Unavailable`, `DeadlineExceeded`,
`Cancelled`; a reply that cannot be decoded is `BadReply` (an `Internal`).
"""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    """Canonical status codes, numbered as on the wire."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class SbxError(Exception):
    """A failed call: `.code` (a `Code`), `.message`, `.method`, `.request_id`."""

    code: Code = Code.UNKNOWN

    def __init__(self, message: str, *, code: Code | None = None, method: str = "",
                 request_id: str = "") -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.method = method
        self.request_id = request_id
        super().__init__(f"{self.code.name}: {message}")


def _subclass(name: str, code: Code) -> type[SbxError]:
    return type(name, (SbxError,), {"code": code, "__doc__": f"Status {code.name}."})


Cancelled = _subclass("Cancelled", Code.CANCELLED)
Unknown = _subclass("Unknown", Code.UNKNOWN)
InvalidArgument = _subclass("InvalidArgument", Code.INVALID_ARGUMENT)
DeadlineExceeded = _subclass("DeadlineExceeded", Code.DEADLINE_EXCEEDED)
NotFound = _subclass("NotFound", Code.NOT_FOUND)
AlreadyExists = _subclass("AlreadyExists", Code.ALREADY_EXISTS)
PermissionDenied = _subclass("PermissionDenied", Code.PERMISSION_DENIED)
ResourceExhausted = _subclass("ResourceExhausted", Code.RESOURCE_EXHAUSTED)
FailedPrecondition = _subclass("FailedPrecondition", Code.FAILED_PRECONDITION)
Aborted = _subclass("Aborted", Code.ABORTED)
OutOfRange = _subclass("OutOfRange", Code.OUT_OF_RANGE)
Unimplemented = _subclass("Unimplemented", Code.UNIMPLEMENTED)
Internal = _subclass("Internal", Code.INTERNAL)
Unavailable = _subclass("Unavailable", Code.UNAVAILABLE)
DataLoss = _subclass("DataLoss", Code.DATA_LOSS)
Unauthenticated = _subclass("Unauthenticated", Code.UNAUTHENTICATED)



class BadReply(Internal):
    """A reply this client could not decode: a payload or envelope that is not
    a valid message of this protocol version (e.g. a string field holding
    bytes that are not UTF-8), or one answering another request. Raised in
    place of protobuf's own DecodeError, so `except SbxError` covers it."""


_BY_CODE: dict[int, type[SbxError]] = {
    cls.code: cls for cls in (
        Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
        PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
        Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated)
}


def error_for(code: int, message: str, *, method: str = "", request_id: str = "") -> SbxError:
    """The exception for a wire status; unknown numbers become `Unknown`."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return Unknown(f"(status {code}) {message}", method=method, request_id=request_id)
    return cls(message, method=method, request_id=request_id)
