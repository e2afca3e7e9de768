"""conftest.py — a private sbxd (client/python/tests/sbxd_proc.py, as the
Python client's suite starts it) and the web app as its own process
(`sbx-web serve`) on a free port, with users alice, bob (and admin root)
made by the CLI.

  SBXD_BIN=build/sbxd pytest client/web/tests

Screenshots of the browser test go to $SBXWEB_SHOTS (default: a directory
under the pytest run's tmp dir); their paths are printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "client" / "python" / "tests"))
from sbxd_proc import Sbxd, free_port  # noqa: E402

READY_S = 60.0
TERMINAL_GRACE_S = 3
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "root": "root-password-333"}


@dataclass
class Web:
    url: str
    dir: Path
    env: dict
    proc: subprocess.Popen | None = None
    log: Path = field(default=None)

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sbxweb.cli", *args], input=stdin,
                              env=self.env, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "sbxweb.cli", "serve"],
                                         env=self.env, stdout=out, stderr=out)
        end = time.monotonic() + READY_S
        while time.monotonic() < end:
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"sbx-web did not start:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def login(self, name: str) -> httpx.Client:
        """An httpx client signed in as `name` (its csrf token in .csrf)."""
        c = httpx.Client(base_url=self.url, timeout=120.0)
        page = c.get("/login")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = c.post("/login", data={"name": name, "password": PASSWORDS[name], "csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        home = c.get("/")
        c.csrf = home.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        return c


@pytest.fixture(scope="session")
def sbxd():
    binary = os.environ.get("SBXD_BIN")
    if not binary:
        pytest.skip("set SBXD_BIN to a built sbxd")
    d = Sbxd(binary)
    d.start()
    yield d
    d.finish()


def make_web(sbxd, d: Path, prefix: str, **env_extra: str) -> Web:
    """An app on `sbxd` with its own database in `d` and sbx user prefix,
    users alice, bob and root (admin) made by the CLI, started."""
    env = {**os.environ, "SBXWEB_DB": str(d / "web.db"),
           "SBXWEB_SECRET_KEY_FILE": str(d / "secret"),
           "SBXWEB_SBX_ENDPOINT": sbxd.endpoint, "SBXWEB_SBX_SERVICE_KEY": sbxd.key,
           "SBXWEB_LISTEN_PORT": str(free_port()), "SBXWEB_CHAT_TIMEOUT_S": "60",
           "SBXWEB_MAX_UPLOAD_BYTES": str(1 << 20), "SBXWEB_SBX_USER_PREFIX": prefix,
           "SBXWEB_TERMINAL_GRACE_S": str(TERMINAL_GRACE_S),
           **env_extra}
    for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SBXWEB_MODEL"):
        env.pop(k, None)
    w = Web(url=f"http://127.0.0.1:{env['SBXWEB_LISTEN_PORT']}", dir=d, env=env, log=d / "web.log")
    for name in ("alice", "bob"):
        r = w.cli("create-user", name, stdin=PASSWORDS[name] + "\n")
        assert r.returncode == 0, r.stderr
    r = w.cli("create-user", "root", "--admin", stdin=PASSWORDS["root"] + "\n")
    assert r.returncode == 0, r.stderr
    w.start()
    return w


@pytest.fixture(scope="session")
def web(sbxd, tmp_path_factory):
    w = make_web(sbxd, tmp_path_factory.mktemp("web"), "web-")
    yield w
    w.stop()
