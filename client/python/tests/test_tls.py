"""test_tls.py — the client over tls+tcp:// to an sbxd with a certificate.

A private sbxd listening with TLS (a self-signed certificate for "localhost"):
calls work with the CA given, and without it the client refuses to start;
a CA that did not sign the server's certificate never gets a reply.
"""

from __future__ import annotations

import pytest

from sbx import Client, SbxError

from .conftest import new_user
from .sbxd_proc import Sbxd


@pytest.fixture
def tls_sbxd(sbxd):
    d = Sbxd(sbxd.binary, tls=True)
    with open(d.conf, "a") as f:
        f.write("pool_size = 0\n")
    d.start()
    yield d
    d.finish()


def test_calls_over_tls(tls_sbxd):
    with tls_sbxd.client() as c:
        sid = c.create_session(new_user()).session.session_id
        assert c.execute(sid, "echo over-tls").stdout == b"over-tls\n"
        c.end_session(sid, purge=True)


def test_tls_needs_a_ca(tls_sbxd):
    with pytest.raises(ValueError, match="tls_ca_file"):
        Client(tls_sbxd.endpoint, service_key=tls_sbxd.key)


def test_wrong_ca_gets_no_reply(tls_sbxd):
    other = Sbxd(tls_sbxd.binary, tls=True)         # a different self-signed CA
    try:
        with Client(tls_sbxd.endpoint, service_key=tls_sbxd.key, tls_ca_file=other.tls_ca,
                    tls_server_name="localhost", connect_timeout=2.0) as c:
            with pytest.raises(SbxError) as e:
                c.list_sessions()
        assert e.value.code.name == "UNAVAILABLE"
    finally:
        other.finish()
