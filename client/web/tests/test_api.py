"""test_api.py — the HTTP API and the WebSocket against a real sbxd: sign-in,
CSRF, isolation between users (whatever ids they guess), paths, uploads,
escaping, the chat with the demo model, Stop, and the live log stream."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import urllib.parse

import httpx
import pytest
import websockets


def new_session(c: httpx.Client, title: str = "t", runtime: str = "python-minimal") -> str:
    r = c.post("/sessions", data={"csrf": c.csrf, "runtime": runtime, "title": title})
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def chat(c: httpx.Client, sid: str, text: str) -> list[dict]:
    with c.stream("POST", f"/api/s/{sid}/chat", json={"message": text},
                  headers={"X-CSRF-Token": c.csrf}) as s:
        assert s.status_code == 200
        return [json.loads(line) for line in s.iter_lines() if line]


@pytest.fixture(scope="module")
def alice(web):
    c = web.login("alice")
    yield c
    c.close()


@pytest.fixture(scope="module")
def bob(web):
    c = web.login("bob")
    yield c
    c.close()


@pytest.fixture(scope="module")
def sid(alice):
    return new_session(alice, title="alice's")


def test_sign_in_refuses_wrong_password_and_forged_cookies(web):
    with httpx.Client(base_url=web.url) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"name": "alice", "password": "wrong-password", "csrf": token})
        assert r.status_code == 303 and "Wrong" in r.headers["location"]
        assert "sbxweb_session" not in c.cookies
        # no form token: refused before the password is looked at
        r = c.post("/login", data={"name": "alice", "password": "alice-password-1"})
        assert r.status_code == 303 and "expired" in r.headers["location"]
    for cookie in ("forged", "x" * 40 + ".sig", ""):
        with httpx.Client(base_url=web.url, cookies={"sbxweb_session": cookie}) as c:
            assert c.get("/api/s/s-0123/files").status_code == 401
            assert c.get("/").headers["location"] == "/login"


def test_cookies_are_http_only_and_same_site(web):
    with httpx.Client(base_url=web.url) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"name": "bob", "password": "bob-password-22", "csrf": token})
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie


def test_state_changes_need_the_csrf_token(alice, sid):
    r = alice.post(f"/api/s/{sid}/save", json={"path": "x.txt", "content": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = alice.post(f"/api/s/{sid}/save", json={"path": "x.txt", "content": "x"},
                   headers={"X-CSRF-Token": "not-it"})
    assert r.status_code == 403
    r = alice.post("/sessions", data={"runtime": "python-minimal"})
    assert r.status_code == 403


def test_files_round_trip_and_paths_stay_inside(alice, sid):
    h = {"X-CSRF-Token": alice.csrf}
    r = alice.post(f"/api/s/{sid}/save", json={"path": "dir/a.txt", "content": "one\ntwo\n"},
                   headers=h)
    assert r.status_code == 200, r.text
    names = [e["name"] for e in alice.get(f"/api/s/{sid}/files").json()["entries"]]
    assert "dir" in names
    v = alice.get(f"/api/s/{sid}/file", params={"path": "dir/a.txt"}).json()
    assert v["text"] == "one\ntwo\n" and not v["image"]
    raw = alice.get(f"/api/s/{sid}/raw", params={"path": "dir/a.txt"})
    assert raw.content == b"one\ntwo\n" and "attachment" in raw.headers["content-disposition"]
    for bad in ("../etc/passwd", "dir/../../x", "/workspace/../etc/passwd", "a\0b"):
        r = alice.get(f"/api/s/{sid}/file", params={"path": bad})
        assert r.status_code == 400, (bad, r.text)
        r = alice.post(f"/api/s/{sid}/save", json={"path": bad, "content": "x"}, headers=h)
        assert r.status_code == 400, (bad, r.text)
    r = alice.post(f"/api/s/{sid}/delete", json={"path": "dir"}, headers=h)
    assert r.status_code == 200
    assert alice.get(f"/api/s/{sid}/file", params={"path": "dir/a.txt"}).status_code == 404


def _announce(web, c: httpx.Client, url: str, length: int) -> tuple[int, bytes]:
    """Sends only the headers of a PUT announcing `length` bytes; the answer."""
    u = urllib.parse.urlsplit(web.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.putrequest("PUT", url)
    conn.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in c.cookies.items()))
    conn.putheader("X-CSRF-Token", c.csrf)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def test_upload_is_bounded_with_a_clear_message(web, alice, sid):
    h = {"X-CSRF-Token": alice.csrf}
    data = bytes(range(256)) * 1000
    r = alice.put(f"/api/s/{sid}/upload", params={"path": "up.bin"}, content=data, headers=h)
    assert r.status_code == 200 and r.json()["size"] == len(data), r.text
    assert alice.get(f"/api/s/{sid}/raw", params={"path": "up.bin"}).content == data
    # 2 GB announced: refused from the header, before any byte is read
    status, body = _announce(web, alice, f"/api/s/{sid}/upload?path=big.bin", 2 << 30)
    assert status == 413
    assert "limited to 1048576 bytes" in json.loads(body)["error"]
    r = alice.put(f"/api/s/{sid}/upload", params={"path": "big.bin"},
                  content=b"x" * ((1 << 20) + 1), headers=h)
    assert r.status_code == 413


def test_html_in_names_and_contents_is_escaped(alice, sid):
    evil = '<img src=x onerror=alert(1)>'
    h = {"X-CSRF-Token": alice.csrf}
    r = alice.post("/sessions", data={"csrf": alice.csrf, "runtime": "python-minimal",
                                      "title": evil})
    page = alice.get(r.headers["location"])
    assert evil not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    alice.post(f"/api/s/{sid}/save", json={"path": "evil.html", "content": evil}, headers=h)
    raw = alice.get(f"/api/s/{sid}/raw", params={"path": "evil.html", "inline": 1})
    # never served as a page: a download, sandboxed, not sniffed
    assert raw.headers["content-type"] == "application/octet-stream"
    assert "sandbox" in raw.headers["content-security-policy"]
    assert raw.headers["x-content-type-options"] == "nosniff"


def test_another_users_session_is_not_found_whatever_the_route(alice, bob, web, sid):
    h = {"X-CSRF-Token": bob.csrf}
    alice.post(f"/api/s/{sid}/save", json={"path": "secret.txt", "content": "alice only"},
               headers={"X-CSRF-Token": alice.csrf})
    assert sid not in bob.get("/").text
    gets = [f"/s/{sid}", f"/api/s/{sid}/files", f"/api/s/{sid}/chat",
            f"/api/s/{sid}/file?path=secret.txt", f"/api/s/{sid}/raw?path=secret.txt"]
    for url in gets:
        r = bob.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert "alice only" not in r.text
    posts = [(f"/api/s/{sid}/save", {"path": "secret.txt", "content": "bob was here"}),
             (f"/api/s/{sid}/delete", {"path": "secret.txt"}),
             (f"/api/s/{sid}/chat", {"message": "run: cat secret.txt"}),
             (f"/api/s/{sid}/chat/stop", {})]
    for url, body in posts:
        assert bob.post(url, json=body, headers=h).status_code == 404, url
    assert bob.put(f"/api/s/{sid}/upload?path=x", content=b"x", headers=h).status_code == 404
    assert bob.post(f"/s/{sid}/end", data={"csrf": bob.csrf}).status_code == 404
    assert bob.get("/admin").status_code == 403
    v = alice.get(f"/api/s/{sid}/file", params={"path": "secret.txt"}).json()
    assert v["text"] == "alice only"


async def _ws(web, client: httpx.Client, sid: str, after: int = 0):
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return await websockets.connect(
        web.url.replace("http", "ws") + f"/s/{sid}/ws?after={after}",
        additional_headers={"Cookie": cookie}, origin=web.url, open_timeout=30)


async def _until(conn, pred, timeout=60.0):
    async with asyncio.timeout(timeout):
        while True:
            m = json.loads(await conn.recv())
            if pred(m):
                return m


def test_websocket_is_refused_for_another_users_session(web, alice, bob, sid):
    async def go():
        for who in (bob, httpx.Client(base_url=web.url)):
            with pytest.raises(websockets.InvalidStatus) as ei:
                await _ws(web, who, sid)
            assert ei.value.response.status_code == 403
        # the right cookie from another site's page: refused too
        cookie = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(web.url.replace("http", "ws") + f"/s/{sid}/ws",
                                     additional_headers={"Cookie": cookie},
                                     origin="http://evil.example")
    asyncio.run(go())


def test_chat_runs_tools_and_the_output_streams_on_the_websocket(web, alice, sid):
    async def go():
        conn = await _ws(web, alice, sid)
        await _until(conn, lambda m: m["t"] == "status" and m["ok"])
        evs = await asyncio.to_thread(chat, alice, sid, "create a hello world script and run it")
        kinds = [e["t"] for e in evs]
        assert kinds[0] == "user" and "tool_call" in kinds and kinds[-1] == "done", evs
        assert any(e["t"] == "tool_result" and "Hello, world!" in e["text"] for e in evs)
        line = await _until(conn, lambda m: m["t"] == "log" and "Hello, world!" in m["text"])
        assert line["stream"] == "stdout"
        await conn.close()
        # a reconnect from the last seq seen replays only what came after it
        await asyncio.to_thread(chat, alice, sid, "run: echo after-the-drop")
        conn = await _ws(web, alice, sid, after=line["seq"])
        m = await _until(conn, lambda m: m["t"] == "log")
        assert m["seq"] > line["seq"]
        await _until(conn, lambda m: m["t"] == "log" and "after-the-drop" in m["text"])
        await conn.close()
    asyncio.run(go())
    hist = alice.get(f"/api/s/{sid}/chat").json()
    assert hist["model"].startswith("demo")
    assert [e["kind"] for e in hist["events"]][:2] == ["user", "tool_call"]
    assert alice.get(f"/api/s/{sid}/file", params={"path": "hello.py"}).status_code == 200


def test_stop_ends_a_chat_that_would_run_forever(web, alice, sid):
    h = {"X-CSRF-Token": alice.csrf}
    evs: list[dict] = []

    def run():
        with alice.stream("POST", f"/api/s/{sid}/chat", json={"message": "loop forever"},
                          headers=h) as s:
            for line in s.iter_lines():
                evs.append(json.loads(line))
                if evs[-1]["t"] == "tool_call":
                    assert alice.post(f"/api/s/{sid}/chat", json={"message": "x"},
                                      headers=h).status_code == 409
                    assert alice.post(f"/api/s/{sid}/chat/stop", headers=h).json()["stopped"]
    run()
    assert evs[-1] == {"t": "error", "text": "stopped by the user"}, evs
    # the loop was killed with the chat: the next chat runs at once
    evs = chat(alice, sid, "run: echo next")
    assert evs[-1]["t"] == "done"


def test_terminal_over_the_websocket(web, alice, sid):
    async def go():
        conn = await _ws(web, alice, sid)
        await conn.send(json.dumps({"t": "term_open", "cols": 80, "rows": 24}))
        tid = (await _until(conn, lambda m: m["t"] == "term_open"))["id"]
        await conn.send(json.dumps({"t": "term_in", "id": tid, "data": "echo $((6*7))x\r"}))
        await _until(conn, lambda m: m["t"] == "term" and m["id"] == tid and "42x" in m["data"])
        await conn.send(json.dumps({"t": "term_in", "id": "t-bogus", "data": "x"}))
        m = await _until(conn, lambda m: m["t"] == "status" and not m["ok"])
        assert "terminal" in m["text"]
        await conn.send(json.dumps({"t": "term_in", "id": tid, "data": "exit\r"}))
        await _until(conn, lambda m: m["t"] == "term_end" and m["id"] == tid)
        await conn.close()
    asyncio.run(go())


def test_admin_sees_every_session_with_usage_and_ends_one(web, alice, sid):
    root = web.login("root")
    page = root.get("/admin")
    assert page.status_code == 200 and sid in page.text and "alice" in page.text
    other = new_session(alice, title="to end")
    r = root.post(f"/admin/end/{other}", data={"csrf": root.csrf})
    assert r.status_code == 303
    assert f'data-sid="{other}"' in alice.get("/").text
    assert re.search(rf'data-sid="{other}">.*?class="state">ended<', alice.get("/").text, re.S)
    r = root.post("/admin/cleanup", data={"csrf": root.csrf, "minutes": "60"})
    assert r.status_code == 303
    assert alice.post(f"/api/s/{other}/chat", json={"message": "hi"},
                      headers={"X-CSRF-Token": alice.csrf}).status_code == 409
    root.close()


def test_chat_timeout_stops_an_agent_that_loops(sbxd, tmp_path):
    """A second app on the same sbxd with a 3 s chat timeout."""
    from conftest import make_web
    w = make_web(sbxd, tmp_path, "webt-", SBXWEB_CHAT_TIMEOUT_S="3")
    try:
        c = w.login("alice")
        s = new_session(c)
        evs = chat(c, s, "loop forever")
        assert evs[-1]["t"] == "error" and "longer than 3 s" in evs[-1]["text"], evs
        assert any(e["t"] == "tool_call" for e in evs)
        assert chat(c, s, "run: echo fine")[-1]["t"] == "done"
        c.close()
    finally:
        w.stop()


def test_sbxd_down_is_said_and_the_page_recovers(web, sbxd, alice, sid):
    """Last in this file: it restarts the private sbxd."""
    async def go():
        conn = await _ws(web, alice, sid)
        await _until(conn, lambda m: m["t"] == "status" and m["ok"])
        await asyncio.to_thread(sbxd.stop)
        try:
            m = await _until(conn, lambda m: m["t"] == "status" and not m["ok"])
            assert "sbxd is not answering" in m["text"]
            r = await asyncio.to_thread(alice.get, f"/api/s/{sid}/files")
            assert r.status_code == 503 and "try again" in r.json()["error"]
            assert "sbx-down" in (await asyncio.to_thread(alice.get, "/")).text
        finally:
            await asyncio.to_thread(sbxd.start)
        await _until(conn, lambda m: m["t"] == "status" and m["ok"])
        evs = await asyncio.to_thread(chat, alice, sid, "run: echo back-again")
        assert evs[-1]["t"] == "done", evs
        await _until(conn, lambda m: m["t"] == "log" and "back-again" in m["text"])
        await conn.close()
    asyncio.run(go())
