"""sbxd_proc.py — one private sbxd process for tests and benchmarks.

Starts the sbxd binary the way tests/integration/harness.c does: its own state
dir under /tmp, a free loopback port for requests and one for log events, a
random service key in its config file; waits until it answers an
authenticated ListSessions; stops it, removes its containers (docker CLI) and
its state dir. Used by conftest.py and bench.py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from sbx import Client, SbxError

READY_WAIT_S = 120.0    # safety net for sbxd to answer after start (it is slower under load)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sbxd:
    """One private sbxd process and its config."""

    def __init__(self, binary: str, *, tls: bool = False) -> None:
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="sbx-py-")
        self.tls_ca = os.path.join(self.dir, "cert.pem") if tls else None
        scheme = "tls+tcp" if tls else "tcp"
        self.endpoint = f"{scheme}://127.0.0.1:{free_port()}"
        self.log_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.key = "py-" + secrets.token_hex(16)
        self.conf = os.path.join(self.dir, "sbxd.conf")
        self.log = os.path.join(self.dir, "sbxd.log")
        with open(self.conf, "w") as f:
            f.write(f"listen = {self.endpoint}\nlog_listen = {self.log_endpoint}\n"
                    f"state_dir = {self.dir}\nservice_key = {self.key}\nlog_level = info\n"
                    "metrics_listen = off\n")
            if os.environ.get("SBX_TEST_AGENT") == "off":
                f.write("agent = no\n")
            if tls:
                f.write(self._make_cert())
        self.proc: subprocess.Popen | None = None

    def _make_cert(self) -> str:
        """A self-signed certificate for "localhost"; returns the config lines."""
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", key, "-out", self.tls_ca], check=True, capture_output=True)
        return f"tls_cert = {self.tls_ca}\ntls_key = {key}\n"

    def client(self, **kw) -> Client:
        """A service-key client for this sbxd (TLS set up when it uses TLS)."""
        if self.tls_ca:
            kw.setdefault("tls_ca_file", self.tls_ca)
            kw.setdefault("tls_server_name", "localhost")
        return Client(self.endpoint, service_key=self.key, **kw)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "--config", self.conf],
                                         stdout=log, stderr=log)
        self.wait_ready()

    def wait_ready(self) -> None:
        end = time.monotonic() + READY_WAIT_S
        with self.client(timeout=5.0, connect_timeout=1.0) as c:
            while time.monotonic() < end:
                try:
                    c.list_sessions()
                    return
                except SbxError:
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.1)
        raise RuntimeError(f"sbxd did not come up on {self.endpoint}:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        rc = self.proc.wait()
        self.proc = None
        return rc

    def restart(self) -> None:
        self.stop()
        self.start()

    def wait_pool_full(self, size: int = 2, timeout: float = 120.0) -> None:
        """Until this sbxd's warm pool holds `size` running containers (its
        default pool_size 2), as listed by the docker CLI (benchmarks time a
        first session the way an application's first run finds the pool)."""
        import hashlib
        inst = hashlib.sha256(os.path.join(self.dir, "sbx.db").encode()).hexdigest()[:16]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=sbx.instance={inst}",
                                  "--filter", "label=sbx.pool", "--filter", "status=running"],
                                 capture_output=True, text=True).stdout.split()
            if len(out) >= size:
                return
            time.sleep(0.05)
        raise RuntimeError(f"sbxd's warm pool did not refill within {timeout:g} s")

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def remove_containers(self) -> None:
        """Removes every container of this sbxd (its mounts are under self.dir),
        then the networks it made for egress (labelled with its instance)."""
        if shutil.which("docker") is None:
            return
        rows = subprocess.run(["docker", "ps", "-a", "--no-trunc", "--filter",
                               "label=sbx.managed=true", "--format",
                               '{{.ID}} {{.Label "sbx.instance"}} {{.Mounts}}'],
                              capture_output=True, text=True).stdout.splitlines()
        mine = [r.split() for r in rows if self.dir + "/" in r]
        if mine:
            subprocess.run(["docker", "rm", "-f", *[m[0] for m in mine]], capture_output=True)
        for inst in {m[1] for m in mine if len(m) > 1 and len(m[1]) == 16}:
            nets = subprocess.run(["docker", "network", "ls", "-q", "--filter",
                                   f"label=sbx.instance={inst}"],
                                  capture_output=True, text=True).stdout.split()
            if nets:
                subprocess.run(["docker", "network", "rm", *nets], capture_output=True)

    def finish(self) -> None:
        """Stops sbxd, removes its containers and its state dir."""
        self.stop()
        self.remove_containers()
        shutil.rmtree(self.dir, ignore_errors=True)
