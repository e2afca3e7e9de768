#!/usr/bin/env python3
"""bench.py — latency of the Python client next to the C client, in one run.

    SBXD_BIN=build/sbxd [SBX_LIBSBX=build/libsbx.so] python bench.py [--json]
        [--iterations N] [--vs c|docker|all]

Starts a private sbxd (tests/sbxd_proc.py), creates one session, and times
calls alternately, call by call, so both sides see the same machine:
- `--vs c` (default): the Python client (`Client`, and `SbxSandbox` for the
  pydantic-ai-backend route) against libsbx, the C client, loaded with ctypes
  into this process: Read of a 4 KiB text file (numbered), ReadBytes 4 KiB,
  Write 4 KiB, Execute `true`.
- `--vs docker`: `SbxSandbox` against pydantic-ai-backend's own
  `DockerSandbox` (needs its `docker` extra) on the same local image
  (sbx/python-minimal:latest; nothing is pulled): read, write and edit of
  4 KiB, glob and grep over 100 files, execute `true` — these in blocks of
  20 calls per side, not call by call (a docker exec leaves the engine busy
  after it answers), with sbx's first 3 calls after a docker block as a
  figure of their own — and start to first
  command (CreateSession + Execute, each round once sbxd's warm pool is
  full again, vs DockerSandbox.start + execute) with the teardown apart
  (EndSession vs DockerSandbox.stop).
Prints p50/p90/p99 in ms and the ratio of the p50s (sbx route / baseline);
with --json one object per figure per line, as shared/DESIGN.md's
`tests/bench/run --json` does. Never asserts a time.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tests"))

from sbx import Client, SbxSandbox  # noqa: E402
from sbxd_proc import Sbxd  # noqa: E402


class Options(ctypes.Structure):
    _fields_ = [("endpoint", ctypes.c_char_p), ("service_key", ctypes.c_char_p),
                ("session_token", ctypes.c_char_p), ("timeout_ms", ctypes.c_int),
                ("connect_timeout_ms", ctypes.c_int), ("max_reply_bytes", ctypes.c_size_t),
                ("tls_ca_file", ctypes.c_char_p), ("tls_server_name", ctypes.c_char_p),
                ("tls_cert_file", ctypes.c_char_p), ("logger", ctypes.c_void_p),
                ("logger_arg", ctypes.c_void_p), ("log_level", ctypes.c_int)]


class ExecOpts(ctypes.Structure):
    _fields_ = [("command", ctypes.c_char_p), ("timeout_ms", ctypes.c_uint64),
                ("cwd", ctypes.c_char_p), ("env", ctypes.c_void_p), ("n_env", ctypes.c_size_t),
                ("max_output_bytes", ctypes.c_uint64), ("stdin_data", ctypes.c_void_p),
                ("stdin_len", ctypes.c_size_t), ("call_timeout_ms", ctypes.c_int),
                ("argv", ctypes.c_void_p), ("argc", ctypes.c_size_t)]


class Bytes(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class ExecResult(ctypes.Structure):
    _fields_ = [("exit_code", ctypes.c_int), ("out", Bytes), ("err", Bytes), ("output", Bytes),
                ("truncated", ctypes.c_int), ("timed_out", ctypes.c_int),
                ("duration_ms", ctypes.c_uint64)]


class CClient:
    """The few libsbx calls the benchmark needs, through ctypes."""

    def __init__(self, lib_path: str, endpoint: str, key: str) -> None:
        self.lib = ctypes.CDLL(lib_path)
        self.c = ctypes.c_void_p()
        o = Options(endpoint=endpoint.encode(), service_key=key.encode())
        self._check(self.lib.sbx_client_open(ctypes.byref(o), ctypes.byref(self.c)), "open")

    def _check(self, rv: int, what: str) -> None:
        if rv != 0:
            raise RuntimeError(f"libsbx {what} failed with code {rv}")

    def read(self, sid: bytes, path: bytes) -> None:
        text = ctypes.c_void_p()
        self._check(self.lib.sbx_read(self.c, sid, path, ctypes.c_uint64(0), ctypes.c_uint64(0),
                                      ctypes.byref(text)), "read")
        self.lib.sbx_free(text)

    def read_bytes(self, sid: bytes, path: bytes) -> None:
        data, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(self.lib.sbx_read_bytes(self.c, sid, path, ctypes.c_uint64(0),
                                            ctypes.c_uint64(0), ctypes.byref(data),
                                            ctypes.byref(n)), "read_bytes")
        self.lib.sbx_free(data)

    def write(self, sid: bytes, path: bytes, data: bytes) -> None:
        self._check(self.lib.sbx_write(self.c, sid, path, data, ctypes.c_size_t(len(data)), 0),
                    "write")

    def execute(self, sid: bytes, command: bytes) -> None:
        o, r = ExecOpts(command=command), ExecResult()
        self._check(self.lib.sbx_exec(self.c, sid, ctypes.byref(o), ctypes.byref(r)), "exec")
        self.lib.sbx_exec_result_fini(ctypes.byref(r))

    def close(self) -> None:
        self.lib.sbx_client_close(self.c)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def time_pair(a, b, n: int, warmup: int = 10) -> tuple[list[float], list[float]]:
    """Times a() and b() alternately, n times each, in ms."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(n):
        for f, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            f()
            out.append((time.perf_counter() - t0) * 1000)
    return ta, tb


BLOCK = 20      # calls per side's turn against docker (as tests/bench/bench_agent.c figure 1)
SETTLE = 3      # ... of which sbx's first after a docker block are reported apart


def time_blocks(a, b, n: int) -> tuple[list[float], list[float], list[float]]:
    """Times a() (sbx) and b() (docker) n times each, in ms, taking turns in
    blocks of BLOCK calls in alternating order, not call by call: a docker
    exec leaves the engine busy for milliseconds after it answers (runc and
    the shim ending), which on a 2-core machine slows the call right after
    it. sbx's first SETTLE calls after a docker block come back apart, as
    the third list; the first pair of blocks warms both up."""
    blocks = (n + BLOCK - 1) // BLOCK
    ta, tb, after = [], [], []
    for i in range(-1, blocks):
        for k in (0, 1):
            sbx_turn = (k == 0) == (i % 2 == 0)
            f = a if sbx_turn else b
            for j in range(BLOCK):
                t0 = time.perf_counter()
                f()
                t = (time.perf_counter() - t0) * 1000
                if i < 0:
                    continue
                if not sbx_turn:
                    tb.append(t)
                elif j < SETTLE and k == 1:
                    after.append(t)
                else:
                    ta.append(t)
    return ta, tb, after


def figures(py: Client, sb: SbxSandbox, cc: CClient, sid: str, n: int):
    s, text = sid.encode(), ("x" * 63 + "\n") * 64
    py.write(sid, "bench4k.txt", text)
    blob = os.urandom(4096)
    yield "read 4 KiB (Read, numbered)", *time_pair(
        lambda: py.read(sid, "bench4k.txt"), lambda: cc.read(s, b"bench4k.txt"), n)
    yield "read 4 KiB (SbxSandbox.read)", *time_pair(
        lambda: sb.read("bench4k.txt"), lambda: cc.read(s, b"bench4k.txt"), n)
    yield "read_bytes 4 KiB", *time_pair(
        lambda: py.read_bytes(sid, "bench4k.txt"), lambda: cc.read_bytes(s, b"bench4k.txt"), n)
    yield "write 4 KiB", *time_pair(
        lambda: py.write(sid, "w.bin", blob), lambda: cc.write(s, b"w.bin", blob), n)
    yield "execute true", *time_pair(
        lambda: py.execute(sid, "true"), lambda: cc.execute(s, b"true"), n)
    yield "execute true (SbxSandbox.execute)", *time_pair(
        lambda: sb.execute("true"), lambda: cc.execute(s, b"true"), n)


IMAGE = "sbx/python-minimal:latest"
BASE_C = "the same call through libsbx (C) in the same process"
BASE_DOCKER = f"pydantic-ai-backend DockerSandbox on {IMAGE}"


def docker_figures(py: Client, sb: SbxSandbox, n: int, n_start: int, d: Sbxd):
    from pydantic_ai_backends import DockerSandbox
    ds = DockerSandbox(image=IMAGE, network_mode="none")
    ds.start()

    def blocks(name, a, b, n):
        ts, td, after = time_blocks(a, b, n)
        yield name, ts, td
        yield f"  {name}: sbx's first {SETTLE} after docker", after, td

    try:
        text = ("x" * 63 + "\n") * 64
        for i in range(100):
            body = f"def f{i}():\n    return {i}  # needle\n"
            sb.write(f"src/m{i}.py", body)
            ds.write(f"/workspace/src/m{i}.py", body)
        for b in (sb, ds):
            b.write("/workspace/r.txt", text)
            b.write("/workspace/e.txt", "alpha beta\n")
        yield from blocks("read 4 KiB", lambda: sb.read("r.txt"),
                          lambda: ds.read("/workspace/r.txt"), n)
        yield from blocks("write 4 KiB", lambda: sb.write("w.txt", text),
                          lambda: ds.write("/workspace/w.txt", text), n)
        state = {"sb": ("alpha", "gamma"), "ds": ("alpha", "gamma")}

        def edit(b, key, path):
            old, new = state[key]
            b.edit(path, old, new)
            state[key] = (new, old)
        yield from blocks("edit", lambda: edit(sb, "sb", "e.txt"),
                          lambda: edit(ds, "ds", "/workspace/e.txt"), n)
        yield from blocks("glob **/*.py over 100 files",
            lambda: sb.glob_info("**/*.py", "/workspace/src"),
            lambda: ds.glob_info("**/*.py", "/workspace/src"), n)
        yield from blocks("grep over 100 files",
            lambda: sb.grep_raw("needle", "/workspace/src"),
            lambda: ds.grep_raw("needle", "/workspace/src"), n)
        yield from blocks("execute true", lambda: sb.execute("true"),
                          lambda: ds.execute("true"), n)
    finally:
        ds.stop()
    yield from start_figures(py, d, n_start)


def start_figures(py: Client, d: Sbxd, n: int):
    """Start to first command, and teardown apart: sbx's CreateSession +
    Execute(true) (each round once sbxd's warm pool is full again, as an
    application's first run of the day finds it) and EndSession, against
    DockerSandbox's start() + execute("true") and stop()."""
    from pydantic_ai_backends import DockerSandbox
    s_start, d_start, s_end, d_end = [], [], [], []
    for i in range(n + 1):              # the first round is a warm-up
        d.wait_pool_full()
        t0 = time.perf_counter()
        sid = py.create_session("bench-start").session.session_id
        py.execute(sid, "true")
        t1 = time.perf_counter()
        py.end_session(sid)
        t2 = time.perf_counter()
        ds = DockerSandbox(image=IMAGE, network_mode="none")
        t3 = time.perf_counter()
        ds.start()
        ds.execute("true")
        t4 = time.perf_counter()
        ds.stop()
        t5 = time.perf_counter()
        if i > 0:
            s_start.append((t1 - t0) * 1000)
            s_end.append((t2 - t1) * 1000)
            d_start.append((t4 - t3) * 1000)
            d_end.append((t5 - t4) * 1000)
    yield "start to first command", s_start, d_start
    yield "teardown (EndSession / stop)", s_end, d_end


def report(name: str, t_py: list[float], t_c: list[float], as_json: bool,
           baseline: str = BASE_C, bench: str = "python") -> None:
    p50, c50 = pct(t_py, .5), pct(t_c, .5)
    row = {"bench": bench, "figure": name, "unit": "ms", "sbx_p50": round(p50, 3),
           "sbx_p90": round(pct(t_py, .9), 3), "sbx_p99": round(pct(t_py, .99), 3),
           "baseline": baseline,
           "baseline_p50": round(c50, 3), "baseline_p90": round(pct(t_c, .9), 3),
           "baseline_p99": round(pct(t_c, .99), 3), "ratio": round(p50 / c50, 3)}
    if as_json:
        print(json.dumps(row), flush=True)
    else:
        side = "python" if baseline == BASE_C else "sbx"
        other = "C" if baseline == BASE_C else "docker"
        print(f"{name:36} {side} p50 {row['sbx_p50']:8.3f} p90 {row['sbx_p90']:8.3f} "
              f"p99 {row['sbx_p99']:8.3f} | {other} p50 {row['baseline_p50']:8.3f} "
              f"p90 {row['baseline_p90']:8.3f} p99 {row['baseline_p99']:8.3f} | "
              f"ratio {row['ratio']:.2f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--start-iterations", type=int, default=20)
    ap.add_argument("--vs", choices=("c", "docker", "all"), default="c")
    args = ap.parse_args()
    sbxd_bin = os.environ.get("SBXD_BIN")
    if not sbxd_bin:
        print("bench: set SBXD_BIN to a built sbxd", file=sys.stderr)
        return 2
    lib = os.environ.get("SBX_LIBSBX") or os.path.join(os.path.dirname(sbxd_bin), "libsbx.so")
    d = Sbxd(sbxd_bin)
    d.start()
    try:
        with Client(d.endpoint, service_key=d.key) as py:
            sid = py.create_session("bench-py").session.session_id
            sb = SbxSandbox(py, sid)
            try:
                if args.vs in ("c", "all"):
                    cc = CClient(lib, d.endpoint, d.key)
                    for name, t_py, t_c in figures(py, sb, cc, sid, args.iterations):
                        report(name, t_py, t_c, args.json)
                    cc.close()
                if args.vs in ("docker", "all"):
                    for name, t_s, t_d in docker_figures(py, sb, args.iterations,
                                                         args.start_iterations, d):
                        report(name, t_s, t_d, args.json, BASE_DOCKER, "python-vs-docker")
            finally:
                py.end_session(sid, purge=True)
    finally:
        d.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
