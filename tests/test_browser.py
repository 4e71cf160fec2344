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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, to fail on any error
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
    from selenium.webdriver.support.select import Select

    Select(browser.find_element(By.ID, "gapmap-view")).select_by_visible_text("Gi* hot and cold spots")
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
    from geo.views.analysis import Extent

    page = tmp_path / "offline.html"
    page.write_text(offline_page(fixture_store, "imd_score", Extent("icb", "E54000001")), encoding="utf-8")
    text = page.read_text()
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="http', text)  # everything inline
    assert "<title>Index of Multiple Deprivation 2025: NHS Alpha ICB (Gapmap)</title>" in text
    assert "window.Gapmap" in text or "root.Gapmap" in text  # the page's own script, inlined
    out = chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", page.as_uri())
    paths = re.findall(r"<path[^>]*leaflet-interactive[^>]*>", out.stdout)
    assert len([p for p in paths if 'fill="none"' not in p]) == 6  # the ICB's six LSOAs


# --- the map page as a place team uses it (issue 14) -------------------------------------------

AXE = os.path.join(os.path.dirname(__file__), "vendor", "axe-core", "axe.min.js")
POINT_LAYERS = {"Schools: primary": "#005eb8", "Schools: secondary": "#005eb8", "Schools: other": "#005eb8",
                "GP practices": "#007f3b", "Hospitals": "#da291c"}
SHOTS = os.environ.get("GAPMAP_SCREENSHOTS", "").strip()  # a folder to keep the screenshots in


def console_errors(driver) -> list[str]:
    """Errors written to the console since the last call (reading the log empties it)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


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
    """Circles filled with a layer's colour on the map, plus cluster icons (schools are clustered)."""
    return driver.execute_script(
        "var c = arguments[0]; return document.querySelectorAll('.marker-cluster').length + "
        "Array.prototype.filter.call(document.querySelectorAll('path.leaflet-interactive'), "
        "function (p) { return p.getAttribute('fill') === c; }).length;", colour)


@pytest.mark.mirror
@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_every_point_layer_and_view_draws_with_no_console_error(server, browser, tmp_path, width, height):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    console_errors(browser)
    viewport(browser, width, height)
    browser.get(f"{server}/map/frame?lad=E06000032&indicator=acute_morbidity_indicator")
    wait_for(browser, map_ready)
    labels = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    for name, colour in POINT_LAYERS.items():
        box = [label for label in labels if label.text.strip() == name][0].find_element(By.TAG_NAME, "input")
        assert markers_of(browser, colour) == 0 or name.startswith("Schools")
        box.click()  # tick the layer: its markers or clusters are drawn
        wait_for(browser, lambda d: markers_of(d, colour) > 0, timeout=20)
        keep(browser, tmp_path, f"layer_{name.split(':')[-1].strip().replace(' ', '_').lower()}_{width}.png")
        box.click()
        assert not console_errors(browser), name
    views = Select(browser.find_element(By.ID, "gapmap-view"))
    for option in [o.text for o in views.options]:
        views.select_by_visible_text(option)
        legend = [e for e in browser.find_elements(By.CSS_SELECTOR, ".gapmap-legend") if e.is_displayed()]
        assert len(legend) == 1 and option in legend[0].text
        assert "No data" in legend[0].text
        keep(browser, tmp_path, f"view_{views.first_selected_option.get_attribute('value')}_{width}.png")
    assert not console_errors(browser)


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
