"""What a search shows, in a real browser: headless Chromium against the service on loopback,
on the fixture store (no mirror needed)."""
import shutil
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from PIL import Image

from app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
FOUND_YELLOW = np.array([0xff, 0xeb, 0x3b])


@pytest.fixture(scope="module")
def server(fixture_store):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = create_server(create_app({"GAPMAP_STORE": str(fixture_store.root), "SINGLE_USER": True}), host="127.0.0.1", port=port, threads=2)
    threading.Thread(target=srv.run, daemon=True).start()
    time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    srv.close()


def screenshot(tmp_path, url, name) -> np.ndarray:
    shot = tmp_path / f"{name}.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
                    "--window-size=900,700", f"--screenshot={shot}", url], capture_output=True, timeout=180)
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


def test_found_lsoa_is_outlined_above_the_choropleth_with_a_pin(server, tmp_path):
    url = f"{server}/map/frame?lad=E06000001&indicator=imd_score&focus=E01000001&pin=postcode:LU11AA"
    pixels = screenshot(tmp_path, url, "found")
    yellow = (np.abs(pixels - FOUND_YELLOW).sum(axis=2) < 30).sum()
    # the whole 5 px outline in its own colour (about 4,500 pixels here); drawn under the LSOA fills,
    # as it was, only its outer edge shows (about 1,200)
    assert yellow > 3000
    # Leaflet's blue pin (vendored marker-icon.png) stands on the postcode
    blue = ((pixels[..., 2] > 180) & (pixels[..., 0] < 90) & (pixels[..., 1] > 100) & (pixels[..., 1] < 170)).sum()
    assert blue > 100
    plain = screenshot(tmp_path, f"{server}/map/frame?lad=E06000001&indicator=imd_score", "plain")
    assert (np.abs(plain - FOUND_YELLOW).sum(axis=2) < 30).sum() < 20


def test_found_postcode_is_named_on_the_map(server, tmp_path):
    """The label on what a search found: the postcode, the LSOA it is in and the value the map shows there."""
    import re

    url = f"{server}/map/frame?lad=E06000001&indicator=imd_score&focus=E01000001&pin=postcode:LU11AA"
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
                          "--window-size=900,700", "--dump-dom", url], capture_output=True, text=True, timeout=180)
    labels = re.findall(r'<div class="leaflet-tooltip gapmap-found-label[^"]*"[^>]*>(.*?)</div>', out.stdout)
    assert len(labels) == 1, labels
    lines = labels[0].split("<br>")
    assert lines[0] == "<b>Postcode LU1 1AA</b>" and re.fullmatch(r"in .+", lines[1])
    assert lines[2].startswith("LSOA E01000001: ")
