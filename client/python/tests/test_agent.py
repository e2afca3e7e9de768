"""test_agent.py — pydantic-ai agents on SbxSandbox, offline, against a real sbxd.

The issue's agent check: an `Agent` with pydantic-ai-backend's
`create_console_toolset()` and an `SbxSandbox` backend, driven by pydantic-ai's
`TestModel` (which calls every tool with generated arguments), runs to
completion, and the files and outputs it produced are checked. A second run
scripts the model with `FunctionModel` (write a program, run it, read a file)
to check real work end to end. Also `SbxSessionManager`, the SessionManager
shape a web app swaps in.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai_backends import SessionManager, create_console_toolset
from pydantic_ai_backends.backends.docker.session import SessionLimitExceeded

from sbx import SbxSandbox, SbxSessionManager

from .conftest import new_user


def toolset(sandbox):
    return create_console_toolset(backend=sandbox, require_execute_approval=False,
                                  require_write_approval=False)


def tool_returns(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in result.all_messages():
        for p in m.parts:
            if isinstance(p, ToolReturnPart):
                out.setdefault(p.tool_name, []).append(str(p.content))
    return out


def test_testmodel_calls_every_tool(sandbox):
    agent = Agent(TestModel(), toolsets=[toolset(sandbox)])
    result = agent.run_sync("use every tool")
    returns = tool_returns(result)
    assert set(returns) == {"ls", "read_file", "write_file", "edit_file", "glob", "grep",
                            "execute", "run_in_background", "read_output", "kill_shell",
                            "list_shells"}
    assert json.loads(result.output).keys() == returns.keys()
    assert returns["write_file"][0] == "Wrote 1 lines to /workspace/a"
    assert sandbox.read_bytes("a") == b"a"                # what TestModel wrote
    assert returns["execute"][0].startswith("Command failed (exit code 127)")
    assert "Started background shell p" in returns["run_in_background"][0]
    sandbox.kill_all_background()


def scripted(calls):
    """A FunctionModel that makes the given tool calls one per turn, then answers."""
    def respond(messages, info: AgentInfo) -> ModelResponse:
        turn = sum(1 for m in messages if isinstance(m, ModelResponse))
        if turn < len(calls):
            name, args = calls[turn]
            return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=f"c{turn}")])
        return ModelResponse(parts=[TextPart("done")])
    return FunctionModel(respond)


def test_scripted_agent_does_real_work(sandbox):
    model = scripted([
        ("write_file", {"path": "app/main.py",
                        "content": "import sys\nprint(sum(range(10)))\nprint('err', file=sys.stderr)\n"}),
        ("execute", {"command": "python3 -u app/main.py > out.txt 2>&1; cat out.txt"}),
        ("edit_file", {"path": "app/main.py", "old_string": "range(10)", "new_string": "range(5)"}),
        ("execute", {"command": "python3 -u app/main.py 2>/dev/null"}),
        ("grep", {"pattern": r"range\(\d\)", "output_mode": "content"}),
        ("glob", {"pattern": "**/*.py"}),
        ("read_file", {"path": "out.txt"}),
    ])
    result = Agent(model, toolsets=[toolset(sandbox)]).run_sync("build it")
    assert result.output == "done"
    r = tool_returns(result)
    assert r["execute"][0] == "45\nerr\n"
    assert r["execute"][1] == "10\n"
    assert "/workspace/app/main.py:2: print(sum(range(5)))" in r["grep"][0]
    assert "/workspace/app/main.py" in r["glob"][0]
    assert r["read_file"][0] == "     1\t45\n     2\terr"
    assert sandbox.read_bytes("app/main.py").startswith(b"import sys\nprint(sum(range(5)))")


def test_session_manager_shape(sbxd):
    public = {"get_or_create", "release", "cleanup_idle", "shutdown", "sessions",
              "session_count", "__len__", "__contains__"}
    assert public <= set(dir(SessionManager)) and public <= set(dir(SbxSessionManager))

    async def main():
        m = SbxSessionManager(sbxd.endpoint, service_key=sbxd.key, max_sessions=2)
        a, b = new_user(), new_user()
        s1, s1b = await asyncio.gather(m.get_or_create(a), m.get_or_create(a))
        assert s1 is s1b and isinstance(s1, SbxSandbox)      # one per id, even concurrently
        assert a in m and len(m) == 1 and m.session_count == 1
        s1.write("keep.txt", "kept")
        s2 = await m.get_or_create(b, runtime="python-minimal")
        assert s2.id != s1.id and set(m.sessions) == {a, b}
        with pytest.raises(SessionLimitExceeded):
            await m.get_or_create(new_user())
        assert await m.cleanup_idle(max_idle=3600) == 0
        assert await m.release(a) is True and await m.release(a) is False
        assert a not in m
        s1_new = await m.get_or_create(a)                      # new session, same workspace
        assert s1_new.id != s1.id and s1_new.read_bytes("keep.txt") == b"kept"
        s2.client.end_session(s2.id)                           # dead: replaced on next use
        s2_new = await m.get_or_create(b)
        assert s2_new.id != s2.id and s2_new.execute("echo ok").output == "ok\n"
        assert await m.shutdown() == 2 and len(m) == 0
    asyncio.run(main())
