"""app.py — the FastAPI application: pages, the JSON API, the WebSocket.

Every route under /s/{sid} and /api/s/{sid} answers only the sandbox's owner:
`owned()` looks the id up together with the signed-in user and answers 404
for anyone else's id exactly as for an unknown one. State-changing requests
need the CSRF token of the sign-in. Pages are Jinja2 templates
(autoescaped); the page scripts build the DOM with textContent only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import secrets
import weakref
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Form, HTTPException, Request, WebSocket
from fastapi.responses import (HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse,
                               StreamingResponse)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from sbx import SbxError, pb

from . import auth, live
from .chat import Chats, ndjson
from .config import Config
from .db import Db
from .sbxd import Sbxd, abs_path, clean_path, sbx_user
from .terminals import Terminals
from .throttle import SignInThrottle

log = logging.getLogger("sbxweb")
HERE = Path(__file__).parent
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
MAX_MESSAGE = 16 << 10
MAX_TITLE = 80
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")


class Saved(BaseModel):
    path: str
    content: str


class PathBody(BaseModel):
    path: str


class Message(BaseModel):
    message: str


def create_app(cfg: Config) -> FastAPI:
    db = Db(cfg.db)
    cookies = auth.Cookies(auth.load_secret(cfg.secret_key_file))
    sbxd = Sbxd(cfg.sbx_endpoint, cfg.service_key())
    chats = Chats(db, cfg.sbx_endpoint, cfg.model, cfg.chat_timeout_s)
    terminals = Terminals(sbxd.client, cfg.terminal_grace_s)
    starting: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
    throttle = SignInThrottle(cfg.login_fail_limit_user, cfg.login_fail_limit_addr,
                              cfg.login_fail_window_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for sid in list(chats.running):
            chats.stop(sid)
        await terminals.close_all()
        await sbxd.close()
        db.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db, app.state.sbxd, app.state.chats = db, sbxd, chats
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # the terminal emulator: Debian's libjs-term.js (libjs-xterm 3.8.1 in Debian 12
    # ships a browser file that only re-exports CommonJS modules it does not include)
    termjs = Path(cfg.js_dir) / "term.js"
    if termjs.is_dir():
        app.mount("/js/term.js", StaticFiles(directory=str(termjs)), name="termjs")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def secure(request: Request) -> bool:
        if cfg.cookie_secure == "auto":
            return request.url.scheme == "https"
        return cfg.cookie_secure in ("yes", "true", "1")

    # ------------------------------------------------------------ who is asking

    def user_or_none(request: Request):
        return cookies.current(db, request.cookies.get(auth.COOKIE))

    def user(request: Request):
        u = user_or_none(request)
        if u is None:
            raise HTTPException(401, "sign in first (/login)")
        return u

    def checked(request: Request, u=Depends(user)):
        """The user, for a state-changing request whose CSRF token matches."""
        if not auth.same(request.headers.get("x-csrf-token"), u["csrf"]):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return u

    async def form_checked(request: Request, u=Depends(user)):
        form = await request.form()
        if not auth.same(str(form.get("csrf", "")), u["csrf"]):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return u

    def admin(u=Depends(user)):
        if not u["is_admin"]:
            raise HTTPException(403, "admins only")
        return u

    def owned(sid: str, u) :
        row = db.sandbox_of(sid, u["id"]) if len(sid) <= 128 else None
        if row is None:
            raise HTTPException(404, "no such session")
        return row

    @app.exception_handler(HTTPException)
    async def http_exc(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        return templates.TemplateResponse(request, "error.html",
                                          {"status": exc.status_code, "message": exc.detail},
                                          status_code=exc.status_code)

    # ------------------------------------------------------------ sign-in

    @app.get("/healthz")
    async def healthz():
        return PlainTextResponse("ok\n")

    def login_form(request: Request, error: str, status: int = 200, headers=None):
        token = secrets.token_urlsafe(24)
        resp = templates.TemplateResponse(request, "login.html",
                                          {"csrf": token, "error": error[:200]},
                                          status_code=status, headers=headers)
        resp.set_cookie(auth.LOGIN_COOKIE, cookies.sign(token), httponly=True, samesite="strict",
                        secure=secure(request), max_age=3600)
        return resp

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, error: str = ""):
        return login_form(request, error)

    @app.post("/login")
    async def login(request: Request, name: str = Form(""), password: str = Form(""),
                    csrf: str = Form("")):
        expected = cookies.unsign(request.cookies.get(auth.LOGIN_COOKIE))
        if not auth.same(csrf, expected):
            return RedirectResponse("/login?error=The+form+expired%3A+try+again", 303)
        # throttled before the password is looked at (see throttle.py)
        name_key, addr = name[:64].lower(), request.client.host if request.client else "?"
        device = cookies.device(request.cookies.get(auth.DEVICE_COOKIE), name_key)
        wait, whom = throttle.wait(name_key, addr, device)
        if wait:
            log.warning("sign-in throttled %s (%d s)", whom, wait)
            return login_form(request, f"Too many failed sign-ins {whom}: try again in {wait} s.",
                              429, {"Retry-After": str(wait)})
        u = auth.verify(db, name, password)
        if u is None:
            throttle.failed(name_key, addr, device)
            return RedirectResponse("/login?error=Wrong+user+name+or+password", 303)
        throttle.succeeded(name_key, device)
        resp = RedirectResponse("/", 303)
        resp.set_cookie(auth.COOKIE, cookies.new_login(db, u["id"], cfg.login_ttl_s),
                        httponly=True, samesite="strict", secure=secure(request),
                        max_age=cfg.login_ttl_s)
        if device is None:
            resp.set_cookie(auth.DEVICE_COOKIE, cookies.new_device(name_key), httponly=True,
                            samesite="strict", secure=secure(request), max_age=auth.DEVICE_TTL_S)
        resp.delete_cookie(auth.LOGIN_COOKIE)
        return resp

    @app.post("/logout")
    async def logout(request: Request, u=Depends(form_checked)):
        cookies.end(db, request.cookies.get(auth.COOKIE))
        resp = RedirectResponse("/login", 303)
        resp.delete_cookie(auth.COOKIE)
        return resp

    # ------------------------------------------------------------ sessions

    async def runtimes() -> list[str]:
        r = await sbxd.call(sbxd.client.list_runtimes())
        return [rt.name for rt in r.runtimes if rt.ready]

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request):
        u = user_or_none(request)
        if u is None:
            return RedirectResponse("/login", 303)
        rows = db.sandboxes_of(u["id"])
        sbx_ok, states, names = True, {}, []
        try:
            names = await runtimes()
            listed = await sbxd.sessions(user_id=sbx_user(cfg.sbx_user_prefix, u["name"]), include_ended=True)
            states = {s.session_id: s for s in listed}
        except (SbxError, HTTPException):
            sbx_ok = False
        items = [{"sid": r["sid"], "title": r["title"], "runtime": r["runtime"],
                  "state": _state(states.get(r["sid"]), r["ended"])} for r in rows]
        return templates.TemplateResponse(request, "home.html", {
            "user": u, "items": items, "runtimes": names, "sbx_ok": sbx_ok})

    @app.post("/sessions")
    async def create(request: Request, u=Depends(form_checked)):
        form = await request.form()
        runtime, title = str(form.get("runtime", "")), str(form.get("title", "")).strip()
        if runtime not in await runtimes():
            raise HTTPException(400, "choose a runtime from the list")
        title = title[:MAX_TITLE] or runtime
        r = await sbxd.call(sbxd.client.create_session(
            sbx_user(cfg.sbx_user_prefix, u["name"]), runtime=runtime, labels={"app": "sbx-web"}, timeout=120.0))
        db.add_sandbox(r.session.session_id, u["id"], r.session_token, runtime, title)
        return RedirectResponse(f"/s/{r.session.session_id}", 303)

    @app.get("/s/{sid}", response_class=HTMLResponse)
    async def session_page(request: Request, sid: str, u=Depends(user)):
        row = owned(sid, u)
        return templates.TemplateResponse(request, "session.html", {
            "user": u, "sb": row, "model": chats.model_label,
            "demo": chats.model_label.startswith("demo"), "history": db.chat(sid),
            "max_upload": cfg.max_upload_bytes})

    @app.post("/s/{sid}/end")
    async def end(request: Request, sid: str, u=Depends(form_checked)):
        owned(sid, u)
        chats.stop(sid)
        await sbxd.call(sbxd.client.end_session(sid))
        db.mark_ended(sid)
        return RedirectResponse("/", 303)

    # ------------------------------------------------------------ files

    @app.get("/api/s/{sid}/files")
    async def ls(sid: str, path: str = "", u=Depends(user)):
        owned(sid, u)
        rel = clean_path(path)
        r = await sbxd.call(sbxd.client.ls(sid, abs_path(rel)))
        return {"path": rel, "truncated": r.truncated, "entries": [
            {"name": e.name, "path": clean_path(e.path), "dir": e.is_dir, "size": e.size,
             "mtime_ms": e.mtime_unix_ms} for e in r.entries]}

    @app.get("/api/s/{sid}/file")
    async def view(sid: str, path: str, u=Depends(user)):
        owned(sid, u)
        rel = clean_path(path)
        st = await sbxd.call(sbxd.client.stat(sid, abs_path(rel)))
        if not st.exists:
            raise HTTPException(404, f"{rel}: no such file")
        if st.info.is_dir:
            raise HTTPException(400, f"{rel} is a directory")
        kind = mimetypes.guess_type(rel)[0] or ""
        out = {"path": rel, "size": st.info.size, "image": kind in IMAGE_TYPES}
        if out["image"] or st.info.size > cfg.max_edit_bytes:
            return {**out, "text": None}
        r = await sbxd.call(sbxd.client.read_bytes(sid, abs_path(rel), length=cfg.max_edit_bytes))
        try:
            return {**out, "text": r.data.decode("utf-8")}
        except UnicodeDecodeError:
            return {**out, "text": None}

    @app.get("/api/s/{sid}/raw")
    async def raw(sid: str, path: str, inline: int = 0, u=Depends(user)):
        owned(sid, u)
        rel = clean_path(path)
        st = await sbxd.call(sbxd.client.stat(sid, abs_path(rel)))
        if not st.exists or st.info.is_dir:
            raise HTTPException(404, f"{rel}: no such file")
        kind = mimetypes.guess_type(rel)[0] or ""
        show = bool(inline) and kind in IMAGE_TYPES
        name = rel.rsplit("/", 1)[-1].replace('"', "_").encode("ascii", "replace").decode()

        async def body():
            off = 0
            while True:
                r = await sbxd.client.download(sid, abs_path(rel), offset=off)
                if r.data:
                    yield r.data
                off += len(r.data)
                if r.eof or not r.data:
                    return
        return StreamingResponse(body(), media_type=kind if show else "application/octet-stream",
                                 headers={"Content-Disposition":
                                          ("inline" if show else f'attachment; filename="{name}"'),
                                          "Content-Security-Policy": "default-src 'none'; sandbox",
                                          "Content-Length": str(st.info.size)})

    @app.post("/api/s/{sid}/save")
    async def save(sid: str, body: Saved, u=Depends(checked)):
        owned(sid, u)
        rel = clean_path(body.path)
        if not rel:
            raise HTTPException(400, "name a file to save")
        data = body.content.encode()
        if len(data) > cfg.max_edit_bytes:
            raise HTTPException(413, f"the editor saves files up to {cfg.max_edit_bytes} bytes; "
                                     "upload larger ones")
        await sbxd.call(sbxd.client.write(sid, abs_path(rel), data))
        return {"path": rel, "size": len(data)}

    @app.post("/api/s/{sid}/delete")
    async def delete(sid: str, body: PathBody, u=Depends(checked)):
        owned(sid, u)
        rel = clean_path(body.path)
        if not rel:
            raise HTTPException(400, "the workspace itself cannot be deleted")
        await sbxd.call(sbxd.client.remove(sid, abs_path(rel), recursive=True))
        return {"deleted": rel}

    @app.put("/api/s/{sid}/upload")
    async def upload(request: Request, sid: str, path: str, u=Depends(checked)):
        owned(sid, u)
        rel = clean_path(path)
        if not rel:
            raise HTTPException(400, "name the file to upload to")
        try:
            size = int(request.headers.get("content-length", ""))
        except ValueError:
            raise HTTPException(411, "send the upload with a Content-Length") from None
        if size > cfg.max_upload_bytes:
            raise HTTPException(413, f"the file is {size} bytes; uploads are limited to "
                                     f"{cfg.max_upload_bytes} bytes (max_upload_bytes)")
        c = sbxd.client
        begin = await sbxd.call(c.upload_begin(sid, abs_path(rel), size))
        h, off = hashlib.sha256(), 0
        try:
            async for chunk in request.stream():
                if off + len(chunk) > size:
                    raise HTTPException(400, "the body is longer than its Content-Length")
                h.update(chunk)
                step = begin.chunk_size or (1 << 20)
                for i in range(0, len(chunk), step):
                    await sbxd.call(c.upload_chunk(sid, begin.upload_id, off, chunk[i:i + step]))
                    off += len(chunk[i:i + step])
            if off != size:
                raise HTTPException(400, "the upload ended early; try again")
            r = await sbxd.call(c.upload_finish(sid, begin.upload_id, h.digest()))
        except BaseException:
            try:
                await c.upload_abort(sid, begin.upload_id)
            except SbxError:
                pass
            raise
        return {"path": rel, "size": r.size}

    # ------------------------------------------------------------ chat

    @app.get("/api/s/{sid}/chat")
    async def history(sid: str, u=Depends(user)):
        owned(sid, u)
        return {"model": chats.model_label, "events": db.chat(sid), "busy": chats.busy(sid)}

    @app.post("/api/s/{sid}/chat")
    async def chat(sid: str, body: Message, u=Depends(checked)):
        row = owned(sid, u)
        text = body.message.strip()
        if not text or len(text) > MAX_MESSAGE:
            raise HTTPException(400, f"a message has 1 to {MAX_MESSAGE} characters")
        if row["ended"]:
            raise HTTPException(409, "this session has ended; start a new one")
        if chats.busy(sid):
            raise HTTPException(409, "the agent is still answering; wait or press Stop")
        # one start at a time per sandbox: two must not both mint a token (the
        # second RotateToken would revoke the first's)
        lock = starting.setdefault(sid, asyncio.Lock())
        async with lock:
            token = owned(sid, u)["token"]
            renewed = await sbxd.call(sbxd.renewed_token(sid, token))
            if renewed is not None:   # the stored token was rotated from outside: use a new one
                log.info("session %s: its stored token was refused; a new one was minted", sid)
                db.set_token(sid, renewed)
                token = renewed
            if chats.busy(sid):       # another request started a turn meanwhile
                raise HTTPException(409, "the agent is still answering; wait or press Stop")
            q = chats.start(sid, token, text)

        async def stream():
            while (ev := await q.get()) is not None:
                yield ndjson(ev)
        return StreamingResponse(stream(), media_type="application/x-ndjson")

    @app.post("/api/s/{sid}/chat/stop")
    async def stop(sid: str, u=Depends(checked)):
        owned(sid, u)
        return {"stopped": chats.stop(sid)}

    # ------------------------------------------------------------ live

    @app.websocket("/s/{sid}/ws")
    async def ws(websocket: WebSocket, sid: str, after: int = 0):
        u = cookies.current(db, websocket.cookies.get(auth.COOKIE))
        origin = websocket.headers.get("origin", "")
        host = websocket.headers.get("host", "")
        if (u is None or origin not in (f"http://{host}", f"https://{host}")
                or db.sandbox_of(sid, u["id"]) is None or after < 0):
            await websocket.close(code=4403)        # before accept: an HTTP 403
            return
        await websocket.accept()
        await live.serve(websocket, sbxd.client, sid, after, cfg.ws_queue_events, terminals)

    # ------------------------------------------------------------ admin

    @app.get("/admin", response_class=HTMLResponse)
    async def admin_page(request: Request, u=Depends(admin)):
        mine = db.all_sandboxes()
        try:
            sessions, sbx_ok = await sbxd.sessions(labels={"app": "sbx-web"}), True
        except SbxError:
            sessions, sbx_ok = [], False
        rows = [{"sid": s.session_id, "owner": mine[s.session_id]["user_name"]
                 if s.session_id in mine else "?", "runtime": s.runtime,
                 "state": _state(s, False), "mem_mb": s.usage.memory_bytes / 1e6,
                 "cpu": s.usage.cpu_percent, "pids": s.usage.pids,
                 "disk_mb": s.usage.disk_bytes / 1e6,
                 "idle_s": max(0, (db_now() - s.last_active_unix_ms) // 1000)} for s in sessions]
        return templates.TemplateResponse(request, "admin.html", {
            "user": u, "rows": rows, "sbx_ok": sbx_ok, "users": db.users(),
            "idle_min": cfg.idle_cleanup_ms // 60000})

    @app.post("/admin/end/{sid}")
    async def admin_end(request: Request, sid: str, u=Depends(form_checked)):
        if not u["is_admin"]:
            raise HTTPException(403, "admins only")
        chats.stop(sid)
        await sbxd.call(sbxd.client.end_session(sid))
        db.mark_ended(sid)
        return RedirectResponse("/admin", 303)

    @app.post("/admin/cleanup")
    async def admin_cleanup(request: Request, u=Depends(form_checked)):
        if not u["is_admin"]:
            raise HTTPException(403, "admins only")
        form = await request.form()
        try:
            minutes = int(str(form.get("minutes", "")))
        except ValueError:
            raise HTTPException(400, "give the idle time in whole minutes") from None
        await sbxd.call(sbxd.client.cleanup_idle(max_idle_ms=max(1, minutes) * 60000,
                                                 labels={"app": "sbx-web"}))
        return RedirectResponse("/admin", 303)

    return app


def db_now() -> int:
    from .db import now_ms
    return now_ms()


def _state(s: pb.Session | None, ended: int) -> str:
    if s is None:
        return "ended" if ended else "unknown"
    return pb.SessionState.Name(s.state).removeprefix("SESSION_STATE_").lower()
