"""test_throttle.py — sign-in rate limiting (throttle.py): wrong passwords
for one user name, or from one client address, are answered 429 with
Retry-After and a message; a browser the user signed in from before is not
locked out however long an attacker keeps trying; a new browser waits one
window at most once the attacker stops; the throttle's memory is bounded.

Against a real app of its own (3 failures per name, 5 per address, 8 s
window) on the real sbxd; client addresses are distinct loopback addresses
(127.0.0.x) the test's connections are bound to.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from conftest import PASSWORDS, make_web
from sbxweb.throttle import Throttle

WINDOW_S = 8        # long enough for a loaded machine's steps to stay within one
PER_NAME = 3
PER_ADDR = 5


@pytest.fixture(scope="module")
def web_th(sbxd, tmp_path_factory):
    w = make_web(sbxd, tmp_path_factory.mktemp("web-throttle"), "webth-",
                 SBXWEB_LOGIN_FAIL_LIMIT_USER=str(PER_NAME),
                 SBXWEB_LOGIN_FAIL_LIMIT_ADDR=str(PER_ADDR),
                 SBXWEB_LOGIN_FAIL_WINDOW_S=str(WINDOW_S))
    yield w
    w.stop()


class From:
    """Sign-in attempts from one client address (a loopback address of its own)."""

    def __init__(self, web, addr: str) -> None:
        self.c = httpx.Client(base_url=web.url, timeout=60.0,
                              transport=httpx.HTTPTransport(local_address=addr))

    def sign_in(self, name: str, password: str, headers=None) -> httpx.Response:
        """A fresh sign-in form, submitted (the browser's device cookie kept)."""
        for k in ("sbxweb_session", "sbxweb_login"):
            self.c.cookies.delete(k)
        page = self.c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return self.c.post("/login", data={"name": name, "password": password, "csrf": token},
                           headers=headers)

    def close(self) -> None:
        self.c.close()


def signed_in(r: httpx.Response) -> bool:
    return r.status_code == 303 and r.headers["location"] == "/"


def wrong(r: httpx.Response) -> bool:
    return r.status_code == 303 and "Wrong" in r.headers["location"]


def throttled(r: httpx.Response, whom: str) -> int:
    """Retry-After of a 429 whose page says why (asserted)."""
    assert r.status_code == 429, (r.status_code, r.headers.get("location"))
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= WINDOW_S
    msg = re.search(r'id="login-error">([^<]*)<', r.text).group(1)
    assert msg == f"Too many failed sign-ins {whom}: try again in {wait} s.", msg
    assert 'name="csrf"' in r.text                   # the form again, to try later
    return wait


def test_a_user_name_is_throttled_but_not_in_the_users_own_browser(web_th):
    a, b, attacker = (From(web_th, f"127.0.0.{n}") for n in (11, 12, 13))
    try:
        assert signed_in(a.sign_in("alice", PASSWORDS["alice"]))   # alice's usual browser
        assert "sbxweb_device" in a.c.cookies
        for _ in range(PER_NAME):
            assert wrong(attacker.sign_in("alice", "not-her-password"))
        # from a browser alice never used, the right password waits too (not even checked)
        throttled(b.sign_in("alice", PASSWORDS["alice"]), "for this user name")
        # another name from the attacker's address is not throttled (3 < 5 failures there)
        assert signed_in(attacker.sign_in("bob", PASSWORDS["bob"]))
        # a device cookie is for one user: the attacker's (bob's) does not help with alice
        throttled(attacker.sign_in("alice", "still-not-it"), "for this user name")
        # the attacker keeps trying (throttled, or counted again once a failure has left
        # the window), and alice's own browser still gets in every time
        for _ in range(3):
            r = attacker.sign_in("alice", "still-not-it")
            assert r.status_code == 429 or wrong(r)
            assert signed_in(a.sign_in("alice", PASSWORDS["alice"]))
        # the attacker stops: the new browser gets in within one window (plus slack for a
        # loaded machine); tries while throttled are not counted, so they did not extend it
        start = time.monotonic()
        while not signed_in(r := b.sign_in("alice", PASSWORDS["alice"])):
            throttled(r, "for this user name")
            assert time.monotonic() - start < WINDOW_S + 30, "alice stayed locked out"
            time.sleep(0.2)
        # a browser's own wrong passwords throttle that browser (and only it)
        for _ in range(PER_NAME):
            assert wrong(a.sign_in("alice", "alice-mistyped"))
        throttled(a.sign_in("alice", PASSWORDS["alice"]), "from this browser")
        assert signed_in(b.sign_in("alice", PASSWORDS["alice"]))
    finally:
        for x in (a, b, attacker):
            x.close()


def test_one_address_is_throttled_across_user_names(web_th):
    bad, good = From(web_th, "127.0.0.21"), From(web_th, "127.0.0.22")
    try:
        for n in range(PER_ADDR):                       # names known and unknown alike
            assert wrong(bad.sign_in("root" if n == 0 else f"guess{n}", "wrong-password"))
        wait = throttled(bad.sign_in("bob", PASSWORDS["bob"]), "from your address")
        # a forwarded-for header from a peer that is not a configured proxy changes nothing
        r = bad.sign_in("bob", PASSWORDS["bob"], headers={"X-Forwarded-For": "203.0.113.9"})
        throttled(r, "from your address")
        assert signed_in(good.sign_in("bob", PASSWORDS["bob"]))
        assert signed_in(good.sign_in("root", PASSWORDS["root"]))   # 1 failure for root: fine
        assert wait <= WINDOW_S
    finally:
        bad.close()
        good.close()


def test_a_forged_device_cookie_counts_as_none(web_th):
    x = From(web_th, "127.0.0.31")
    try:
        x.c.cookies.set("sbxweb_device", "root:forged.signature")
        for _ in range(PER_NAME):
            assert wrong(x.sign_in("root", "wrong-password"))
        throttled(x.sign_in("root", PASSWORDS["root"]), "for this user name")
    finally:
        x.close()


def test_the_throttle_is_a_sliding_window_with_bounded_memory():
    now = [1000.0]
    t = Throttle(2, 10.0, max_keys=3, clock=lambda: now[0])
    t.failed("a")
    now[0] += 4
    t.failed("a")
    assert t.retry_after("a") == 6                      # until the first failure is 10 s old
    now[0] += 5.5
    assert t.retry_after("a") == 1
    now[0] += 0.5
    assert t.retry_after("a") == 0                      # one failure left in the window
    t.failed("a")
    assert t.retry_after("a") == 4
    for k in ("b", "c", "d", "e"):
        t.failed(k)
    assert len(t._fails) == 3                           # the least recently failed went first
    assert "a" not in t._fails and "b" not in t._fails
    t.clear("e")
    assert t.retry_after("e") == 0
    with pytest.raises(ValueError):
        Throttle(0, 1.0)
