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
from tests.test_browser import canvas_shapes

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


@pytest.fixture
def driver():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if shutil.which("chromedriver") is None:
        pytest.skip("chromium-driver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ["--window-size=1366,768"]:
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield d
    d.quit()


def test_map_page_draws_its_map_while_the_panel_is_still_coming_then_shows_it(server, driver, monkeypatch):
    """Issue 21 item 1: the page's HTML carries no panel; the map frame and the panel are fetched
    side by side, so the map is drawn while the panel is still being computed; then it appears."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from app import pages

    pages.PANEL_CACHE.clear()
    gate, asked = threading.Event(), threading.Event()
    real = pages._panel

    def slow_panel(*args):
        asked.set()
        gate.wait(60)  # held until the map is seen drawn
        return real(*args)

    monkeypatch.setattr(pages, "_panel", slow_panel)
    try:
        driver.get(f"{server}/map?lad=E06000001&indicator=imd_score")
        panel = driver.find_element(By.ID, "map-panel")
        assert panel.get_attribute("aria-busy") == "true" and "Loading the summary" in panel.text
        driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "return window.gapmapLsoas && window.gapmapLsoas.getLayers().length"))
        # every LSOA of the place drawn on the map's canvas
        lsoas = driver.execute_script("return window.gapmapLsoas.getLayers().length")
        assert lsoas >= 4
        WebDriverWait(driver, 60).until(lambda d: canvas_shapes(d) == lsoas)
        driver.switch_to.default_content()
        assert asked.is_set()  # the panel was asked for already, and is not there yet
        assert "At a glance" not in driver.find_element(By.ID, "map-panel").text
        assert driver.find_element(By.PARTIAL_LINK_TEXT, "Show this map as a table").is_displayed()
    finally:
        gate.set()
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-gapmap-panel') === 'ready'"))
    panel = driver.find_element(By.ID, "map-panel")
    assert "At a glance" in panel.text and "Targeting list" in panel.text
    assert panel.get_attribute("aria-busy") == "false"


def test_a_panel_that_fails_says_so_and_the_map_still_draws(server, driver, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from app import pages

    pages.PANEL_CACHE.clear()

    def broken(*args):
        raise RuntimeError("the panel broke")

    monkeypatch.setattr(pages, "_panel", broken)
    driver.get(f"{server}/map?lad=E06000002&indicator=imd_score")
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-gapmap-panel') === 'failed'"))
    alert = driver.find_element(By.CSS_SELECTOR, "#map-panel [role=alert]")
    assert "The summary could not be loaded" in alert.text and "Quote reference" in alert.text
    assert "the panel broke" not in alert.text  # the server's details stay in its log
    assert alert.find_element(By.LINK_TEXT, "Try again")
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return window.gapmapLsoas && window.gapmapLsoas.getLayers().length"))


# installed in the page and its frame before their scripts: the order in which the LSOA canvas is
# first drawn (in the frame) and the panel is put in the page, in one list kept by the top window
# (each document looks every 4 ms)
ORDER = """
(function () {
  var timer = setInterval(function () {
    var top = window.top;
    top.__order = top.__order || [];
    var c = document.querySelector('canvas.gapmap-canvas[data-drawn]');
    if (c && top.__order.indexOf('map drawn') < 0) { top.__order.push('map drawn'); }
    var d = document.documentElement, p = d && d.getAttribute('data-gapmap-panel');
    if (p && top.__order.indexOf('panel ' + p) < 0) { top.__order.push('panel ' + p); }
    if (top.__order.length === 2) { clearInterval(timer); }
  }, 4);
})();
"""


def test_the_panel_is_put_in_the_page_after_the_map_is_drawn(server, driver):
    """The frame shares the page's thread: the panel, even when it is ready first (cached here),
    is laid out only once the map has been drawn, so it does not hold the map back."""
    from selenium.webdriver.support.ui import WebDriverWait

    from app import pages

    url = f"{server}/map?lad=E06000001&indicator=imd_score"
    pages.PANEL_CACHE.clear()
    driver.get(url)  # the panel computed and cached, the map frame too
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-gapmap-panel') === 'ready'"))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ORDER})
    driver.get(url)
    order = WebDriverWait(driver, 60).until(lambda d: (lambda o: o if o and len(o) == 2 else None)(
        d.execute_script("return window.__order")))
    assert order == ["map drawn", "panel ready"]
