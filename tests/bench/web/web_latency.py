"""web_latency.py — the web app's latencies as a user sees them, measured in
real Chromium, each beside a raw baseline measured in the same run.

  chat: pressing Send → the first streamed event (the demo model's tool call)
        in the page (performance.now() in the page). Baseline: the same
        pydantic-ai turn (Agent + SbxWorkspace + ConsoleCapability + the demo
        model) run in this process, start → its first tool-call event.
  log:  a command's output in the sandbox (the log event's own timestamp,
        taken by sbxd when the output arrived) → its line in the page
        (Date.now() when the page appends it). Baseline: the same events
        through sbx's LogSubscription in this process.

Prints p50/p90/p99 and web/raw ratios; --json prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "client" / "web" / "tests"))

from conftest import PASSWORDS, Sbxd, Web, free_port  # noqa: E402
from test_browser import browser, new_session, sign_in, wait  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def pct(xs: list[float]) -> dict:
    s = sorted(xs)
    q = lambda p: s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]  # noqa: E731
    return {"n": len(s), "p50": q(50), "p90": q(90), "p99": q(99), "mean": statistics.fmean(s)}


def chat_in_page(d, n: int) -> list[float]:
    out = []
    for i in range(n):
        d.find_element(By.ID, "chat-input").send_keys(f"run: echo chat-{i}")
        d.find_element(By.ID, "send").click()
        wait(d, lambda d: d.execute_script("return window.sbxFirstEventAt !== undefined"),
             "the first event")
        out.append(d.execute_script("return window.sbxFirstEventAt - window.sbxSentAt"))
        wait(d, lambda d: d.find_element(By.ID, "send").is_enabled(), "the turn's end")
    return out


async def chat_raw(sbxd: Sbxd, n: int) -> list[float]:
    from pydantic_ai import Agent
    from pydantic_ai.messages import FunctionToolCallEvent
    from pydantic_ai_backends import ConsoleCapability
    from pydantic_ai_backends.permissions import PERMISSIVE_RULESET
    from sbx import AsyncClient
    from sbx.workspace import SbxWorkspace
    from sbxweb.chat import INSTRUCTIONS
    from sbxweb.demo_model import demo_model
    async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as c:
        r = await c.create_session("bench-raw")
        sid, token = r.session.session_id, r.session_token
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        async with SbxWorkspace(endpoint=sbxd.endpoint, session_id=sid, session_token=token) as ws:
            agent = Agent(demo_model(), instructions=INSTRUCTIONS,
                          capabilities=[ws, ConsoleCapability(permissions=PERMISSIVE_RULESET)])
            async with agent.run_stream_events(f"run: echo raw-{i}") as events:
                first = None
                async for ev in events:
                    if first is None and isinstance(ev, FunctionToolCallEvent):
                        first = (time.perf_counter() - t0) * 1000
        out.append(first)
    return out


def log_in_page(d, sbxd: Sbxd, sid: str, n: int) -> list[float]:
    d.execute_script("window.sbxSeen = {}; window.sbxOnLog = (m, now) => {"
                     " const k = m.text.match(/mark-(\\d+)/);"
                     " if (k && m.stream === 'stdout') window.sbxSeen[k[1]] = now - m.ms; };")
    out = []
    with sbxd.client() as c:
        for i in range(n):
            c.execute(sid, f"echo mark-{i}")
            wait(d, lambda d: d.execute_script(f"return window.sbxSeen['{i}'] !== undefined"),
                 f"mark-{i} in the page")
            out.append(float(d.execute_script(f"return window.sbxSeen['{i}']")))
    return out


async def log_raw(sbxd: Sbxd, n: int) -> list[float]:
    from sbx import AsyncClient
    out = []
    async with AsyncClient(sbxd.endpoint, service_key=sbxd.key) as c:
        sid = (await c.create_session("bench-raw-log")).session.session_id
        async with c.logs(sid, after_seq=None) as events:
            for i in range(n):
                await c.execute(sid, f"echo mark-{i}")
                async for ev in events:
                    if ev.data.startswith(f"mark-{i}".encode()):
                        out.append(time.time() * 1000 - ev.unix_ms)
                        break
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sbxd = Sbxd(os.environ["SBXD_BIN"])
    sbxd.start()
    tmp = Path(tempfile.mkdtemp(prefix="sbx-web-bench-"))
    port = free_port()
    env = {**os.environ, "SBXWEB_DB": str(tmp / "web.db"), "SBXWEB_SECRET_KEY_FILE": str(tmp / "s"),
           "SBXWEB_SBX_ENDPOINT": sbxd.endpoint, "SBXWEB_SBX_SERVICE_KEY": sbxd.key,
           "SBXWEB_LISTEN_PORT": str(port)}
    for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SBXWEB_MODEL"):
        env.pop(k, None)
    web = Web(url=f"http://127.0.0.1:{port}", dir=tmp, env=env, log=tmp / "web.log")
    web.cli("create-user", "alice", stdin=PASSWORDS["alice"] + "\n")
    web.start()
    d = browser(str(tmp / "chrome"))
    try:
        sign_in(d, web, "alice")
        sid = new_session(d, "bench")
        chat_in_page(d, 3)                       # warm-up
        res = {"chat_web_ms": pct(chat_in_page(d, a.iterations)),
               "chat_raw_ms": pct(asyncio.run(chat_raw(sbxd, a.iterations))),
               "log_web_ms": pct(log_in_page(d, sbxd, sid, a.iterations)),
               "log_raw_ms": pct(asyncio.run(log_raw(sbxd, a.iterations)))}
    finally:
        d.quit()
        web.stop()
        sbxd.finish()
    res["chat_ratio_p50"] = res["chat_web_ms"]["p50"] / res["chat_raw_ms"]["p50"]
    res["log_ratio_p50"] = res["log_web_ms"]["p50"] / res["log_raw_ms"]["p50"]
    if a.json:
        print(json.dumps(res))
    else:
        for k in ("chat_web_ms", "chat_raw_ms", "log_web_ms", "log_raw_ms"):
            r = res[k]
            print(f"{k:12} n={r['n']:3} p50={r['p50']:8.2f} p90={r['p90']:8.2f} "
                  f"p99={r['p99']:8.2f}")
        print(f"ratio web/raw p50: chat {res['chat_ratio_p50']:.2f}  "
              f"log {res['log_ratio_p50']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
