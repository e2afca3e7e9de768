"""logs.py — a session's log stream as an async iterator, in order and gap-free.

`LogSubscription` does in Python what libsbx's sbx_logs_subscribe does in C
(client/libsbx_logs.c): SubscribeLogs gives the pub endpoint, the topic and
the session's log key; a SUB socket subscribed to `topic + "\\0"` receives
`SealedLogEvent`s, each opened with XChaCha20-Poly1305-IETF (libsodium's, via
PyNaCl) under that key with associated data = the topic with its NUL + the seq
as 8 big-endian bytes (server/logbus.c, logbus_ad); an event that does not
open, or whose inner seq differs from the sealed one, is dropped. Events are
yielded in seq order exactly once: a jump in seq is filled from ReadLogs
first, and every `poll_interval` the window is read again (which delivers a
missed last event and renews the subscription lease). Events that left the
window before they could be fetched are counted in the next event's `lost`.
A restarted sbxd (seqs start at 1 again) is noticed and followed from seq 1,
as libsbx does: by a larger epoch (LogEvent.epoch, ReadLogsResponse.epoch:
every start of sbxd has a larger one) on a published event or a window, or
by ReadLogs refusing a seq past its end. A published event of a smaller
epoch was sent before the restart and is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass

import pynng
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from nacl.exceptions import CryptoError

from .errors import (FailedPrecondition, Internal, InvalidArgument, NotFound, PermissionDenied,
                     SbxError, Unauthenticated)
from .v1 import sbx_pb2 as pb

KEY_BYTES = 32
NONCE_BYTES = 24
FILL_MAX = 1000
QUEUE_EVENTS = 256
_FATAL = (PermissionDenied, Unauthenticated, NotFound)


@dataclass(frozen=True)
class LogEvent:
    """One event: `stream` is a `pb.LogStream` value; `lost` counts events
    missing just before this one (they left the server's window)."""

    seq: int
    process_id: str
    stream: int
    data: bytes
    unix_ms: int
    lost: int = 0


def open_sealed(raw: bytes, topic: bytes, key: bytes) -> pb.LogEvent | None:
    """The LogEvent in one pub message, or None when it is not this topic's
    or does not open with `key` (topic includes its trailing NUL)."""
    if not raw.startswith(topic):
        return None
    try:
        se = pb.SealedLogEvent.FromString(raw[len(topic):])
    except Exception:
        return None
    if len(se.nonce) != NONCE_BYTES:
        return None
    ad = topic + se.seq.to_bytes(8, "big")
    try:
        pt = crypto_aead_xchacha20poly1305_ietf_decrypt(se.ciphertext, ad, se.nonce, key)
    except CryptoError:
        return None
    try:
        ev = pb.LogEvent.FromString(pt)
    except Exception:               # protobuf's DecodeError
        return None
    return ev if ev.seq == se.seq else None


class LogSubscription:
    """`async with client.logs(sid) as events: async for ev in events: ...`."""

    def __init__(self, client, session_id: str, *, after_seq: int | None = 0,
                 poll_interval: float = 1.0) -> None:
        self._c = client
        self._sid = session_id
        self._after = after_seq
        self._poll = poll_interval
        self._ready: collections.deque[LogEvent] = collections.deque()
        self._expected = 1
        self._carry_lost = 0
        self._epoch = 0
        self._sock: pynng.Sub0 | None = None
        self._raw: asyncio.Queue[bytes] | None = None
        self._last_poll = 0.0
        self._started = False
        self.refetched = 0

    async def __aenter__(self) -> "LogSubscription":
        await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> "LogSubscription":
        return self

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        r = await self._c.subscribe_logs(self._sid)
        if len(r.key) != KEY_BYTES:
            raise Internal(f"SubscribeLogs answered a {len(r.key)}-byte key (want "
                           f"{KEY_BYTES}): is the server of this protocol version?")
        if not r.endpoint:
            raise FailedPrecondition("this sbxd publishes no live log events (its "
                                     "log_listen is empty); read them with read_logs")
        self._key = bytes(r.key)
        self._topic = r.topic.encode() + b"\0"
        self._expected = r.next_seq if self._after is None else self._after + 1
        self._epoch = r.epoch
        self._raw = asyncio.Queue(maxsize=QUEUE_EVENTS)
        self._sock = pynng.Sub0(recv_buffer_size=QUEUE_EVENTS, reconnect_time_min=100,
                                reconnect_time_max=1000)
        self._sock.subscribe(self._topic)
        await self._dial(r.endpoint)
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._rx, args=(self._sock, loop, self._raw),
                         name="sbx-logs-rx", daemon=True).start()
        # the backlog asked for; later events come live, and a gap in them
        # is refetched and counted (as libsbx does)
        await self._fill(r.next_seq - 1)
        self._last_poll = time.monotonic()

    async def _dial(self, endpoint: str) -> None:
        """Connects before returning when it can, so events published right
        after subscribing arrive live; else keeps dialing in the background
        (the window poll covers the meantime)."""
        try:
            await asyncio.to_thread(self._sock.dial, endpoint, block=True)
        except pynng.NNGException:
            self._sock.dial(endpoint, block=False)

    @staticmethod
    def _rx(sock: pynng.Sub0, loop: asyncio.AbstractEventLoop, q: asyncio.Queue) -> None:
        """Receives raw messages until the socket closes; a full queue drops
        (the window refills what was dropped)."""
        def put(m: bytes) -> None:
            if not q.full():
                q.put_nowait(m)
        while True:
            try:
                m = sock.recv()
            except pynng.NNGException:
                return
            try:
                loop.call_soon_threadsafe(put, m)
            except RuntimeError:   # the loop is closed
                return

    async def aclose(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def __anext__(self) -> LogEvent:
        await self._start()
        while not self._ready:
            if self._sock is None:
                raise StopAsyncIteration
            wait = max(0.0, self._last_poll + self._poll - time.monotonic())
            try:
                raw = await asyncio.wait_for(self._raw.get(), timeout=wait)
            except asyncio.TimeoutError:
                raw = None
            if raw is not None:
                await self._handle(raw)
            if time.monotonic() - self._last_poll >= self._poll:
                await self._fill(None, counting=True)
                self._last_poll = time.monotonic()
        return self._ready.popleft()

    def _deliver(self, le: pb.LogEvent, lost: int) -> None:
        self._ready.append(LogEvent(seq=le.seq, process_id=le.process_id, stream=le.stream,
                                    data=bytes(le.data), unix_ms=le.unix_ms,
                                    lost=lost + self._carry_lost))
        self._carry_lost = 0
        self._expected = le.seq + 1

    async def _handle(self, raw: bytes) -> None:
        le = open_sealed(raw, self._topic, self._key)
        if le is None:
            return
        if self._follow_epoch(le.epoch, from_window=False) < 0:
            return                          # sent before sbxd restarted
        if le.seq > self._expected:
            await self._fill(le.seq - 1, counting=True)
        if le.seq == self._expected:
            self._deliver(le, 0)

    def _follow_epoch(self, epoch: int, *, from_window: bool) -> int:
        """1 when epoch is a later sbxd run than the one expected counts in,
        or a window's (ReadLogs answers from the sbxd running now, even if a
        clock went back): the count starts again at 1. -1 for a published
        event of an earlier run; 0 when the same or unknown."""
        if epoch == 0 or epoch == self._epoch:
            return 0
        if self._epoch == 0:
            self._epoch = epoch
            return 0
        if epoch < self._epoch and not from_window:
            return -1
        self._epoch = epoch
        self._expected = 1
        return 1

    async def _fill(self, upto: int | None, counting: bool = False) -> None:
        """Reads the window after expected-1 until expected passes `upto`
        (None: all there is). Transport failures wait for the next poll;
        refusals (credentials, a missing session) end the subscription."""
        while upto is None or self._expected <= upto:
            try:
                r = await self._c.read_logs(self._sid, after_seq=self._expected - 1,
                                            max=FILL_MAX)
            except InvalidArgument:
                if self._expected <= 1:
                    raise
                self._expected = 1          # sbxd restarted: seqs start again
                continue
            except _FATAL:
                await self.aclose()
                raise
            except SbxError:                # transport trouble: the next poll retries
                return
            if self._follow_epoch(r.epoch, from_window=True):
                continue                    # sbxd restarted: from seq 1
            for le in r.events:
                if le.seq >= self._expected:
                    self._deliver(le, le.seq - self._expected)
                    self.refetched += counting
            if not r.events:
                if r.lost:
                    self._expected = max(self._expected, r.first_available_seq)
                    self._carry_lost += r.lost
                return
