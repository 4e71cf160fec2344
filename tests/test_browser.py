"""The map in a real browser: headless Chromium against the service on loopback, no network."""
import contextlib
import itertools
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
    # as on loopback; intranet pages on other loopback ports may embed the maps (GAPMAP_FRAME_ANCESTORS)
    app = create_app({"GAPMAP_STORE": str(england_store.root), "SINGLE_USER": True,
                      "FRAME_ANCESTORS": "'self' http://127.0.0.1:*"})
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


def drawn_canvas(dom: str) -> dict:
    """The LSOA canvas's attributes in a dumped DOM: ``shapes``, the LSOAs its last redraw drew."""
    canvases = re.findall(r"<canvas[^>]*gapmap-canvas[^>]*>", dom)
    assert len(canvases) == 1, canvases  # every LSOA on one canvas
    return {k: int(v) for k, v in re.findall(r'data-(drawn|shapes)="(\d+)"', canvases[0])}


@pytest.mark.mirror
def test_blmk_map_draws_587_lsoas(server, tmp_path):
    url = f"{server}/map/frame?icb=E54000024&indicator=imd_score"
    out = chromium(tmp_path, "--dump-dom", url)
    assert drawn_canvas(out.stdout)["shapes"] == 587  # one polygon per LSOA of BLMK ICB, all in view
    paths = re.findall(r"<path[^>]*leaflet-interactive[^>]*>", out.stdout)
    assert all('fill="none"' in p for p in paths)  # no SVG path per LSOA: the paths are outlines
    assert len(paths) == 99 + 1  # the ward outlines and the ICB outline
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, to fail on any error
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


@pytest.mark.mirror
def test_switch_layers_search_and_targeting(server, browser, england_store, tmp_path):
    import numpy as np
    import shapely
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/map?lad=E06000032&indicator=acute_morbidity_indicator")
    frame = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    browser.switch_to.frame(frame)
    wait_for(browser, map_ready)
    wait_for(browser, lambda d: canvas_shapes(d) == 125)  # every LSOA of Luton drawn, on one canvas
    assert not browser.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive:not([fill='none'])")
    hot_and_cold = {"#b2182b", "#ef8a62", "#d1e5f0", "#67a9cf", "#2166ac"}
    main = browser.execute_script("return JSON.parse(document.getElementById('gapmap-data').textContent).views[0].palette")
    # each class of the map is drawn in its colour, and none in the hot and cold spots' colours
    assert drawn_in(canvas_colours(browser), main) == set(main) and not drawn_in(canvas_colours(browser), hot_and_cold)
    # the tooltip names the LSOA under the pointer: the centre of the largest circle inside an LSOA,
    # of the LSOA with the centre nearest the middle of the map (clear of the legends and layer list)
    lsoas = england_store.lsoas(lad="E06000032", columns=["lsoa21cd"], geometry=True)
    inner = np.array([shapely.maximum_inscribed_circle(g).coords[0] for g in lsoas.geometry])
    middle = browser.execute_script("var c = window.gapmapLsoas._map.getCenter(); return [c.lng, c.lat]")
    near = int(np.argmin(((inner - np.array(middle)) ** 2).sum(axis=1)))
    hover(browser, inner[near])
    wait_for(browser, lambda d: lsoas["lsoa21cd"].iloc[near] in tooltips(d))
    # colour the LSOAs by Gi*: the same polygons take the hot and cold spot colours
    from selenium.webdriver.support.select import Select

    Select(browser.find_element(By.ID, "gapmap-view")).select_by_visible_text("Gi* hot and cold spots")
    wait_for(browser, lambda d: drawn_in(canvas_colours(d), hot_and_cold))
    assert canvas_shapes(browser) == 125
    legend = [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
    assert len(legend) == 1 and "Gi* hot and cold spots" in legend[0].text
    # switch the GP practices layer on: their markers are drawn
    open_layer_list(browser)
    labels = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    [label for label in labels if "GP practices" in label.text][0].find_element(By.TAG_NAME, "input").click()
    wait_for(browser, lambda d: markers_of(d, POINT_LAYERS["GP practices"]) > 0)
    browser.save_screenshot(str(tmp_path / "luton_gi.png"))
    browser.switch_to.default_content()
    # search a postcode: the map of its place, zoomed on its LSOA
    box = browser.find_element(By.ID, "q")
    box.send_keys("LU1 1AA")
    box.submit()
    wait_for(browser, lambda d: "focus=" in d.current_url)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    open_layer_list(browser)
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
    from geo.views.analysis import Extent

    page = tmp_path / "offline.html"
    page.write_text(offline_page(fixture_store, "imd_score", Extent("icb", "E54000001")), encoding="utf-8")
    text = page.read_text()
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="http', text)  # everything inline
    assert "<title>Index of Multiple Deprivation 2025: NHS Alpha ICB (Gapmap)</title>" in text
    assert "window.Gapmap" in text or "root.Gapmap" in text  # the page's own script, inlined
    out = chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", page.as_uri())
    assert drawn_canvas(out.stdout)["shapes"] == 6  # the ICB's six LSOAs


# --- the map page as a place team uses it (issue 14) -------------------------------------------

AXE = os.path.join(os.path.dirname(__file__), "vendor", "axe-core", "axe.min.js")
POINT_LAYERS = {"Schools: primary": "#005eb8", "Schools: secondary": "#7c2855", "Schools: special": "#ed8b00",
                "Schools: other": "#425563", "GP practices": "#007f3b", "Hospitals": "#da291c"}
SHOTS = os.environ.get("GAPMAP_SCREENSHOTS", "").strip()  # a folder to keep the screenshots in
BY_CSS = "css selector"  # selenium's By.CSS_SELECTOR (selenium is imported only where it is installed)


def console_errors(driver) -> list[str]:
    """Errors written to the console since the last call (reading the log empties it)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def canvas_colours(driver, least: int = 20) -> dict:
    """The LSOA canvas's pixels drawn with a fill (alpha >= 100), counted by colour as #rrggbb,
    the colours of at least ``least`` pixels (fewer: edges, where a stroke blends in). LSOAs are
    filled at 0.75 opacity, so each pixel inside one keeps its class colour."""
    return driver.execute_script(
        "var c = document.querySelector('canvas.gapmap-canvas'), d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data, n = {};"
        "function h(v) { return (v < 16 ? '0' : '') + v.toString(16); }"
        "for (var i = 0; i < d.length; i += 4) { if (d[i + 3] < 100) { continue; }"
        " var k = '#' + h(d[i]) + h(d[i + 1]) + h(d[i + 2]); n[k] = (n[k] || 0) + 1; }"
        "for (var k in n) { if (n[k] < arguments[0]) { delete n[k]; } }"
        "return n;", least)


def drawn_in(colours: dict, wanted) -> set:
    """Which of the ``wanted`` colours (#rrggbb) the canvas has: within 2 a channel, as a colour
    drawn at 0.75 opacity reads back after the canvas's premultiplied alpha."""
    def rgb(c):
        return [int(c[i:i + 2], 16) for i in (1, 3, 5)]

    return {w for w in wanted if any(max(abs(a - b) for a, b in zip(rgb(w), rgb(c))) <= 2 for c in colours)}


def canvas_shapes(driver) -> int:
    """The LSOAs the canvas's last redraw drew (0 before its first)."""
    return int(driver.execute_script(
        "var c = document.querySelector('canvas.gapmap-canvas[data-drawn]'); return c ? c.getAttribute('data-shapes') : 0"))


def hover(driver, lon_lat) -> None:
    """The pointer over a point of the map (longitude, latitude)."""
    from selenium.webdriver.common.action_chains import ActionChains

    point = driver.execute_script("var p = window.gapmapLsoas._map.latLngToContainerPoint([arguments[1], arguments[0]]);"
                                  "return [p.x, p.y]", lon_lat[0], lon_lat[1])
    box = driver.find_element(BY_CSS, ".leaflet-container")
    ActionChains(driver).move_to_element_with_offset(box, int(point[0] - box.size["width"] / 2),
                                                     int(point[1] - box.size["height"] / 2)).perform()


def tooltips(driver) -> str:
    return "".join(t.text for t in driver.find_elements(BY_CSS, ".leaflet-tooltip"))


def map_ready(driver):
    return driver.execute_script("return document.documentElement.getAttribute('data-gapmap-ready') === '1'")


def viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def keep(driver, tmp_path, name: str) -> None:
    driver.save_screenshot(str(tmp_path / name))
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, name))


def markers_of(driver, colour: str) -> int:
    """Point symbols in a layer's colour on the map, plus cluster icons (schools are clustered)."""
    return driver.execute_script(
        "var c = arguments[0]; return document.querySelectorAll('.marker-cluster').length + "
        "Array.prototype.filter.call(document.querySelectorAll('.leaflet-marker-pane .gapmap-symbol svg g'), "
        "function (g) { return g.getAttribute('fill') === c; }).length;", colour)


@pytest.fixture(scope="module")
def demo(england_store, tmp_path_factory):
    """SYNTHETIC BLMK datasets, made and ingested as ``gapmap demo-data --indicators ... --ingest``
    does: UEC01 (LSOA records: the bivariate view), ORA01 (rare: the smoothed and ward views) and
    CVD03 (per GP practice: the practice points). Removed when the module's tests are done."""
    from geo.ingest import synthetic
    from geo.ingest.pipeline import IngestOptions, ingest
    from geo.store.datasets import DatasetStore

    names = {}
    for made in synthetic.demo_indicators(england_store, "E54000024", ["UEC01", "ORA01", "CVD03"],
                                          tmp_path_factory.mktemp("demo"), seed=1):
        name = f"browser-{made['code'].lower()}"
        ingest(made["path"], IngestOptions(name=name, measure=made["measure"], synthetic=True,
                                           nhs_indicator=made["code"], **made["options"]), england_store)
        names[made["code"]] = name
    yield names
    for name in names.values():
        DatasetStore(england_store).remove(name)


EVERY_VIEW_MAPS = {  # an LSOA column, a rare dataset (smoothed and ward views), a practice dataset's points
    "imd": ("lad=E06000032&indicator=acute_morbidity_indicator", set(), None),
    "ora01": ("lad=E06000055&indicator=browser-ora01", {"smoothed", "ward"}, None),
    "cvd03": ("lad=E06000032&indicator=browser-cvd03", set(), "GP practices: this indicator"),
}


@pytest.mark.mirror
@pytest.mark.parametrize("which", list(EVERY_VIEW_MAPS))
@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_every_point_layer_and_view_draws_with_no_console_error(server, browser, demo, tmp_path, width, height,
                                                                which):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    query, wanted_views, own_points = EVERY_VIEW_MAPS[which]
    console_errors(browser)
    viewport(browser, width, height)
    browser.get(f"{server}/map/frame?{query}")
    wait_for(browser, map_ready)
    open_layer_list(browser)
    labels = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    if own_points:  # the practice dataset's own points are shown at once, each in its class colour
        assert own_points in [label.text.strip() for label in labels]
        classes = browser.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('.leaflet-marker-pane "
            ".gapmap-symbol-cross svg g'), function (g) { return g.getAttribute('fill'); });")
        assert len(classes) > 10 and len(set(classes)) >= 3, classes
        key = browser.find_element(By.CSS_SELECTOR, ".gapmap-points-key").text
        assert "GP practices, coloured by this indicator" in key and " to " in key  # its classes listed
        keep(browser, tmp_path, f"layer_practice_values_{width}.png")
    for name, colour in POINT_LAYERS.items():
        box = [label for label in labels if label.text.strip() == name][0].find_element(By.TAG_NAME, "input")
        assert markers_of(browser, colour) == 0 or name.startswith("Schools")
        box.click()  # tick the layer: its markers or clusters are drawn
        wait_for(browser, lambda d: markers_of(d, colour) > 0, timeout=20)
        keep(browser, tmp_path, f"{which}_layer_{name.split(':')[-1].strip().replace(' ', '_').lower()}_{width}.png")
        box.click()
        assert not console_errors(browser), name
    views = Select(browser.find_element(By.ID, "gapmap-view"))
    assert wanted_views <= {o.get_attribute("value") for o in views.options}
    for option in [o.text for o in views.options]:
        views.select_by_visible_text(option)
        legend = [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
        assert len(legend) == 1 and option in legend[0].text
        assert "No data" in legend[0].text
        keep(browser, tmp_path, f"{which}_view_{views.first_selected_option.get_attribute('value')}_{width}.png")
    assert not console_errors(browser)


def open_layer_list(driver) -> None:
    """Open the layer list where it starts folded (a short frame)."""
    fold = driver.find_elements(BY_CSS, '.gapmap-fold[data-fold="layers"]')
    if fold and fold[0].get_attribute("aria-expanded") == "false":
        fold[0].click()


def rect(driver, selector: str, visible_only: bool = True):
    return driver.execute_script(
        "var visibleOnly = arguments[1];"
        "var els = Array.prototype.filter.call(document.querySelectorAll(arguments[0]), function (e) {"
        " return !visibleOnly || e.getClientRects().length > 0; });"
        "return els.map(function (e) { var r = e.getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,"
        " scrolls: e.scrollHeight > e.clientHeight + 1}; });", selector, visible_only)


def overlap(a, b) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_layout_legend_and_map_visible_at_laptop_and_projector_sizes(server, browser, tmp_path, width, height):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    console_errors(browser)  # start with an empty log
    viewport(browser, width, height)
    browser.get(f"{server}/map?icb=E54000024&indicator=acute_morbidity_indicator")
    frame_box = rect(browser, "iframe.map-frame")[0]
    panel = rect(browser, "aside.panel")[0]
    # the map is above the fold and takes most of the window's height; the panel sits beside it
    assert frame_box["top"] > 0 and frame_box["bottom"] <= height, frame_box
    assert frame_box["height"] >= 0.65 * height and frame_box["width"] >= 0.6 * width
    assert panel["bottom"] <= height and not overlap(frame_box, panel)
    keep(browser, tmp_path, f"page_{width}.png")
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, map_ready)
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    # the place fills the frame in one direction (fitBounds with quarter zoom steps)
    filled = browser.execute_script(
        "var l = window.gapmapLsoas, m = l._map, b = l.getBounds(), s = m.getSize();"
        "var a = m.latLngToContainerPoint(b.getNorthWest()), z = m.latLngToContainerPoint(b.getSouthEast());"
        "return Math.max((z.x - a.x) / s.x, (z.y - a.y) / s.y);")
    assert filled >= 0.85, f"the place fills only {filled:.0%} of the frame"
    views = Select(browser.find_element(By.ID, "gapmap-view"))
    for key in [o.get_attribute("value") for o in views.options]:
        views.select_by_value(key)
        boxes = {name: rect(browser, selector) for name, selector in (
            ("colour by", ".gapmap-views"), ("legend", ".gapmap-legend"), ("layers", ".leaflet-control-layers"),
            ("zoom", ".leaflet-control-zoom"), ("scale", ".leaflet-control-scale"),
            ("attribution", ".leaflet-control-attribution"))}
        assert len(boxes["legend"]) == 1, key
        for name, found in boxes.items():
            assert found, f"{key}: no {name}"
            box = found[0]
            assert box["width"] > 0 and box["height"] > 0
            assert box["left"] >= 0 and box["top"] >= 0 and box["right"] <= inner[0] and box["bottom"] <= inner[1], \
                f"{key}: the {name} is cut off at {width}x{height}: {box}"
        assert not boxes["legend"][0]["scrolls"], f"{key}: the legend does not fit at {width}x{height}"
        assert not rect(browser, ".gapmap-legends-body")[0]["scrolls"], f"{key}: the legends scroll at {width}x{height}"
        for (a, ra), (b, rb) in itertools.combinations(boxes.items(), 2):
            assert not overlap(ra[0], rb[0]), f"{key}: the {a} covers the {b} at {width}x{height}"
        keep(browser, tmp_path, f"frame_{key}_{width}.png")
    assert not console_errors(browser), f"console errors at {width}x{height}"
    browser.switch_to.default_content()


@pytest.mark.mirror
def test_the_address_holds_the_map_state_and_reopens_it(server, browser, tmp_path):
    from urllib.parse import parse_qs, urlparse

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    viewport(browser, 1366, 768)
    query = "lad=E06000032&indicator=acute_morbidity_indicator&scheme=fisher_jenks&k=4&view=hot&layers=gps,hospitals"
    browser.get(f"{server}/map?{query}")

    def state_in_frame(d, view, layers):
        assert Select(d.find_element(By.ID, "gapmap-view")).first_selected_option.get_attribute("value") == view
        legend = [e for e in d.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
        assert len(legend) == 1 and legend[0].get_attribute("data-view") == view
        open_layer_list(d)
        ticked = {label.text.strip() for label in d.find_elements(By.CSS_SELECTOR,
                                                                   ".leaflet-control-layers-overlays label")
                  if label.find_element(By.TAG_NAME, "input").is_selected()}
        assert ticked == layers
        if "GP practices" in layers:
            assert markers_of(d, POINT_LAYERS["GP practices"]) > 0

    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, map_ready)
    state_in_frame(browser, "hot", {"GP practices", "Hospitals"})
    assert len(browser.find_elements(By.CSS_SELECTOR, '.gapmap-legend[data-view="main"] li')) == 4 + 1  # k=4
    # change the view and the layers: the frame's and the page's addresses follow
    Select(browser.find_element(By.ID, "gapmap-view")).select_by_value("dec")
    labels = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    [label for label in labels if label.text.strip() == "Hospitals"][0].find_element(By.TAG_NAME, "input").click()
    [label for label in labels if label.text.strip() == "Ward outlines"][0].find_element(By.TAG_NAME, "input").click()
    frame_url = browser.execute_script("return location.href")
    browser.switch_to.default_content()
    wait_for(browser, lambda d: "view=dec" in d.current_url, timeout=10)
    page_url = browser.current_url
    args = parse_qs(urlparse(page_url).query)
    assert args["view"] == ["dec"] and args["layers"][0].split(",") == ["wards", "gps"]
    assert args["scheme"] == ["fisher_jenks"] and args["k"] == ["4"] and args["lad"] == ["E06000032"]
    assert parse_qs(urlparse(frame_url).query)["view"] == ["dec"]
    embed = browser.find_element(By.ID, "embed").get_attribute("value")
    assert "view=dec" in embed and "layers=wards%2Cgps" in embed
    redraw = {i.get_attribute("name"): i.get_attribute("value")
              for i in browser.find_elements(By.CSS_SELECTOR, "form.keeps-state input[type=hidden]")}
    assert redraw["view"] == "dec" and redraw["layers"] == "wards,gps"
    # the copied address opens exactly that map
    browser.get(page_url)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, map_ready)
    state_in_frame(browser, "dec", {"Ward outlines", "GP practices"})
    browser.switch_to.default_content()
    # and so does the embed code on another page (an intranet page holding the iframe)
    (tmp_path / "intranet").mkdir()
    (tmp_path / "intranet" / "index.html").write_text(f"<!doctype html><title>Intranet</title>{embed}")
    with intranet_server(tmp_path / "intranet") as intranet:  # another origin, as an intranet is
        browser.get(intranet + "/index.html")
        browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
        wait_for(browser, map_ready)
        state_in_frame(browser, "dec", {"Ward outlines", "GP practices"})
        keep(browser, tmp_path, "embedded_state.png")
        console_errors(browser)
        Select(browser.find_element(By.ID, "gapmap-view")).select_by_value("rural")  # tells the other origin nothing
        assert "view=rural" in browser.execute_script("return location.search")
        assert not console_errors(browser)
        browser.switch_to.default_content()


@contextlib.contextmanager
def intranet_server(folder):
    """A static web server on another loopback port: a page of another origin embedding the map."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.mirror
def test_table_view_lists_what_the_map_shows(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    viewport(browser, 1366, 768)
    browser.get(f"{server}/map?lad=E06000032&indicator=imd_score&view=hot")
    link = browser.find_element(By.LINK_TEXT, "Show this map as a table")
    assert "display=table" in link.get_attribute("href") and "view=hot" in link.get_attribute("href")
    link.click()
    wait_for(browser, map_ready)
    table = browser.find_element(By.CSS_SELECTOR, "table.gapmap-data-table")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    drawn = browser.execute_script("return window.gapmapLsoas.getLayers().length")
    assert len(rows) == drawn == 125  # every LSOA of Luton
    assert "Gi* hot and cold spots" in table.find_element(By.TAG_NAME, "caption").text
    assert any("Hot spot" in r.text for r in rows) and any("Not significant" in r.text for r in rows)
    keep(browser, tmp_path, "table_hot_1366.png")
    Select(browser.find_element(By.ID, "gapmap-view")).select_by_value("rural")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.gapmap-data-table tbody tr")
    assert len(rows) == 125 and all(r.text.split()[-1] in ("Urban", "Rural", "data") for r in rows)
    browser.find_element(By.CSS_SELECTOR, ".gapmap-table-close").click()
    assert not browser.find_element(By.ID, "gapmap-table").is_displayed()
    assert "display=table" not in browser.current_url


def axe_violations(driver) -> list[str]:
    """Serious and critical axe-core violations of the page in the driver, as readable lines."""
    with open(AXE, encoding="utf-8") as f:
        driver.execute_script(f.read())
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {iframes: false, resultTypes: ['violations']}).then(function (r) { done(r.violations); },"
        " function (e) { done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]); });")
    return [f"{v['id']} ({v['impact']}): {v['help']}: " + "; ".join(n["target"][0] if isinstance(n["target"][0], str)
                                                                     else str(n["target"]) for n in v["nodes"][:5])
            for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.mirror
def test_axe_finds_no_serious_accessibility_violation_on_any_page(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    browser.set_script_timeout(120)
    viewport(browser, 1366, 768)
    pages = ["/", "/?icb=E54000024", "/map?icb=E54000024&indicator=imd_score",
             "/map?lad=E06000032&indicator=acute_morbidity_indicator", "/indicators", "/upload",
             "/search?q=central", "/search?q=zzzz-nothing", "/map?lad=E06999999", "/no/such/page"]
    browser.get(server + "/")  # the check can fail: an image with no text alternative is caught
    browser.execute_script("var i = document.createElement('img'); i.src = '/static/favicon.svg';"
                           "document.querySelector('main').appendChild(i);")
    assert any(v.startswith("image-alt (critical)") for v in axe_violations(browser))
    found = {}
    for page in pages:
        browser.get(server + page)
        found[page] = axe_violations(browser)
    # the map frame itself: every view, and the table view
    browser.get(f"{server}/map/frame?lad=E06000032&indicator=acute_morbidity_indicator&layers=wards,gps")
    wait_for(browser, map_ready)
    views = Select(browser.find_element(By.ID, "gapmap-view"))
    for key in [o.get_attribute("value") for o in views.options]:
        views.select_by_value(key)
        found[f"frame view={key}"] = axe_violations(browser)
    browser.get(f"{server}/map/frame?lad=E06000032&indicator=imd_score&display=table")
    wait_for(browser, map_ready)
    found["frame table"] = axe_violations(browser)
    bad = {page: v for page, v in found.items() if v}
    assert not bad, "\n".join(f"{page}: {line}" for page, lines in bad.items() for line in lines)


@pytest.fixture(scope="module")
def fixture_server(fixture_store):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = create_server(create_app({**fixture_store.environment(), "SINGLE_USER": True}), host="127.0.0.1",
                        port=port, threads=2)
    threading.Thread(target=srv.run, daemon=True).start()
    time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    srv.close()


def test_upload_form_ticks_the_breakdowns_the_chosen_file_has_and_warns_when_one_is_left_out(
        fixture_server, browser, tmp_path, fixture_store):
    from selenium.webdriver.common.by import By

    from geo.store.datasets import DatasetStore

    path = tmp_path / "ae.csv"
    path.write_text("A&E attendances\n\nLSOA,Gender,Ethnic_Category,Arrival_Date\nE01000001,1,A,2024-05-01\n"
                    "E01000002,2,H,2024-05-02\n")
    browser.get_log("browser")  # what earlier tests left in the console is theirs
    browser.get(f"{fixture_server}/upload")
    box = {b: browser.find_element(By.CSS_SELECTOR, f'input[data-breakdown="{b}"]')
           for b in ("age_band", "sex", "ethnic_group", "period")}
    assert not any(b.is_selected() for b in box.values())
    browser.find_element(By.ID, "name").send_keys("browser-ae")
    browser.find_element(By.ID, "file").send_keys(str(path))
    wait_for(browser, lambda d: box["ethnic_group"].is_selected(), timeout=30)
    assert box["sex"].is_selected() and not box["age_band"].is_selected() and not box["period"].is_selected()
    status = browser.find_element(By.ID, "file-check").text
    assert status.startswith("ae.csv: column names on row 3 (the rows above are titles); it has sex (Gender), "
                             "ethnic group (Ethnic_Category)")
    box["ethnic_group"].click()  # left out: the first press warns, and does not upload
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    warning = browser.find_element(By.ID, "breakdown-warning")
    assert warning.is_displayed() and "The file has ethnic group (Ethnic_Category), not ticked" in warning.text
    assert browser.current_url.endswith("/upload")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # the second press uploads without it
    wait_for(browser, lambda d: "Dataset browser-ae" in d.page_source, timeout=30)
    assert DatasetStore(fixture_store).get("browser-ae").meta["report"]["breakdowns"] == ["sex"]
    DatasetStore(fixture_store).remove("browser-ae")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and fixture_server in e["message"]]
    assert not errors, errors


# --- a map that reads at a glance (issue 20 item 3), each check at a laptop's and a projector's size ---

SIZES = [(1366, 768), (1920, 1080)]
ALL_POINTS = "schools-primary,schools-secondary,schools-special,schools-other,gps,hospitals"


def page_data(driver) -> dict:
    import json

    return json.loads(driver.execute_script("return document.getElementById('gapmap-data').textContent"))


def shape_of(driver, selector: str) -> list:
    """(symbol markup, fill) of each SVG symbol under ``selector``: what a reader sees of it."""
    return driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll(arguments[0]), function (svg) {"
        " var g = svg.querySelector('g'); return [g.innerHTML, g.getAttribute('fill')]; });", selector)


def background_share(png: bytes) -> float:
    """The share of a map frame's pixels (a screenshot of it) in the bare map background
    (#f0f4f5): 0 where every pixel shows an LSOA, a control or a point."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float((np.abs(pixels - [0xf0, 0xf4, 0xf5]).sum(axis=2) < 6).mean())


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
def test_each_school_kind_and_point_type_has_its_own_symbol_listed_in_the_legend(server, browser, demo, england_store,
                                                                                 tmp_path, width, height):
    from geo.views.school_kinds import school_kind

    viewport(browser, width, height)
    browser.get(f"{server}/map/frame?lad=E06000055&indicator=browser-uec01&layers={ALL_POINTS}")
    wait_for(browser, map_ready)
    groups = {g["name"]: g for g in page_data(browser)["points"]}
    assert set(POINT_LAYERS) <= set(groups)
    looks = {(groups[n]["symbol"], groups[n]["colour"]) for n in POINT_LAYERS}
    assert len(looks) == len(POINT_LAYERS) and len({s for s, _ in looks}) >= 5  # six looks, five or more shapes
    # each school is in its kind's layer (GIAS phase and establishment group), independents never with primaries
    schools = england_store.points("schools", lad="E06000055").to_crs(4326)
    kinds = {}  # by place and name (two schools may share a name)
    for point, name, kind in zip(schools.geometry, schools["name"], school_kind(schools)):
        kinds.setdefault((round(point.y, 5), round(point.x, 5), name), set()).add(kind)
    for kind in ("primary", "secondary", "special", "other"):
        rows = groups[f"Schools: {kind}"]["rows"]
        assert rows and all(kind in kinds[(r[0], r[1], r[2])] for r in rows), kind
    independent = set(schools.loc[schools["establishment_type_group"] == "Independent schools", "name"])
    assert independent and independent <= {r[2] for r in groups["Schools: other"]["rows"]}
    # the key lists every layer shown with the very symbol the map draws for it
    key_items = browser.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('.gapmap-points-key > ul > li'), function (li) {"
        " var g = li.querySelector('svg g'); return [li.textContent.trim(), g.innerHTML, g.getAttribute('fill')]; });")
    assert [t for t, _, _ in key_items] == [groups[n]["legend"] for n in POINT_LAYERS]
    for (text, markup, fill), name in zip(key_items, POINT_LAYERS):
        drawn = shape_of(browser, f".leaflet-marker-pane .gapmap-symbol-{groups[name]['symbol']} svg, "
                                  ".leaflet-marker-pane .gapmap-cluster-symbol svg")  # on its own or clustered
        assert fill == groups[name]["colour"] and [markup, fill] in drawn, name
    # and so does the layer list, beside each layer's name
    open_layer_list(browser)
    listed = shape_of(browser, ".leaflet-control-layers-overlays .gapmap-point-key svg")
    assert sorted(map(tuple, listed)) == sorted((m, f) for _, m, f in key_items)
    keep(browser, tmp_path, f"glance_symbols_{width}.png")
    assert not console_errors(browser)


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
def test_schools_cluster_until_street_zoom_then_each_stands_alone(server, browser, tmp_path, width, height):
    viewport(browser, width, height)
    browser.get(f"{server}/map/frame?lad=E06000032&indicator=imd_score&layers=schools-primary")
    wait_for(browser, map_ready)
    rows = [g for g in page_data(browser)["points"] if g["name"] == "Schools: primary"][0]["rows"]
    count = ("return [document.querySelectorAll('.leaflet-marker-pane .marker-cluster').length,"
             " document.querySelectorAll('.leaflet-marker-pane .gapmap-symbol-circle').length]")
    clusters, alone = browser.execute_script(count)
    assert clusters > 0 and alone < len(rows)  # the whole of Luton: clustered
    keep(browser, tmp_path, f"glance_clusters_{width}.png")
    # street zoom on the town centre: every primary school in view drawn on its own, none clustered
    in_view = browser.execute_script(
        "var m = gapmapLsoas._map, rows = arguments[0]; m.setView([51.8787, -0.4200], 15, {animate: false});"
        "var b = m.getBounds(); return rows.filter(function (r) { return b.contains([r[0], r[1]]); }).length;", rows)
    time.sleep(0.5)
    clusters, alone = browser.execute_script(count)
    assert in_view > 0 and clusters == 0 and alone >= in_view
    keep(browser, tmp_path, f"glance_street_zoom_{width}.png")
    # one step out (zoom 14) they cluster again
    browser.execute_script("gapmapLsoas._map.setZoom(14, {animate: false})")
    time.sleep(0.5)
    assert browser.execute_script(count)[0] > 0


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("query, named", [("Shackleton Primary", "Shackleton Primary School (school)"),
                                          ("MK40 1AA", "Postcode MK40 1AA"), ("E01017466", "Bedford 012A")])
def test_what_a_search_finds_is_named_on_a_drawn_map(server, browser, demo, tmp_path, width, height, query, named):
    from selenium.webdriver.common.by import By

    viewport(browser, width, height)
    browser.get(f"{server}/map?lad=E06000055&indicator=browser-uec01")
    box = browser.find_element(By.ID, "q")
    box.send_keys(query)
    box.submit()
    wait_for(browser, lambda d: "focus=" in d.current_url)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, map_ready)
    label = wait_for(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".gapmap-found-label")
                                         if e.is_displayed()])
    assert len(label) == 1 and named in label[0].text
    found = page_data(browser)["found"]
    if query != "E01017466":  # a pin's label says which LSOA it is in, and what the map shows there
        assert label[0].text.splitlines()[1] == "in " + found["name"]
    assert found["detail"] in label[0].text and "LSOA E01" in found["detail"]
    # the label is inside the frame, clear of the controls, and the found LSOA is outlined above the fills
    tip = rect(browser, ".gapmap-found-label")[0]
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert tip["left"] >= 0 and tip["top"] >= 0 and tip["right"] <= inner[0] and tip["bottom"] <= inner[1]
    for selector in (".gapmap-views", ".gapmap-legends", ".leaflet-control-layers"):
        assert not overlap(tip, rect(browser, selector)[0]), selector
    assert browser.execute_script("return document.querySelectorAll('.leaflet-gapmap-found-pane path').length") == 1
    keep(browser, tmp_path, f"glance_found_{query.replace(' ', '_').lower()}_{width}.png")
    assert not console_errors(browser)
    # the LSOAs are drawn over the whole frame around it: no bare patch of background
    browser.switch_to.default_content()
    assert background_share(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame").screenshot_as_png) < 0.02


def covered_share(driver) -> float:
    """The share of the place's box on screen (the LSOAs' bounds, clipped to the frame) under the
    map's controls."""
    return driver.execute_script(
        "var m = gapmapLsoas._map, b = gapmapLsoas.getBounds(), s = m.getSize();"
        "var a = m.latLngToContainerPoint(b.getNorthWest()), z = m.latLngToContainerPoint(b.getSouthEast());"
        "var box = {l: Math.max(0, a.x), t: Math.max(0, a.y), r: Math.min(s.x, z.x), b: Math.min(s.y, z.y)};"
        "var area = (box.r - box.l) * (box.b - box.t), covered = 0;"
        "document.querySelectorAll('.gapmap-views, .gapmap-legends, .leaflet-control-layers, .gapmap-points-key')"
        ".forEach(function (e) { if (!e.getClientRects().length) { return; } var r = e.getBoundingClientRect();"
        " var w = Math.min(r.right, box.r) - Math.max(r.left, box.l), h = Math.min(r.bottom, box.b) - Math.max(r.top, box.t);"
        " if (w > 0 && h > 0) { covered += w * h; } });"
        "return covered / area;")


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
def test_legend_and_layer_list_fold_so_the_place_stays_in_view(server, browser, demo, tmp_path, width, height):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    viewport(browser, width, height)
    browser.get(f"{server}/map?icb=E54000024&indicator=browser-uec01&layers={ALL_POINTS}")
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe.map-frame"))
    wait_for(browser, map_ready)
    frame = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    folds = {b.get_attribute("data-fold"): b for b in browser.find_elements(By.CSS_SELECTOR, ".gapmap-fold")}
    # on a laptop the layer list starts folded (the frame is under 700 px high); on a projector it is open;
    # the legend is open on both
    assert folds["layers"].get_attribute("aria-expanded") == ("false" if frame[1] < 700 else "true"), frame
    assert folds["legend"].get_attribute("aria-expanded") == "true"
    keep(browser, tmp_path, f"glance_fold_start_{width}.png")
    # whatever the view, with every point layer on, no box covers another, and the legend never reaches the
    # "Show as a table" button (it scrolls within itself where the frame is short)
    views = Select(browser.find_element(By.ID, "gapmap-view"))
    for key in [o.get_attribute("value") for o in views.options]:
        views.select_by_value(key)
        for what in ("legend", "layers"):
            boxes = {name: rect(browser, selector) for name, selector in (
                ("colour by", ".gapmap-views"), ("table button", "#gapmap-table-button"), ("legend", ".gapmap-legends"),
                ("layers", ".leaflet-control-layers"), ("points key", ".gapmap-points-key"),
                ("scale", ".leaflet-control-scale"), ("zoom", ".leaflet-control-zoom"))}
            for (a, ra), (b, rb) in itertools.combinations(boxes.items(), 2):
                if not (a == "colour by" and b == "table button"):
                    assert not overlap(ra[0], rb[0]), f"{key}: the {a} covers the {b} at {width}x{height}"
            for name, found in boxes.items():
                box = found[0]
                assert box["top"] >= 0 and box["bottom"] <= frame[1] and box["right"] <= frame[0], (key, name, box)
            folds["layers"].click()  # open the other way round too
        keep(browser, tmp_path, f"glance_fold_{key}_{width}.png")
    # fold both: each shrinks to its button and the place is all but uncovered
    for what in ("legend", "layers"):
        if folds[what].get_attribute("aria-expanded") == "true":
            folds[what].click()
        assert folds[what].get_attribute("aria-expanded") == "false" and folds[what].text.startswith("Show")
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
    assert not browser.find_element(By.CSS_SELECTOR, ".leaflet-control-layers-list").is_displayed()
    folded = covered_share(browser)
    keep(browser, tmp_path, f"glance_folded_{width}.png")
    assert folded < 0.06, folded
    for what in ("legend", "layers"):
        folds[what].click()
    assert covered_share(browser) >= folded
    assert [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
    assert not console_errors(browser)
    browser.switch_to.default_content()


def lightness(css: str) -> float:
    """Relative luminance (sRGB weights, not linearised: enough to order) of a CSS rgb()/rgba()."""
    r, g, b = (float(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
def test_every_legend_gives_its_class_breaks_and_tenths_are_sequential(server, browser, demo, england_store,
                                                                        tmp_path, width, height):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    from geo.views import map_table
    from geo.views.analysis import Extent

    viewport(browser, width, height)
    for indicator, lad in (("browser-uec01", "E06000055"), ("browser-ora01", "E06000055")):
        browser.get(f"{server}/map/frame?lad={lad}&indicator={indicator}")
        wait_for(browser, map_ready)
        views = Select(browser.find_element(By.ID, "gapmap-view"))
        for key in [o.get_attribute("value") for o in views.options]:
            views.select_by_value(key)
            legend = browser.find_element(By.CSS_SELECTOR, f'.gapmap-legend[data-view="{key}"]')
            rows = [li.text for li in legend.find_elements(By.CSS_SELECTOR, "li")]
            if key in ("main", "smoothed", "ward"):  # measured values: each class its range
                assert all(re.match(r"^-?[\d,.]+( to -?[\d,.]+)?$", r) for r in rows[:-1]), (key, rows)
            elif key in ("dec", "decicb"):  # tenths: one to ten, decile 1 (most deprived) darkest, then lighter
                assert rows[0] == "Decile 1 (most deprived)" and rows[9] == "Decile 10 (least deprived)"
                shades = [lightness(s.value_of_css_property("background-color"))
                          for s in legend.find_elements(By.CSS_SELECTOR, "li .swatch")][:10]
                assert all(a < b for a, b in zip(shades, shades[1:])), shades
            elif key == "bivariate":  # the 3 x 3 grid with the tercile breaks of both measures
                b = map_table.map_table(england_store, indicator, Extent("lad", lad)).bivariate
                rows = [e.text for e in legend.find_elements(By.CSS_SELECTOR, 'th.break[scope="row"]')]
                columns = [e.text for e in legend.find_elements(By.CSS_SELECTOR, 'th.break[scope="col"]')]
                assert rows == b.deprivation_labels[::-1] and columns == b.activity_labels
                assert all(re.match(r"^[\d,.]+( to [\d,.]+)?$", t) for t in rows + columns), rows + columns
                assert legend.is_displayed() and all(e.is_displayed() for e in
                                                     legend.find_elements(By.CSS_SELECTOR, "th.break"))
            assert rows, key
            keep(browser, tmp_path, f"glance_legend_{indicator}_{key}_{width}.png")
    assert not console_errors(browser)


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", SIZES)
def test_statement_funnel_axes_are_fitted_to_its_points(server, browser, demo, tmp_path, width, height):
    from selenium.webdriver.common.by import By

    viewport(browser, width, height)
    browser.get(f"{server}/statement/UEC01?icb=E54000024")
    svg = browser.find_element(By.XPATH, "//h2[contains(., 'funnel plot')]/following-sibling::*[local-name()='svg'][1]")
    browser.execute_script("arguments[0].scrollIntoView()", svg)
    # the plotted points (matplotlib's scatter markers) against the axes' box, in screen pixels
    spans = browser.execute_script(
        "var svg = arguments[0], axes = svg.querySelector('#patch_2').getBoundingClientRect();"
        "var pts = Array.prototype.map.call(svg.querySelectorAll('g[id^=PathCollection] use'), function (u) {"
        " var r = u.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; });"
        "var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });"
        "return {n: pts.length, x: (Math.max.apply(null, xs) - Math.min.apply(null, xs)) / axes.width,"
        " y: (Math.max.apply(null, ys) - Math.min.apply(null, ys)) / axes.height,"
        " inside: pts.every(function (p) { return p[0] >= axes.left - 1 && p[0] <= axes.right + 1 &&"
        " p[1] >= axes.top - 1 && p[1] <= axes.bottom + 1; })};", svg)
    # every point inside the axes, spread over most of the height and width (the x axis once ran to 100,000
    # so that every ward sat at zero)
    assert spans["n"] > 20 and spans["inside"], spans
    assert spans["y"] > 0.4 and spans["x"] > 0.6, spans
    keep(browser, tmp_path, f"glance_funnel_{width}.png")
