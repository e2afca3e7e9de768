"""test_semantics.py — SbxSandbox against /work/shared/SEMANTICS.md, row by row.

Each test is one row of the behaviour table (exists, ls_info, read, read_bytes,
write, edit, glob_info, grep_raw, execute, background processes), checked
against a real sbxd and container, including the library's exact error
strings and return types, and that the sandbox satisfies pydantic-ai-backend's
SandboxProtocol and BackgroundSandboxProtocol.
"""

from __future__ import annotations

import pytest
from pydantic_ai_backends import BackgroundSandboxProtocol, SandboxProtocol
from pydantic_ai_backends.types import (BackgroundHandle, BackgroundOutput, EditResult,
                                        ExecuteResponse, WriteResult)

from .conftest import wait_until


def test_protocols(sandbox, sid):
    assert isinstance(sandbox, SandboxProtocol)
    assert isinstance(sandbox, BackgroundSandboxProtocol)
    assert sandbox.id == sid


def test_exists_only_regular_files(sandbox):
    sandbox.write("dir/f.txt", "x")
    assert sandbox.exists("dir/f.txt") is True
    assert sandbox.exists("/workspace/dir/f.txt") is True
    assert sandbox.exists("dir") is False
    assert sandbox.exists("missing.txt") is False
    assert sandbox.execute("ln -s dir/f.txt link && ln -s dir dlink").exit_code == 0
    assert sandbox.exists("link") is True                     # like `test -f`
    assert sandbox.exists("dlink") is False
    assert sandbox.exists("/etc/os-release") is True          # a link outside /workspace
    assert sandbox.exists("/etc") is False


def test_ls_info_dirs_first_then_name(sandbox):
    for p in ("b.txt", "a.txt", "zdir/x", "adir/y"):
        assert sandbox.write(p, "1").error is None
    entries = sandbox.ls_info(".")
    assert [e["name"] for e in entries] == ["adir", "zdir", "a.txt", "b.txt"]
    a = entries[2]
    assert a == {**a, "name": "a.txt", "path": "/workspace/a.txt", "is_dir": False, "size": 1}
    assert entries[0]["is_dir"] is True
    assert set(a) >= {"name", "path", "is_dir", "size"}


def test_ls_info_file_path_and_missing(sandbox):
    sandbox.write("one.txt", "abc")
    assert [e["path"] for e in sandbox.ls_info("one.txt")] == ["/workspace/one.txt"]
    assert sandbox.ls_info("nope") == []


def test_read_numbering_offset_limit(sandbox):
    sandbox.write("f.txt", "".join(f"line{i}\n" for i in range(1, 6)))
    assert sandbox.read("f.txt") == "\n".join(f"{i:>6}\tline{i}" for i in range(1, 6))
    assert sandbox.read("f.txt", offset=1, limit=2) == (
        "     2\tline2\n     3\tline3\n\n... (2 more lines)")
    assert sandbox.read("f.txt", offset=4) == "     5\tline5"


def test_read_trailing_newline_adds_no_line(sandbox):
    sandbox.write("a.txt", "x\n")
    assert sandbox.read("a.txt") == "     1\tx"


def test_read_keeps_empty_last_line(sandbox):
    sandbox.write("b.txt", "x\n\n")
    assert sandbox.read("b.txt") == "     1\tx\n     2\t"


def test_read_errors(sandbox):
    sandbox.write("f.txt", "a\nb\n")
    sandbox.write("d/g.txt", "x")
    assert sandbox.read("missing.txt") == "Error: File 'missing.txt' not found"
    assert sandbox.read("f.txt", offset=2) == "Error: Offset 2 exceeds file length (2 lines)"
    assert sandbox.read("d") == "Error: 'd' is a directory"
    sandbox.write("bin.dat", b"\x00\x01\x02binary")
    msg = sandbox.read("bin.dat")
    assert msg.startswith("Error: 'bin.dat' is a binary file") and "read_bytes" in msg


def test_read_ceiling_is_a_distinct_error(sandbox):
    assert sandbox.write("big.txt", "a\n" * (5 << 20)).error is None     # 10 MiB > 8 MiB
    msg = sandbox.read("big.txt")
    assert msg.startswith("Error: ") and "read ceiling" in msg


def test_read_bytes(sandbox):
    blob = bytes(range(256)) * 10
    sandbox.write("b.bin", blob)
    assert sandbox.read_bytes("b.bin") == blob
    assert sandbox.read_bytes("missing") == b""
    sandbox.write("d/x", "1")
    assert sandbox.read_bytes("d") == b""


def test_write_overwrites_creates_parents_keeps_bytes(sandbox):
    r = sandbox.write("deep/er/f.txt", "one\r\ntwo")
    assert isinstance(r, WriteResult) and r.error is None
    assert r.path == "/workspace/deep/er/f.txt"
    assert sandbox.read_bytes("deep/er/f.txt") == b"one\r\ntwo"    # no \r stripped, no \n added
    sandbox.write("deep/er/f.txt", "short")
    assert sandbox.read_bytes("deep/er/f.txt") == b"short"
    assert sandbox.execute("cat deep/er/f.txt").output == "short"


def test_big_write_goes_in_chunks(sandbox, client, sid):
    blob = bytes(range(256)) * (80 << 10)          # 20 MiB: over one message's limit
    r = sandbox.write("big/blob.bin", blob)
    assert r.error is None and r.path == "/workspace/big/blob.bin"
    assert client.download_all(sid, "big/blob.bin") == blob
    assert sandbox.read_bytes("big/blob.bin") == b""   # over the read ceiling: b"", as documented


def test_write_error_is_returned(sandbox):
    r = sandbox.write("/proc/nope/x", "x")
    assert r.path is None and r.error


def test_edit(sandbox):
    sandbox.write("e.txt", "foo bar foo\n")
    r = sandbox.edit("e.txt", "bar", "BAR")
    assert isinstance(r, EditResult) and r.error is None and r.occurrences == 1
    assert sandbox.read_bytes("e.txt") == b"foo BAR foo\n"
    assert sandbox.edit("e.txt", "zzz", "y").error == "String 'zzz' not found in file"
    assert sandbox.edit("e.txt", "foo", "y").error == (
        "String 'foo' found 2 times. Use replace_all=True to replace all, "
        "or provide more context.")
    r = sandbox.edit("e.txt", "foo", "q", replace_all=True)
    assert r.error is None and r.occurrences == 2
    assert sandbox.read_bytes("e.txt") == b"q BAR q\n"
    assert sandbox.edit("missing.txt", "a", "b").error == "File 'missing.txt' not found"
    assert sandbox.edit("e.txt", "", "b").error      # sbx: an empty old string is an error


def test_glob_info(sandbox):
    for p in ("a.py", "src/b.py", "src/deep/c.py", "src/d.txt", "x.{py,txt}"):
        sandbox.write(p, "1")
    paths = [f["path"] for f in sandbox.glob_info("*.py", ".")]
    assert paths == ["/workspace/a.py"]                       # * does not cross /
    paths = [f["path"] for f in sandbox.glob_info("**/*.py", ".")]
    assert paths == sorted(paths)                             # path order
    assert set(paths) >= {"/workspace/src/b.py", "/workspace/src/deep/c.py"}
    assert all(not f["is_dir"] for f in sandbox.glob_info("**/*", "."))   # files only
    assert [f["name"] for f in sandbox.glob_info("x.{py,txt}", ".")] == ["x.{py,txt}"]  # no braces
    assert sandbox.glob_info("*.py", "src") == sandbox.glob_info("*.py", "/workspace/src")
    # every other file an hour old (no sleep for the clock to move on)
    assert sandbox.execute("touch -d @$(($(date +%s) - 3600)) a.py src/deep/c.py").exit_code == 0
    sandbox.write("src/b.py", "newer")
    newest = sandbox.glob_info("**/*.py", ".", newest_first=True)
    assert newest[0]["path"] == "/workspace/src/b.py"


def test_grep_raw(sandbox):
    sandbox.write("src/a.py", "import os\nx = 1\n")
    sandbox.write(".hidden/h.py", "import sys\n")
    sandbox.write("node_modules/m.js", "import z\n")
    sandbox.write("notes.txt", "import nothing\n")
    got = sandbox.grep_raw(r"^import \w+$", ".")
    assert {(m["path"], m["line_number"], m["line"]) for m in got} == {
        ("/workspace/src/a.py", 1, "import os"), ("/workspace/notes.txt", 1, "import nothing")}
    hidden = {m["path"] for m in sandbox.grep_raw("import", ".", ignore_hidden=False)}
    assert {"/workspace/.hidden/h.py", "/workspace/node_modules/m.js"} <= hidden
    assert [m["path"] for m in sandbox.grep_raw("import", ".", glob="*.py")] == [
        "/workspace/src/a.py"]
    assert [m["path"] for m in sandbox.grep_raw("import", ".hidden/h.py")] == [
        "/workspace/.hidden/h.py"]                            # named explicitly: searched
    err = sandbox.grep_raw("(unclosed")
    assert isinstance(err, str) and err.startswith("Error: Invalid regex pattern: ")
    assert sandbox.grep_raw(r"(?<=x )= \d") != []             # Perl-compatible lookbehind


def test_execute(sandbox):
    r = sandbox.execute("pwd; echo out; echo err >&2; exit 3")
    assert isinstance(r, ExecuteResponse)
    assert r.exit_code == 3 and r.truncated is False
    # stdout and stderr merged; their relative order is not fixed (two pipes)
    assert "err\n" in r.output and r.output.replace("err\n", "", 1) == "/workspace\nout\n"


def test_execute_truncates_at_100k(sandbox):
    r = sandbox.execute("head -c 300000 /dev/zero | tr '\\0' a")
    assert r.truncated is True and len(r.output) == 100_000 and r.exit_code == 0


def test_execute_timeout_kills_tree_keeps_partial_output(sandbox):
    r = sandbox.execute("echo started; (sleep 30 &) ; sleep 30", timeout=1)
    assert r.exit_code == 124
    assert "started" in r.output
    procs = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"
    left = sandbox.execute(procs + " | grep -c '^sleep 30' || true").output.strip()
    assert left == "0"


def test_background_processes(sandbox):
    cmd = "echo one; while [ ! -e go ]; do sleep 0.01; done; echo two; exit 4"
    h = sandbox.execute_background(cmd)
    assert isinstance(h, BackgroundHandle) and h.shell_id and h.pid > 0
    assert h.command == cmd
    first = wait_until(lambda: sandbox.read_background(h.shell_id).stdout, "the first line")
    assert first == "one\n"                                   # while it runs, waiting for go
    assert sandbox.read_background(h.shell_id).running is True
    sandbox.write("go", "")
    seen = ""

    def drained():
        nonlocal seen
        out = sandbox.read_background(h.shell_id)
        assert isinstance(out, BackgroundOutput)
        seen += out.stdout
        return out if not out.running else None
    out = wait_until(drained, "the process exits")
    seen += sandbox.read_background(h.shell_id).stdout
    assert first + seen == "one\ntwo\n"                        # each byte once
    assert out.running is False and out.exit_code == 4
    assert sandbox.read_background(h.shell_id).stdout == ""    # nothing new
    infos = {i.shell_id: i for i in sandbox.list_background()}
    assert infos[h.shell_id].running is False and infos[h.shell_id].exit_code == 4


def test_background_kill(sandbox):
    h = sandbox.execute_background("sleep 60")
    assert sandbox.kill_background(h.shell_id) is True
    assert sandbox.kill_background(h.shell_id) is False
    assert sandbox.read_background(h.shell_id).running is False
    assert sandbox.kill_background("p99999") is False
    missing = sandbox.read_background("p99999")
    assert missing.stderr == "No such background shell: p99999" and missing.running is False


def test_kill_all_background(sandbox):
    ids = [sandbox.execute_background("sleep 60").shell_id for _ in range(3)]
    sandbox.kill_all_background()                              # returns once they are gone
    procs = sandbox.client.list_processes(sandbox.id).processes
    assert [p.process_id for p in procs if p.process_id in ids and p.state == 1] == []
    assert sandbox.list_background() == []                     # and released
