"""test_retry.py — the Python client's safe retries against a real sbxd.

A TCP relay between the client and sbxd loses replies on demand: it drops the
connection instead of passing the next reply on, or cuts every connection while
a call runs. The client retries with the same request id and sbxd, which runs
an id once, answers with the first reply: a Write and an Execute that append to
a file take effect exactly once.
"""

from __future__ import annotations

import select
import socket
import threading

import pytest

from sbx import Client

from .conftest import wait_until


class Relay:
    """Passes bytes between clients and sbxd; can lose the next reply or cut all."""

    def __init__(self, target: str) -> None:
        host, port = target.split("://", 1)[1].rsplit(":", 1)
        self._target = (host, int(port))
        self._lsock = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"tcp://127.0.0.1:{self._lsock.getsockname()[1]}"
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self.cut_on_reply = False
        self.cuts = 0
        self.to_server = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _close(self, pair) -> None:
        for s in pair:
            s.close()
        self._pairs.remove(pair)

    def cut_all(self) -> None:
        with self._lock:
            for pair in list(self._pairs):
                self._close(pair)
                self.cuts += 1

    def _run(self) -> None:
        while not self._stop:
            with self._lock:
                socks = [self._lsock] + [s for p in self._pairs for s in p]
            try:
                ready, _, _ = select.select(socks, [], [], 0.2)
            except (OSError, ValueError):
                continue            # a socket closed by cut_all meanwhile
            with self._lock:
                for s in ready:
                    if s is self._lsock:
                        c, _ = s.accept()
                        self._pairs.append((c, socket.create_connection(self._target)))
                        continue
                    pair = next((p for p in self._pairs if s in p), None)
                    if pair is not None:
                        self._pass(pair, s)

    def _pass(self, pair, src) -> None:
        from_server = src is pair[1]
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(pair)
            return
        if from_server and self.cut_on_reply:
            self.cut_on_reply = False
            self.cuts += 1
            self._close(pair)       # the reply is lost with the connection
            return
        (pair[0] if from_server else pair[1]).sendall(data)
        if not from_server:
            self.to_server += len(data)

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        with self._lock:
            for pair in list(self._pairs):
                self._close(pair)
        self._lsock.close()


@pytest.fixture
def relay(sbxd):
    r = Relay(sbxd.endpoint)
    yield r
    r.close()


@pytest.fixture
def relayed(sbxd, relay):
    with Client(relay.endpoint, service_key=sbxd.key, timeout=120.0) as c:
        yield c


def test_lost_reply_of_write_takes_effect_once(client, relayed, relay, sid):
    relayed.write(sid, "warm.txt", "x")                 # connected through the relay
    relay.cut_on_reply = True
    relayed.write(sid, "w.txt", "line\n", append=True)
    assert relay.cuts == 1
    assert client.read_bytes(sid, "w.txt").data == b"line\n"


def test_lost_reply_of_execute_takes_effect_once(client, relayed, relay, sid):
    relayed.write(sid, "warm.txt", "x")
    relay.cut_on_reply = True
    r = relayed.execute(sid, "echo x >> /workspace/e.txt; echo done")
    assert r.stdout == b"done\n"
    assert relay.cuts == 1
    assert client.read_bytes(sid, "e.txt").data == b"x\n"


def test_connection_cut_mid_execute_takes_effect_once(client, relayed, relay, sid):
    outcome: list = []

    def call():
        try:
            outcome.append(relayed.execute(
                sid, "echo run >> /workspace/slow.txt; "
                "while [ ! -e /workspace/go ]; do sleep 0.05; done; echo finished",
                timeout_ms=120000))
        except BaseException as e:      # noqa: BLE001 — recorded for the assertion
            outcome.append(e)

    t = threading.Thread(target=call)
    t.start()
    wait_until(lambda: client.stat(sid, "slow.txt").exists, "the command runs")
    sent = relay.to_server
    relay.cut_all()
    wait_until(lambda: relay.to_server > sent, "the retry reaches sbxd")
    client.write(sid, "go", "")
    t.join(timeout=120)
    assert not t.is_alive()
    assert not isinstance(outcome[0], BaseException), repr(outcome[0])
    assert outcome[0].stdout == b"finished\n"
    assert client.read_bytes(sid, "slow.txt").data == b"run\n"
