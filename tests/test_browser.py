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
    app = create_app({"GAPMAP_STORE": str(england_store.root), "SINGLE_USER": True})  # as on loopback
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
    assert len(paths) - len(filled) == 99 + 1  # the ward outlines and the ICB outline
    assert "leaflet-control-layers" in out.stdout and "gapmap-legend" in out.stdout
    shot = tmp_path / "blmk_imd.png"
    chromium(tmp_path, "--window-size=1400,1000", f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 20_000


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if driver_path is None or CHROMIUM is None:
        if os.environ.get("GAPMAP_REQUIRE_MIRROR") == "1":
            pytest.fail("chromium and chromium-driver are needed (.ci/run installs them)")
        pytest.skip("chromium-driver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


@pytest.mark.mirror
def test_switch_layers_search_and_targeting(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/map?lad=E06000032&indicator=acute_morbidity_indicator")
    frame = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    browser.switch_to.frame(frame)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) >= 125)
    before = len(browser.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))
    hot_and_cold = {"#b2182b", "#ef8a62", "#d1e5f0", "#67a9cf", "#2166ac"}

    def fills(d):
        return {p.get_attribute("fill") for p in d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")}

    assert not fills(browser) & hot_and_cold
    # colour the LSOAs by Gi*: the same polygons take the hot and cold spot colours
    views = browser.find_elements(By.CSS_SELECTOR, ".gapmap-views label")
    [v for v in views if "Gi* hot and cold spots" in v.text][0].find_element(By.TAG_NAME, "input").click()
    wait_for(browser, lambda d: fills(d) & hot_and_cold)
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) == before
    legend = [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
    assert len(legend) == 1 and "Gi* hot and cold spots" in legend[0].text
    # switch the GP practices layer on: their markers are drawn
    labels = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    [label for label in labels if "GP practices" in label.text][0].find_element(By.TAG_NAME, "input").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) > before)
    browser.save_screenshot(str(tmp_path / "luton_gi.png"))
    browser.switch_to.default_content()
    # search a postcode: the map of its place, zoomed on its LSOA
    box = browser.find_element(By.ID, "q")
    box.send_keys("LU1 1AA")
    box.submit()
    wait_for(browser, lambda d: "focus=" in d.current_url)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, lambda d: "Found:" in d.find_element(By.CSS_SELECTOR, ".leaflet-control-layers").text)
    browser.save_screenshot(str(tmp_path / "luton_postcode.png"))
    browser.switch_to.default_content()
    # the targeting list is on the page, each row saying why
    link = browser.find_element(By.PARTIAL_LINK_TEXT, "Download the full list")
    assert "targeting.csv" in link.get_attribute("href")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.targets tr")
    assert len(rows) > 1 and any("Core20" in r.text or "hot spot" in r.text for r in rows[1:])


def test_offline_html_draws_with_the_network_off(fixture_store, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    from app.map_layers import offline_page
    from geo.analysis import Extent

    page = tmp_path / "offline.html"
    page.write_text(offline_page(fixture_store, "imd_score", Extent("icb", "E54000001")), encoding="utf-8")
    text = page.read_text()
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="http', text)  # everything inline
    out = chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", page.as_uri())
    paths = re.findall(r"<path[^>]*leaflet-interactive[^>]*>", out.stdout)
    assert len([p for p in paths if 'fill="none"' not in p]) == 6  # the ICB's six LSOAs
