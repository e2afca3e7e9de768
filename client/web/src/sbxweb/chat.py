"""chat.py — one chat turn: a pydantic-ai Agent with SbxWorkspace (the
sandbox reached with its session token only) and pydantic-ai-backend's
ConsoleCapability, its events streamed to the page as they happen.

A turn runs as a task of its own, at most one per sandbox, under the
configured timeout; Stop cancels it (the workspace kills the command it was
running). Events go to the HTTP response (NDJSON lines) through a bounded
queue and into the chat history table; the agent's own message history is
kept per sandbox so the next turn continues the conversation.
"""

from __future__ import annotations

import asyncio
import json
import os

from pydantic_ai import Agent
from pydantic_ai.messages import (FunctionToolCallEvent, FunctionToolResultEvent,
                                  ModelMessagesTypeAdapter, PartDeltaEvent, PartStartEvent,
                                  TextPart, TextPartDelta)
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai_backends import ConsoleCapability
from pydantic_ai_backends.permissions import PERMISSIVE_RULESET

from sbx.workspace import SbxWorkspace

from .db import Db
from .demo_model import demo_model

MAX_TOOL_TEXT = 4000
EVENT_QUEUE = 1000
INSTRUCTIONS = ("You work in the user's sandbox: a Linux container whose files are under "
                "/workspace. Use the tools to write files and run commands; keep answers short.")


def model_choice(configured: str):
    """(model or model name, label shown in the page)."""
    if configured:
        return configured, configured
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4o-mini", "openai:gpt-4o-mini"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic:claude-3-5-haiku-latest", "anthropic:claude-3-5-haiku-latest"
    return demo_model(), "demo model (scripted, no API key set)"


def _clip(s: str) -> str:
    return s if len(s) <= MAX_TOOL_TEXT else s[:MAX_TOOL_TEXT] + f"\n… ({len(s)} characters)"


class Chats:
    """The running turns, one per sandbox."""

    def __init__(self, db: Db, endpoint: str, model_name: str, timeout_s: float) -> None:
        self.db = db
        self.endpoint = endpoint
        self.model, self.model_label = model_choice(model_name)
        self.timeout_s = timeout_s
        self.running: dict[str, asyncio.Task] = {}

    def busy(self, sid: str) -> bool:
        t = self.running.get(sid)
        return t is not None and not t.done()

    def stop(self, sid: str) -> bool:
        t = self.running.get(sid)
        if t is None or t.done():
            return False
        t.cancel()
        return True

    def start(self, sid: str, token: str, prompt: str) -> asyncio.Queue:
        """Starts a turn; returns the queue its events arrive on (None ends it)."""
        q: asyncio.Queue = asyncio.Queue(EVENT_QUEUE)
        self.running[sid] = asyncio.create_task(self._turn(sid, token, prompt, q))
        return q

    async def _turn(self, sid: str, token: str, prompt: str, q: asyncio.Queue) -> None:
        def emit(ev: dict, record: bool = True) -> None:
            if record and ev["t"] != "text":
                self.db.add_chat(sid, ev["t"], {k: v for k, v in ev.items() if k != "t"})
            if not q.full():           # a reader that went away must not hold the turn up
                q.put_nowait(ev)

        text: list[str] = []

        def flush_text() -> None:
            if text:
                self.db.add_chat(sid, "text", {"text": "".join(text)})
                text.clear()

        emit({"t": "user", "text": prompt})
        raw = self.db.agent_history(sid)
        history = ModelMessagesTypeAdapter.validate_json(raw) if raw else None
        try:
            async with SbxWorkspace(endpoint=self.endpoint, session_id=sid,
                                    session_token=token) as ws:
                agent = Agent(self.model, instructions=INSTRUCTIONS,
                              capabilities=[ws, ConsoleCapability(permissions=PERMISSIVE_RULESET)])
                async with (asyncio.timeout(self.timeout_s),
                            agent.run_stream_events(prompt, message_history=history) as events):
                    async for ev in events:
                        if isinstance(ev, PartStartEvent) and isinstance(ev.part, TextPart):
                            if ev.part.content:
                                text.append(ev.part.content)
                                emit({"t": "text", "text": ev.part.content})
                        elif isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, TextPartDelta):
                            text.append(ev.delta.content_delta)
                            emit({"t": "text", "text": ev.delta.content_delta})
                        elif isinstance(ev, FunctionToolCallEvent):
                            flush_text()
                            emit({"t": "tool_call", "name": ev.part.tool_name,
                                  "args": _clip(ev.part.args_as_json_str())})
                        elif isinstance(ev, FunctionToolResultEvent):
                            emit({"t": "tool_result", "name": ev.part.tool_name,
                                  "text": _clip(str(ev.part.content))})
                        elif isinstance(ev, AgentRunResultEvent):
                            self.db.set_agent_history(sid, ev.result.all_messages_json().decode())
            flush_text()
            emit({"t": "done"}, record=False)
        except TimeoutError:
            flush_text()
            emit({"t": "error", "text": f"stopped: the chat took longer than {self.timeout_s:g} s "
                                        "(the app's chat_timeout_s)"})
        except asyncio.CancelledError:
            flush_text()
            emit({"t": "error", "text": "stopped by the user"})
        except Exception as e:                       # shown to the user, who can retry
            flush_text()
            emit({"t": "error", "text": f"the agent failed: {type(e).__name__}: {e}"})
        finally:
            if not q.full():
                q.put_nowait(None)
            else:
                q.get_nowait()
                q.put_nowait(None)


def ndjson(ev: dict) -> bytes:
    return (json.dumps(ev) + "\n").encode()
