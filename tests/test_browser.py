"""The map in a real browser: headless Chromium against the service on loopback, no network."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(england_store):
    if CHROMIUM is None:
        if os.environ.get("GAPMAP_REQUIRE_MIRROR") == "1":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app({"GAPMAP_STORE": str(england_store.root)})
    srv = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    srv.close()


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=30000", *args],
                         capture_output=True, text=True, timeout=180)
    return out


@pytest.mark.mirror
def test_blmk_map_draws_587_lsoas(server, tmp_path):
    url = f"{server}/map/frame?icb=E54000024&indicator=imd_score"
    out = chromium(tmp_path, "--dump-dom", url)
    paths = re.findall(r"<path[^>]*leaflet-interactive[^>]*>", out.stdout)
    filled = [p for p in paths if 'fill="none"' not in p]
    assert len(filled) == 587  # one polygon per LSOA of BLMK ICB
    assert len(paths) - len(filled) == 99  # the ward outlines
    assert "leaflet-control-layers" in out.stdout and "gapmap-legend" in out.stdout
    shot = tmp_path / "blmk_imd.png"
    chromium(tmp_path, "--window-size=1400,1000", f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 20_000
