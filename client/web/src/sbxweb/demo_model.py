"""demo_model.py — the built-in demo model: a scripted pydantic-ai
`FunctionModel` that turns a few requests into real tool calls, so the app
works without any model API key (the page labels it "demo model").

  "create a hello world script and run it"  write_file hello.py, execute it
  "plot a sine wave"                         write_file sine.py, execute it (sine.png)
  "run: COMMAND"                             execute COMMAND
  "loop forever"                             execute a command that never ends
                                             (for the per-chat timeout and Stop)
Anything else gets a short answer listing these.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

from pydantic_ai.messages import (ModelMessage, ModelRequest, ModelResponse, TextPart,
                                  ToolCallPart, ToolReturnPart, UserPromptPart)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

HELLO = 'print("Hello, world!")\n'

# matplotlib when the runtime has it (python-datascience); else a PNG drawn with
# the standard library, so the demo shows a picture on any runtime
SINE = '''\
import math
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xs = [i / 50 for i in range(315)]
    plt.plot(xs, [math.sin(x) for x in xs])
    plt.title("sin(x)")
    plt.savefig("sine.png")
    print("sine.png written with matplotlib")
except ImportError:
    import struct, zlib
    w, h = 400, 200
    px = [[255] * w for _ in range(h)]
    for x in range(w):
        y = int(h / 2 - math.sin(x / w * 2 * math.pi) * (h / 2 - 10))
        for dy in (-1, 0, 1):
            px[min(h - 1, max(0, y + dy))][x] = 0
    raw = b"".join(b"\\0" + bytes(row) for row in px)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open("sine.png", "wb").write(png)
    print("sine.png written (no matplotlib here: drawn with the standard library)")
'''

HELP = ("I am the demo model (no API key is configured). I can: create a hello world script "
        "and run it; plot a sine wave; \"run: COMMAND\" runs a shell command; \"loop forever\" "
        "runs a command that never ends (try Stop).")


def _state(messages: list[ModelMessage]) -> tuple[str, list[str]]:
    """The last user prompt and the tool results since it, oldest first."""
    prompt, results = "", []
    for m in messages:
        if isinstance(m, ModelRequest):
            for p in m.parts:
                if isinstance(p, UserPromptPart):
                    prompt = p.content if isinstance(p.content, str) else str(p.content)
                    results = []
                elif isinstance(p, ToolReturnPart):
                    results.append(str(p.content))
    return prompt, results


def plan(messages: list[ModelMessage]) -> tuple[str, dict] | str:
    """The next step: (tool name, args) or the final text."""
    prompt, results = _state(messages)
    low = prompt.lower().strip()
    step = len(results)
    if low.startswith("run:"):
        if step == 0:
            return ("execute", {"command": prompt.split(":", 1)[1].strip()})
        return f"Ran it. Output:\n{results[-1]}"
    if "hello" in low:
        if step == 0:
            return ("write_file", {"path": "hello.py", "content": HELLO})
        if step == 1:
            return ("execute", {"command": "python3 hello.py"})
        return f"I wrote hello.py and ran it. Output:\n{results[-1]}"
    if "sine" in low or "plot" in low:
        if step == 0:
            return ("write_file", {"path": "sine.py", "content": SINE})
        if step == 1:
            return ("execute", {"command": "python3 sine.py"})
        return f"I wrote sine.py and ran it; open sine.png in the files. Output:\n{results[-1]}"
    if "loop" in low or "forever" in low:
        if step == 0:
            return ("execute", {"command": "while true; do echo still looping; sleep 1; done",
                                "timeout": 3600})
        return f"The loop ended:\n{results[-1]}"
    return HELP


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    step = plan(messages)
    if isinstance(step, str):
        return ModelResponse(parts=[TextPart(step)])
    name, args = step
    return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=uuid.uuid4().hex)])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator:
    step = plan(messages)
    if isinstance(step, str):
        words = step.split(" ")
        for i, w in enumerate(words):
            yield w if i == 0 else " " + w
        return
    name, args = step
    yield {0: DeltaToolCall(name=name, json_args=json.dumps(args),
                            tool_call_id=uuid.uuid4().hex)}


def demo_model() -> FunctionModel:
    return FunctionModel(_respond, stream_function=_stream, model_name="sbx-web-demo")
