"""test_badreply.py — every client turns an undecodable reply into an SbxError.

A stand-in server (a pynng REP socket, no sbxd) answers each request with one
kind of broken reply: a payload whose string field holds bytes that are not
UTF-8 (what sbxd sent for a file name that is not UTF-8 before the raw_*
fields), an envelope that is not a Response at all, and a well-formed reply
to another request id. The sync and the asyncio client must raise `BadReply`
(an `Internal`, so an `SbxError`), never protobuf's DecodeError.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pynng
import pytest

from sbx import AsyncClient, BadReply, Client, Internal, SbxError
from sbx.v1 import sbx_pb2 as pb

# LsResponse{entries: [FileInfo{name: b"\xff"}]}: field 1 (message) holding field 1 (string)
BAD_UTF8_LS = b"\x0a\x03\x0a\x01\xff"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeServer:
    """Answers every request with `reply(request) -> bytes` until closed."""

    def __init__(self, reply) -> None:
        self.endpoint = f"tcp://127.0.0.1:{_free_port()}"
        self._sock = pynng.Rep0(listen=self.endpoint)
        self._reply = reply
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        while True:
            try:
                raw = self._sock.recv()
            except pynng.NNGException:
                return
            self._sock.send(self._reply(pb.Request.FromString(raw)))

    def close(self) -> None:
        self._sock.close()
        self._t.join()


def _bad_payload(rq: pb.Request) -> bytes:
    return pb.Response(request_id=rq.request_id, payload=BAD_UTF8_LS).SerializeToString()


def _bad_envelope(rq: pb.Request) -> bytes:
    return b"\xff\xff\xff\xff"


def _other_id(rq: pb.Request) -> bytes:
    return pb.Response(request_id="not-" + rq.request_id).SerializeToString()


@pytest.fixture(params=[_bad_payload, _bad_envelope, _other_id],
                ids=["payload-not-utf8", "envelope-garbage", "other-request-id"])
def fake(request):
    srv = FakeServer(request.param)
    yield srv
    srv.close()


def test_sync_client_raises_its_own_error(fake):
    with Client(fake.endpoint, service_key="k", timeout=30) as c:
        with pytest.raises(BadReply) as ei:
            c.ls("s1", ".")
    assert isinstance(ei.value, Internal) and isinstance(ei.value, SbxError)
    assert ei.value.method.endswith("/Ls")


def test_async_client_raises_its_own_error(fake):
    async def main():
        async with AsyncClient(fake.endpoint, service_key="k", timeout=30) as c:
            with pytest.raises(BadReply):
                await c.ls("s1", ".")
    asyncio.run(main())


def test_adapter_returns_failure_on_a_bad_reply():
    """SbxSandbox keeps the library's contract on a broken reply: [] / "Error:"."""
    from sbx import SbxSandbox
    srv = FakeServer(_bad_payload)
    try:
        with Client(srv.endpoint, service_key="k", timeout=30) as c:
            sb = SbxSandbox(c, "s1")
            assert sb.ls_info(".") == []
            assert sb.glob_info("*") == []
            assert sb.grep_raw("x").startswith("Error: ")
    finally:
        srv.close()
