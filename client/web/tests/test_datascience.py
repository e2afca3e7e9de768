"""test_datascience.py — the demo's "plot a sine wave" in a python-datascience
sandbox takes its matplotlib branch: the PNG the page shows is matplotlib's
(its header, its default 640x480 RGBA figure, its "Software: Matplotlib"
text chunk), not the standard-library fallback (400x200 grey, no text chunk).
Skipped only when the sbx/python-datascience image is not built."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from test_api import chat, new_session

RUNTIME = "python-datascience"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_built() -> bool:
    if shutil.which("docker") is None:
        return False
    r = subprocess.run(["docker", "images", "-q", f"sbx/{RUNTIME}"], capture_output=True,
                       text=True, timeout=60)
    return r.returncode == 0 and bool(r.stdout.strip())


def test_plot_a_sine_wave_uses_matplotlib_in_python_datascience(web):
    if not image_built():
        pytest.skip(f"the sbx/{RUNTIME} image is not built (deploy/images/build-all.sh builds it)")
    alice = web.login("alice")
    h = {"X-CSRF-Token": alice.csrf}
    assert RUNTIME in alice.get("/").text, "sbxd does not list the runtime as ready"
    sid = new_session(alice, title="plots", runtime=RUNTIME)
    for name in ("sine.png", "sine.py"):           # alice's workspace is shared by her sessions
        alice.post(f"/api/s/{sid}/delete", json={"path": name}, headers=h)

    evs = chat(alice, sid, "plot a sine wave")
    assert evs[-1]["t"] == "done", evs
    ran = [e["text"] for e in evs if e["t"] == "tool_result" and e["name"] == "execute"]
    assert ran and "sine.png written with matplotlib" in ran[0], evs

    v = alice.get(f"/api/s/{sid}/file", params={"path": "sine.png"}).json()
    assert v["image"] and v["text"] is None, v
    raw = alice.get(f"/api/s/{sid}/raw", params={"path": "sine.png", "inline": 1})
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
    png = raw.content
    assert len(png) == v["size"] and len(png) > 10_000, len(png)
    assert png[:8] == PNG_MAGIC
    # the first chunk is IHDR: width, height, bit depth, colour type (6 = RGBA)
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (width, height, depth, colour) == (640, 480, 8, 6)
    assert b"tEXtSoftware\x00Matplotlib version" in png
    assert png.endswith(b"IEND\xaeB`\x82")
    alice.close()
