"""test_parity.py — SbxSandbox against pydantic-ai-backend's own backends.

The same behaviour checks run against the library's `LocalBackend` (a real
filesystem: paths, `..`, symlinks, bytes, names, background processes) or
`StateBackend` (a virtual one whose root is the agent's working directory:
the default paths) and against `SbxSandbox`, and their answers are compared
after mapping paths onto the container's (LocalBackend's root directory is
/workspace, its parent stands for the container's "/"). Where sbx differs
on purpose, the test says why and cites the line of /work/shared/SEMANTICS.md
("SEMANTICS.md:N") that decides it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from pydantic_ai_backends import LocalBackend, StateBackend

from sbx import pb

WAIT_S = 120.0      # safety net of condition waits; never a schedule


class Pair:
    """LocalBackend on <tmp>/workspace (allowed: all of <tmp>, which plays the
    container's "/") beside an SbxSandbox; `both(op, *args)` runs one call on
    each and returns (local's answer mapped to container paths, sbx's)."""

    def __init__(self, sb, tmp: Path) -> None:
        self.sb = sb
        self.top = tmp.resolve()
        (self.top / "workspace").mkdir()
        (self.top / "tmp").mkdir()
        self.local = LocalBackend(root_dir=self.top / "workspace",
                                  allowed_directories=[str(self.top)], enable_execute=True)

    def host(self, path: str) -> str:
        """A container path as LocalBackend spells it (absolute ones under top)."""
        return f"{self.top}{path}" if path.startswith("/") else path

    def mapped(self, v):
        """LocalBackend's answer with host paths turned into container paths."""
        top = str(self.top)
        if isinstance(v, str):
            return v.replace(top, "") if v.startswith(top) else v
        if isinstance(v, list):
            return [self.mapped(x) for x in v]
        if isinstance(v, dict):
            return {k: self.mapped(x) for k, x in v.items()}
        if dataclasses.is_dataclass(v):
            return dataclasses.replace(v, **{f.name: self.mapped(getattr(v, f.name))
                                             for f in dataclasses.fields(v)})
        return v

    def both(self, op: str, *args, path_arg: int = 0, **kw):
        """The path argument (index `path_arg`) is given to LocalBackend as a host path."""
        largs = [self.host(a) if isinstance(a, str) and i == path_arg else a
                 for i, a in enumerate(args)]
        return self.mapped(getattr(self.local, op)(*largs, **kw)), getattr(self.sb, op)(*args, **kw)

    def same(self, op: str, *args, **kw):
        local, sbx = self.both(op, *args, **kw)
        assert sbx == local, f"{op}{args}: sbx {sbx!r} != library {local!r}"
        return sbx

    def write_both(self, path: str, content) -> None:
        assert self.local.write(self.host(path), content).error is None
        assert self.sb.write(path, content).error is None

    def shell_both(self, command: str) -> None:
        """One shell command in both (paths in it relative to the workdir)."""
        assert self.local.execute(command).exit_code == 0
        assert self.sb.execute(command).exit_code == 0


@pytest.fixture
def pair(sandbox, tmp_path):
    p = Pair(sandbox, tmp_path)
    yield p
    p.local.kill_all_background()


def rows(infos) -> list[tuple]:
    return [(i["name"], i["path"], i["is_dir"], i.get("size")) for i in infos]


def matches(ms) -> set[tuple]:
    return ms if isinstance(ms, str) else {(m["path"], m["line_number"], m["line"]) for m in ms}


def tree(pair: Pair) -> None:
    for p in ("b.txt", "a.py", "zdir/x.py", "adir/y.txt", ".hidden/h.py", "node_modules/m.py"):
        pair.write_both(p, f"import {p}\n")


# ---------------------------------------------------------------- ls_info

def test_ls_info(pair):
    tree(pair)
    for path in ("zdir", "/workspace/adir", "a.py", "missing", "./adir", "zdir/../adir"):
        local, sbx = pair.both("ls_info", path)
        # LocalBackend adds modified_at to files only; sbx to every entry
        assert rows(sbx) == rows(local), path


# ---------------------------------------------------------------- default paths

@pytest.mark.parametrize("root", ["", "/", "."])
def test_default_paths_are_the_workspace(sandbox, root):
    """StateBackend's root is the agent's working directory: "", "/" and "."
    all name it (SEMANTICS.md:31, DockerSandbox's glob_info does the same)."""
    state = StateBackend()
    # (no hidden files here: StateBackend's ** skips them, LocalBackend's and
    # DockerSandbox's find do not; sbx does as the latter two)
    for p in ("b.txt", "a.py", "zdir/x.py"):
        assert state.write("/" + p, f"import {p}\n").error is None
        assert sandbox.write(p, f"import {p}\n").error is None

    def virtual(path: str) -> str:
        return path.removeprefix("/workspace")

    want = [(n, p, d) for n, p, d, _ in rows(state.ls_info(root))]
    assert [(n, virtual(p), d) for n, p, d, _ in rows(sandbox.ls_info(root))] == want
    want = sorted(f["path"] for f in state.glob_info("**/*.py", root))
    assert sorted(virtual(f["path"]) for f in sandbox.glob_info("**/*.py", root)) == want
    want = sorted(f["path"] for f in state.glob_info("*.py", root))
    assert [virtual(f["path"]) for f in sandbox.glob_info("*.py", root)] == want == ["/a.py"]
    want = {(virtual(p) if p else p, n, l) for p, n, l in matches(state.grep_raw("import", root))}
    got = {(virtual(p), n, l) for p, n, l in matches(sandbox.grep_raw("import", root))}
    assert got == want and got
    assert matches(sandbox.grep_raw("import")) == matches(sandbox.grep_raw("import", root))


def test_glob_info_protocol_default_is_the_workspace(sandbox):
    """glob_info("*.py") with the protocol's default path "/" (issue 11, item 6)."""
    sandbox.write("only.py", "1")
    assert [f["path"] for f in sandbox.glob_info("*.py")] == ["/workspace/only.py"]


# ---------------------------------------------------------------- read / write / edit

def test_read(pair):
    pair.write_both("f.txt", "".join(f"line{i}\n" for i in range(1, 8)))
    pair.write_both("d/g.txt", "x")
    for args in (("f.txt",), ("f.txt", 2, 3), ("f.txt", 6), ("f.txt", 7), ("missing.txt",),
                 ("d",), ("/workspace/f.txt", 1, 1)):
        pair.same("read", *args)


def test_read_non_utf8_text(pair):
    """Undecodable bytes read as U+FFFD in both."""
    pair.write_both("latin1.txt", b"caf\xe9\nna\xefve\n")
    pair.same("read", "latin1.txt")


def test_read_binary_differs_on_purpose(pair):
    """sbx refuses a binary file and points to read_bytes, where LocalBackend
    shows replacement characters (SEMANTICS.md:27, "binary files are refused")."""
    pair.write_both("bin.dat", b"\x00\x01\xffbinary\n")
    local, sbx = pair.both("read", "bin.dat")
    assert local.startswith("     1\t") and "read_bytes" in sbx and sbx.startswith("Error: ")


def test_write_and_read_bytes(pair):
    blob = bytes(range(256)) * 4
    assert pair.both("write", "sub/dir/b.bin", blob)[1].path == "/workspace/sub/dir/b.bin"
    pair.same("read_bytes", "sub/dir/b.bin")
    assert pair.sb.read_bytes("sub/dir/b.bin") == blob
    for path in ("missing", "sub"):
        pair.same("read_bytes", path)
    pair.same("write", "w.txt", "text")
    pair.same("write", "w.txt", "shorter")
    pair.same("read_bytes", "w.txt")


def test_write_keeps_carriage_returns_on_purpose(pair):
    """LocalBackend strips \\r from text; sbx keeps bytes exactly
    (SEMANTICS.md:29, "both are bugs users reported")."""
    local, sbx = pair.both("write", "crlf.txt", "a\r\nb")
    assert local == sbx
    local, sbx = pair.both("read_bytes", "crlf.txt")
    assert local == b"a\nb" and sbx == b"a\r\nb"


def test_edit(pair):
    pair.write_both("e.txt", "foo bar foo\n")
    for args, kw in ((("e.txt", "bar", "BAR"), {}), (("e.txt", "zzz", "y"), {}),
                     (("e.txt", "foo", "y"), {}), (("e.txt", "foo", "q"), {"replace_all": True}),
                     (("missing.txt", "a", "b"), {})):
        pair.same("edit", *args, **kw)
    pair.same("read_bytes", "e.txt")


def test_edit_empty_old_string_differs_on_purpose(pair):
    """sbx refuses an empty old string (SEMANTICS.md:30, "an empty `old` is an error")."""
    pair.write_both("e.txt", "abc")
    assert pair.sb.edit("e.txt", "", "x").error
    assert pair.sb.read_bytes("e.txt") == b"abc"


# ---------------------------------------------------------------- relative and .. paths

def test_dotdot_leaves_the_workspace_like_the_shell(pair):
    """`../tmp/x` is /tmp/x, never clamped into /workspace (issue 11, item 7)."""
    w = pair.same("write", "../tmp/escape.txt", "out")
    assert w.path == "/tmp/escape.txt"
    assert pair.sb.execute("cat /tmp/escape.txt").output == "out"
    assert pair.sb.exists("/workspace/escape.txt") is False
    pair.same("read", "../tmp/escape.txt")
    pair.same("read", "/workspace/../tmp/escape.txt")
    pair.same("exists", "sub/../../tmp/escape.txt")
    pair.write_both("sub/inner.txt", "in")
    pair.same("read_bytes", "sub/./../sub/inner.txt")
    assert pair.same("edit", "sub/../sub/inner.txt", "in", "IN").path == "/workspace/sub/inner.txt"
    local, sbx = pair.both("ls_info", "../tmp")
    assert rows(sbx) == rows(local)


# ---------------------------------------------------------------- symlinks

def _links(pair: Pair) -> None:
    pair.write_both("real.txt", "target\n")
    pair.write_both("../tmp/out.txt", "outside\n")
    for link, target in (("rel", "real.txt"), ("abs", "/workspace/real.txt"),
                         ("relout", "../tmp/out.txt"), ("absout", "/tmp/out.txt"),
                         ("dangling", "/workspace/nope.txt")):
        os.symlink(pair.host(target), pair.top / "workspace" / link)
        assert pair.sb.execute(f"ln -s {target} {link}").exit_code == 0


@pytest.mark.parametrize("link", ["rel", "abs", "relout", "absout", "dangling"])
def test_symlinks_resolve_as_the_container_sees_them(pair, link):
    """An absolute target is a container path (issue 11, item 8)."""
    _links(pair)
    test_f = pair.sb.execute(f"test -f {link}").exit_code == 0
    assert pair.same("exists", link) is test_f
    pair.same("read", link)
    pair.same("read_bytes", link)
    assert pair.sb.read_bytes(link) == pair.sb.execute(f"cat {link} 2>/dev/null").output.encode()


def test_symlink_edit_and_write_through(pair):
    """Edits go through a link to its target. The result names the path as
    given, as DockerSandbox names it (LocalBackend names the resolved target)."""
    _links(pair)
    for link, target, old, new in (("abs", "real.txt", "target", "TARGET"),
                                   ("absout", "/tmp/out.txt", "outside", "OUT")):
        local, sbx = pair.both("edit", link, old, new)
        assert (sbx.error, sbx.occurrences) == (local.error, local.occurrences) == (None, 1)
        assert sbx.path == "/workspace/" + link
        pair.same("read_bytes", target)
    assert pair.sb.execute("cat real.txt /tmp/out.txt").output == "TARGET\nOUT\n"


# ---------------------------------------------------------------- glob / grep

def test_glob_info(pair):
    tree(pair)
    for pattern, path in (("*.py", "."), ("**/*.py", "."), ("*.py", "zdir"),
                          ("*.py", "/workspace/zdir"), ("*.txt", "adir/.."), ("nomatch", ".")):
        local, sbx = pair.both("glob_info", pattern, path, path_arg=1)
        # order differs (SEMANTICS.md:32: LocalBackend newest first, sbx path order)
        assert sorted(f["path"] for f in sbx) == sorted(f["path"] for f in local), pattern
        assert [f["path"] for f in sbx] == sorted(f["path"] for f in sbx)


def test_grep_raw(pair):
    tree(pair)
    for args, kw in ((("import",), {}), (("import", "."), {}), (("import", "zdir"), {}),
                     (("^import a", "/workspace"), {}), (("import",), {"glob": "zdir/*.py"}),
                     (("import", ".hidden/h.py"), {}), (("import",), {"ignore_hidden": False})):
        a = list(args)
        if len(a) > 1:
            a[1] = pair.host(a[1])
        local = matches(pair.mapped(pair.local.grep_raw(*a, **kw)))
        sbx = matches(pair.sb.grep_raw(*args, **kw))
        assert sbx == local, (args, kw)


def test_grep_glob_bare_pattern_differs_on_purpose(pair):
    """A bare glob (`*.py`) matches the file name at any depth, as ripgrep's
    --glob does (LocalBackend's answer when rg is installed); LocalBackend's
    Python fallback matches it against the whole relative path instead
    (SEMANTICS.md:33, "the glob filter matches a bare pattern against the
    file name and a pattern with `/` against the path relative to the search
    root")."""
    tree(pair)
    got = matches(pair.sb.grep_raw("import", glob="*.py"))
    assert {p for p, _, _ in got} == {"/workspace/a.py", "/workspace/zdir/x.py"}


def test_grep_raw_bad_regex(pair):
    local, sbx = pair.both("grep_raw", "(unclosed")
    assert local.startswith("Error: Invalid regex pattern: ") or local.startswith("Error")
    assert sbx.startswith("Error: Invalid regex pattern: ")


# ---------------------------------------------------------------- names that are not UTF-8

def test_non_utf8_names_come_back_like_os_fsdecode(pair):
    """A file whose name is not UTF-8 lists, globs and greps (no DecodeError),
    named as LocalBackend names it: os.fsdecode's surrogate escapes (item 11)."""
    raw = b"bad\xffname.txt"
    (pair.top / "workspace" / os.fsdecode(raw)).write_bytes(b"needle\n")
    assert pair.sb.execute("printf 'needle\\n' > \"$(printf 'bad\\377name.txt')\"").exit_code == 0
    name = os.fsdecode(raw)
    local, sbx = pair.both("ls_info", ".")
    assert rows(sbx) == rows(local) and rows(sbx)[0][:2] == (name, "/workspace/" + name)
    local, sbx = pair.both("glob_info", "*.txt", ".", path_arg=1)
    assert [f["path"] for f in sbx] == [f["path"] for f in local] == ["/workspace/" + name]
    assert matches(pair.sb.grep_raw("needle")) == matches(pair.mapped(pair.local.grep_raw("needle")))


# ---------------------------------------------------------------- background processes

def drain(backend, shell_id: str) -> tuple[str, int | None]:
    """All output until the process has exited (bounded only as a safety net)."""
    seen, end = "", time.monotonic() + WAIT_S
    while time.monotonic() < end:
        out = backend.read_background(shell_id)
        seen += out.stdout + out.stderr
        if not out.running:
            return seen + backend.read_background(shell_id).stdout, out.exit_code
        time.sleep(0.05)
    raise AssertionError(f"{shell_id} never exited")


def test_background_processes(pair):
    cmd = "echo one; echo two; exit 4"
    hl, hs = pair.local.execute_background(cmd), pair.sb.execute_background(cmd)
    assert (hl.command, hs.command) == (cmd, cmd)
    assert drain(pair.local, hl.shell_id) == drain(pair.sb, hs.shell_id) == ("one\ntwo\n", 4)
    assert pair.local.read_background(hl.shell_id).stdout == pair.sb.read_background(
        hs.shell_id).stdout == ""
    for b, h in ((pair.local, hl), (pair.sb, hs)):
        info = {i.shell_id: i for i in b.list_background()}[h.shell_id]
        assert (info.running, info.exit_code, info.command) == (False, 4, cmd)
        missing = b.read_background("nope-1")
        assert missing.stderr == "No such background shell: nope-1" and missing.running is False
        assert b.kill_background("nope-1") is False


def test_background_kill_and_kill_all(pair):
    for b in (pair.local, pair.sb):
        h = b.execute_background("sleep 600")
        assert h.pid > 0
        assert b.kill_background(h.shell_id) is True
        assert b.kill_background(h.shell_id) is False
        assert b.read_background(h.shell_id).running is False
        ids = [b.execute_background("sleep 600").shell_id for _ in range(2)]
        b.kill_all_background()
        assert b.list_background() == []
        for i in ids + [h.shell_id]:
            assert b.read_background(i).stderr == f"No such background shell: {i}"
