"""_transport.py — one nng REQ socket and the Request/Response envelope.

Owns the wire side of every call, the same way libsbx does it (client/libsbx.c):
one REQ socket per client dialing the endpoint in the background, one nng
context and aio per call (through pynng's cffi bindings to the nng it bundles,
so every phase has its own timeout), the envelope with method, a random
request id, credentials and the absolute deadline, and the reply's status
turned into an `SbxError`.

Delivery is exactly once while sbxd remembers the request id (10 minutes):
the REQ resend time is infinite on the socket and on every context, so nng
never resends on its own; instead a call whose connection drops before the
reply, or that sbxd answers UNAVAILABLE (restarting, stopping, or an earlier
try of the same id still running), is tried again with the same request id,
up to _RETRY_ATTEMPTS tries with jittered backoff and never past its deadline,
as libsbx does. sbxd runs an id once and answers a repeat with the first reply.
A call finding no connection within `connect_timeout` is not retried. A call's time has
two phases: handing the request to a connection (at most `connect_timeout`
while there is none, so a missing server is reported quickly) and waiting for
the reply (until the deadline). The server gets the same deadline and answers
DEADLINE_EXCEEDED itself when it passes.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import threading
import time

import pynng
from pynng._nng import ffi, lib

from .errors import (BadReply, Cancelled, DeadlineExceeded, Internal, SbxError, Unavailable,
                     error_for)
from .v1 import sbx_pb2 as pb

_INFINITE = -1                      # NNG_DURATION_INFINITE
_RESEND_OPT = b"req:resend-time"    # NNG_OPT_REQ_RESENDTIME
DEFAULT_ENDPOINT = "tcp://127.0.0.1:7410"
_RETRY_ATTEMPTS = 4                 # tries of one call, the first included
_RETRY_BASE_S = 0.1                 # first backoff; doubles on each retry
_RETRY_MAX_BACKOFF_S = 2.0


def _retryable(e: SbxError) -> SbxError:
    e.retryable = True              # type: ignore[attr-defined]
    return e


def _backoff(n: int) -> float:
    """The pause before retry number n (1, 2, ...): doubling, capped, jittered
    down to half."""
    d = min(_RETRY_BASE_S * (2 ** (n - 1)), _RETRY_MAX_BACKOFF_S)
    return d / 2 + random.random() * d / 2


# ---- waking an asyncio loop from nng's completion callbacks
#
# One cffi callback for every aio an async call allocates; its argument is
# the call's key, under which `_aio_run` left the loop and future to wake.
# The callback runs on an nng thread and only schedules the wake-up.

_aio_keys = itertools.count(1)
_aio_waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
_aio_lock = threading.Lock()


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


@ffi.callback("void(void *)")
def _aio_done(arg) -> None:
    with _aio_lock:
        waiting = _aio_waiting.pop(int(ffi.cast("uintptr_t", arg)), None)
    if waiting is not None:
        loop, fut = waiting
        try:
            loop.call_soon_threadsafe(_wake, fut)
        except RuntimeError:            # the loop closed meanwhile
            pass


async def _aio_run(key: int, aio, start) -> None:
    """Starts one operation on aio and waits for it on the running loop. On
    cancellation the operation is cancelled too, and waited for (nng then
    completes it with NNG_ECANCELED) before CancelledError goes on."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    with _aio_lock:
        _aio_waiting[key] = (loop, fut)
    start()
    try:
        await asyncio.shield(fut)
    except asyncio.CancelledError:
        lib.nng_aio_cancel(aio)
        while not fut.done():
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                pass
        raise


class CallHandle:
    """Lets another thread cancel one call in flight (used by the asyncio client)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aio = None
        self.cancelled = False

    def _attach(self, aio) -> None:
        with self._lock:
            self._aio = aio
            if self.cancelled:
                lib.nng_aio_cancel(aio)

    def _detach(self) -> None:
        with self._lock:
            self._aio = None

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._aio is not None:
                lib.nng_aio_cancel(self._aio)


def _strerror(rv: int) -> str:
    return ffi.string(lib.nng_strerror(rv)).decode(errors="replace")


class Transport:
    """The REQ socket of one client; thread-safe, many calls at once."""

    def __init__(self, endpoint: str, *, service_key: str | None = None,
                 session_token: str | None = None, connect_timeout: float = 5.0,
                 max_reply_bytes: int = 64 << 20, tls_ca_file: str | None = None,
                 tls_server_name: str | None = None) -> None:
        if not service_key and not session_token:
            raise ValueError("give a service_key (reaches every session) or a "
                             "session_token (reaches one session)")
        self.endpoint = endpoint
        self._cred = pb.Credentials(service_key=service_key or "",
                                    session_token=session_token or "")
        self._connect_timeout = connect_timeout
        self._pipes = 0
        self._closed = False
        self._lock = threading.Lock()
        self._sock = pynng.Req0(resend_time=_INFINITE, recv_max_size=max_reply_bytes,
                                reconnect_time_min=100, reconnect_time_max=2000)
        self._sock.add_post_pipe_connect_cb(self._on_add)
        self._sock.add_post_pipe_remove_cb(self._on_remove)
        if endpoint.startswith("tls+"):
            self._setup_tls(tls_ca_file, tls_server_name)
        try:
            self._sock.dial(endpoint, block=False)
        except pynng.NNGException as e:
            self._sock.close()
            raise ValueError(f'endpoint "{endpoint}": {e} '
                             "(expected tcp://HOST:PORT or tls+tcp://HOST:PORT)") from None

    def _setup_tls(self, ca_file: str | None, server_name: str | None) -> None:
        if ca_file is None:
            raise ValueError(f"endpoint {self.endpoint} uses TLS: give the CA certificate "
                             "that signed the server's (tls_ca_file)")
        host = self.endpoint.split("://", 1)[1].rsplit(":", 1)[0]
        self._sock.tls_config = pynng.TLSConfig(
            pynng.TLSConfig.MODE_CLIENT, ca_files=[ca_file],
            server_name=server_name or host, auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED)

    def _on_add(self, _pipe) -> None:
        with self._lock:
            self._pipes += 1

    def _on_remove(self, _pipe) -> None:
        with self._lock:
            self._pipes -= 1

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._pipes > 0

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    # ------------------------------------------------------------ one call
    #
    # A call is written once, as generators that start nng operations and
    # yield what they wait for; two drivers run them: `call` blocks its
    # thread (nng_aio_wait, time.sleep) and `acall` awaits on the running
    # asyncio loop (the aio's completion callback wakes it; no thread
    # hops). The steps they yield:
    #   ("op", aio, start)  start() begins an nng operation on aio; resume
    #                       once it completes (read its result from aio)
    #   ("sleep", seconds)  a retry's backoff

    def call(self, method: str, payload: bytes, timeout: float | None, *,
             request_id: str | None = None, handle: CallHandle | None = None) -> bytes:
        """One round trip; returns the reply's payload or raises SbxError."""
        steps = self._call_steps(method, payload, timeout, request_id, handle, None)
        try:
            step = next(steps)
            while True:
                if step[0] == "op":
                    step[2]()
                    lib.nng_aio_wait(step[1])
                else:
                    time.sleep(step[1])
                step = steps.send(None)
        except StopIteration as done:
            return done.value
        finally:
            steps.close()

    async def acall(self, method: str, payload: bytes, timeout: float | None, *,
                    request_id: str | None = None) -> bytes:
        """`call` as a coroutine on the running loop. Cancelling it cancels the
        nng operation in flight (the call then may or may not have run)."""
        key = next(_aio_keys)
        steps = self._call_steps(method, payload, timeout, request_id, None, key)
        try:
            step = next(steps)
            while True:
                if step[0] == "op":
                    await _aio_run(key, step[1], step[2])
                else:
                    await asyncio.sleep(step[1])
                step = steps.send(None)
        except StopIteration as done:
            return done.value
        finally:
            steps.close()                   # frees the aio and context of a cancelled try

    def _call_steps(self, method: str, payload: bytes, timeout: float | None,
                    request_id: str | None, handle: CallHandle | None, key: int | None):
        if self._closed:
            raise Cancelled("the client is closed", method=method)
        rid = request_id or secrets.token_hex(16)
        end = None if timeout is None else time.monotonic() + timeout
        deadline_ms = 0 if timeout is None else int((time.time() + timeout) * 1000)
        env = pb.Request(method=method, request_id=rid, credentials=self._cred,
                         deadline_unix_ms=deadline_ms, payload=payload).SerializeToString()
        lost: Unavailable | None = None     # a try whose reply may have been lost
        for n in range(1, _RETRY_ATTEMPTS + 1):
            try:
                return (yield from self._attempt_steps(method, env, end, rid, handle, key))
            except Unavailable as e:
                if not getattr(e, "retryable", False) and lost is not None:
                    raise lost from e           # it may have run: say that, not "no connection"
                if getattr(e, "lost_reply", False):
                    lost = e
                if not getattr(e, "retryable", False) or n == _RETRY_ATTEMPTS:
                    raise
                pause = _backoff(n)
                if end is not None and end - time.monotonic() <= pause:
                    raise
                if handle is not None and handle.cancelled:
                    raise
                yield ("sleep", pause)
        raise AssertionError("unreachable")

    def _attempt_steps(self, method: str, env: bytes, end: float | None, rid: str,
                       handle: CallHandle | None, key: int | None):
        """One try of a call on a new context (and an aio whose completion
        wakes the loop when key is given)."""
        ctx_p = ffi.new("nng_ctx *")
        aio_p = ffi.new("nng_aio **")
        rv = lib.nng_ctx_open(ctx_p, self._sock.socket)
        if rv == 0:
            rv = lib.nng_ctx_set_ms(ctx_p[0], _RESEND_OPT, _INFINITE)
            if rv == 0:
                rv = lib.nng_aio_alloc(aio_p, ffi.NULL if key is None else _aio_done,
                                       ffi.NULL if key is None else ffi.cast("void *", key))
            if rv != 0:
                lib.nng_ctx_close(ctx_p[0])
        if rv != 0:
            cls = Cancelled if rv == lib.NNG_ECLOSED else Internal
            raise cls(f"starting a call: {_strerror(rv)}", method=method, request_id=rid)
        aio = aio_p[0]
        if handle is not None:
            handle._attach(aio)
        try:
            yield from self._send_steps(ctx_p[0], aio, env, end, method, rid)
            reply = yield from self._recv_steps(ctx_p[0], aio, end, method, rid)
        finally:
            if handle is not None:
                handle._detach()
            lib.nng_aio_free(aio)           # stops it first: no callback runs after
            lib.nng_ctx_close(ctx_p[0])
        try:
            return self._decode(reply, method, rid)
        except Unavailable as e:
            raise _retryable(e) from None

    def _fail(self, rv: int, method: str, rid: str, what: str) -> SbxError:
        if rv in (lib.NNG_ECLOSED, lib.NNG_ECANCELED):
            return Cancelled("the call was cancelled or the client closed during it",
                             method=method, request_id=rid)
        if rv in (lib.NNG_ECONNRESET, lib.NNG_ECONNSHUT):
            e = _retryable(Unavailable(
                f"connection to sbxd at {self.endpoint} ended before the reply: the "
                "request may or may not have run (a reply over max_reply_bytes also ends "
                "it)", method=method, request_id=rid))
            e.lost_reply = True             # type: ignore[attr-defined]
            return e
        return _retryable(Unavailable(f"{what} {self.endpoint}: {_strerror(rv)}",
                                      method=method, request_id=rid))

    def _send_steps(self, ctx, aio, env: bytes, end: float | None, method: str, rid: str):
        msg_p = ffi.new("nng_msg **")
        if lib.nng_msg_alloc(msg_p, len(env)) != 0:
            raise Internal("out of memory for the request", method=method, request_id=rid)
        ffi.memmove(lib.nng_msg_body(msg_p[0]), env, len(env))
        lib.nng_aio_set_msg(aio, msg_p[0])
        connect_ms = max(1, int(self._connect_timeout * 1000))
        while True:
            left = None if end is None else max(0, int((end - time.monotonic()) * 1000))
            by_deadline = left is not None and left <= connect_ms
            lib.nng_aio_set_timeout(aio, max(left, 1) if by_deadline else connect_ms)
            yield ("op", aio, lambda: lib.nng_ctx_send(ctx, aio))
            rv = lib.nng_aio_result(aio)
            if not (rv == lib.NNG_ETIMEDOUT and not by_deadline and self.connected):
                break
        if rv == 0:
            return
        lib.nng_msg_free(lib.nng_aio_get_msg(aio))
        lib.nng_aio_set_msg(aio, ffi.NULL)
        if rv == lib.NNG_ETIMEDOUT and by_deadline:
            hint = "" if self.connected else " (no connection: is sbxd running and listening there?)"
            raise DeadlineExceeded(f"deadline passed before the request could be sent to "
                                   f"sbxd at {self.endpoint}{hint}", method=method, request_id=rid)
        if rv == lib.NNG_ETIMEDOUT:
            raise Unavailable(f"no connection to sbxd at {self.endpoint} within "
                              f"{self._connect_timeout:g} s: is sbxd running and listening "
                              "there?", method=method, request_id=rid)
        raise self._fail(rv, method, rid, "sending to")

    def _recv_steps(self, ctx, aio, end: float | None, method: str, rid: str):
        left = None if end is None else max(1, int((end - time.monotonic()) * 1000))
        lib.nng_aio_set_timeout(aio, _INFINITE if left is None else left)
        yield ("op", aio, lambda: lib.nng_ctx_recv(ctx, aio))
        rv = lib.nng_aio_result(aio)
        if rv == lib.NNG_ETIMEDOUT:
            raise DeadlineExceeded(f"no reply from sbxd at {self.endpoint} before the "
                                   "call's deadline", method=method, request_id=rid)
        if rv != 0:
            raise self._fail(rv, method, rid, "waiting for the reply from")
        msg = lib.nng_aio_get_msg(aio)
        try:
            body = lib.nng_msg_body(msg)
            return bytes(ffi.buffer(body, lib.nng_msg_len(msg)))
        finally:
            lib.nng_msg_free(msg)

    def _decode(self, reply: bytes, method: str, rid: str) -> bytes:
        try:
            r = pb.Response.FromString(reply)
        except Exception:
            raise BadReply(f"undecodable reply ({len(reply)} bytes) to {method} from "
                           f"{self.endpoint}: is that an sbxd of this protocol version?",
                           method=method, request_id=rid) from None
        failed = r.status.code != 0
        if r.request_id != rid and not (failed and r.request_id == ""):
            raise BadReply(f'reply to {method} carries request id "{r.request_id[:64]}", '
                           f'expected "{rid}"', method=method, request_id=rid)
        if failed:
            raise error_for(r.status.code, r.status.message or "(the server gave no message)",
                            method=method, request_id=rid)
        return r.payload


def decode_payload(cls: type, payload: bytes, method: str, endpoint: str) -> object:
    """The reply's payload as a `cls` message; BadReply when it is not one
    (protobuf's DecodeError, e.g. a string field that is not UTF-8)."""
    try:
        return cls.FromString(payload)
    except Exception as e:
        raise BadReply(f"undecodable {cls.__name__} ({len(payload)} bytes) in the reply to "
                       f"{method} from {endpoint}: {e}", method=method) from None
