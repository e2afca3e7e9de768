#!/usr/bin/env python3
"""bench_workspace.py — SbxWorkspace against pydantic-ai-backend's DockerWorkspace, in one run.

    SBXD_BIN=build/sbxd python bench_workspace.py [--json] [--iterations N] [--first N]

Needs the `current` extra and pydantic-ai-backend's `docker` extra installed
(the venv run_tests.sh makes for `current`), Docker, and the default runtime
image sbx/python-minimal:latest, which DockerWorkspace runs too (`image=`; it
pulls nothing for a local image). Starts a private sbxd (tests/sbxd_proc.py),
opens one workspace of each kind and times the same operations in turns of
20 calls per side (not call by call: a docker exec leaves the engine busy
for milliseconds after it answers, which slows the call right after it; sbx's
first 3 calls after a docker block are a figure of their own), through the
workspace API (`SbxWorkspaceBackend` and
`DockerWorkspaceBackend`, as a `Workspace` wraps them for tools):
read_bytes 4 KiB, write_bytes 4 KiB, list_dir of 20 entries, run ["true"],
and the first operation of a run (a new backend's open + run ["true"]:
CreateSession + Execute against creating and starting a container + exec;
each sbx round once sbxd's warm pool is full again, as a run finds it).
Prints p50/p90/p99 in ms and the ratio of the p50s (sbx / docker); with
--json one object per figure per line, as `tests/bench/run --json` does.
Targets (issue 14): file operations ≥ 30× faster, first operation ≥ 20× (with
the in-sandbox agent). Never
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import anyio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tests"))

from sbxd_proc import Sbxd  # noqa: E402

IMAGE = "sbx/python-minimal:latest"
BASELINE = "pydantic-ai-backend DockerWorkspace (same image)"


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


BLOCK = 20      # calls per side's turn (as tests/bench/bench_agent.c figure 1)
SETTLE = 3      # ... of which sbx's first after a docker block are reported apart


async def time_blocks(a, b, n: int) -> tuple[list[float], list[float], list[float]]:
    """Awaits a() (sbx) and b() (docker) n times each, times in ms, taking
    turns in blocks of BLOCK calls in alternating order, not call by call: a
    docker exec leaves the engine busy for milliseconds after it answers
    (runc and the shim ending), which on a 2-core machine slows the call
    right after it. sbx's first SETTLE calls after a docker block come back
    apart, as the third list; the first pair of blocks warms both up."""
    blocks = (n + BLOCK - 1) // BLOCK
    ta, tb, after = [], [], []
    for i in range(-1, blocks):
        for k in (0, 1):
            sbx_turn = (k == 0) == (i % 2 == 0)
            f = a if sbx_turn else b
            for j in range(BLOCK):
                t0 = time.perf_counter()
                await f()
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


def report(name: str, ts: list[float], td: list[float], as_json: bool, target: str) -> None:
    p50, d50 = pct(ts, .5), pct(td, .5)
    row = {"bench": "python", "figure": name, "unit": "ms", "sbx_p50": round(p50, 3),
           "sbx_p90": round(pct(ts, .9), 3), "sbx_p99": round(pct(ts, .99), 3),
           "baseline": BASELINE, "baseline_p50": round(d50, 3),
           "baseline_p90": round(pct(td, .9), 3), "baseline_p99": round(pct(td, .99), 3),
           "ratio": round(p50 / d50, 4)}
    if target:
        row["target"] = target
    if as_json:
        print(json.dumps(row), flush=True)
    else:
        print(f"{name:34} sbx p50 {row['sbx_p50']:9.3f} p90 {row['sbx_p90']:9.3f} | docker p50 "
              f"{row['baseline_p50']:9.3f} p90 {row['baseline_p90']:9.3f} | "
              f"docker/sbx {d50 / p50:7.1f}x" + (f" (target ratio {target})" if target else ""), flush=True)


async def main(args) -> None:
    from pydantic_ai.workspaces import Workspace
    from pydantic_ai_backends.workspaces import DockerWorkspace

    from sbx.workspace import SbxWorkspace

    d = Sbxd(os.environ["SBXD_BIN"])
    d.start()
    docker = DockerWorkspace(image=IMAGE)
    refs = []
    try:
        async with SbxWorkspace(endpoint=d.endpoint, service_key=d.key) as sbx:
            s, k = Workspace(sbx.backend()), Workspace(docker.backend())
            for cap, ws in ((sbx, s), (docker, k)):
                await ws.make_dir("list")
                for i in range(20):
                    await ws.write_bytes(f"list/f{i:02}", b"x")
                await ws.write_bytes("r4k.bin", os.urandom(4096))
                refs.append((cap, ws.ref))
            blob = os.urandom(4096)
            n = args.iterations
            q = args.json
            async def blocks(name, a, b, target: str) -> None:
                ts, td, after = await time_blocks(a, b, n)
                report(name, ts, td, q, target)
                report(f"  {name}: sbx's first {SETTLE} after docker", after, td, q, "")

            await blocks("read_bytes 4 KiB", lambda: s.read_bytes("r4k.bin"),
                         lambda: k.read_bytes("r4k.bin"), "≤ 0.033 (30× faster)")
            await blocks("write_bytes 4 KiB", lambda: s.write_bytes("w.bin", blob),
                         lambda: k.write_bytes("w.bin", blob), "≤ 0.033 (30× faster)")
            await blocks("list_dir (20 entries)", lambda: s.list_dir("list"),
                         lambda: k.list_dir("list"), "≤ 0.033 (30× faster)")
            await blocks("run ['true']", lambda: s.run(["true"]), lambda: k.run(["true"]), "")

            async def first_sbx() -> None:
                b = sbx.backend()
                await b.run(["true"])
                refs.append((sbx, b.ref))

            async def first_docker() -> None:
                b = docker.backend()
                await b.run(["true"])
                refs.append((docker, b.ref))

            ts, td = [], []
            for i in range(args.first + 1):          # round 0 warms up
                await anyio.to_thread.run_sync(d.wait_pool_full)   # untimed: as a run finds it
                for f, out in ((first_sbx, ts), (first_docker, td)):
                    t0 = time.perf_counter()
                    await f()
                    if i > 0:
                        out.append((time.perf_counter() - t0) * 1000)
            report("first operation (open + run true)", ts, td, q,
                   "≤ 0.05 (20× faster, with the in-sandbox agent)")
            for cap, ref in refs:
                if ref is not None:
                    with anyio.move_on_after(60):
                        try:
                            await cap.destroy(ref)
                        except Exception as e:   # cleanup only
                            print(f"bench: cleanup of {ref}: {e}", file=sys.stderr)
    finally:
        d.finish()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--first", type=int, default=10, help="iterations of the first operation")
    anyio.run(main, ap.parse_args())
