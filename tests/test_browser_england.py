"""England's map in a real browser (issue 21 item 1): its 33,755 LSOAs drawn on one canvas
(static/js/gapmap-canvas.js), restyled by "Colour the LSOAs by", with tooltips that name the LSOA
under the pointer and the table view listing every LSOA; no console error."""
import pytest
import shapely

from tests.test_browser import browser, console_errors, map_ready, server, viewport, wait_for  # noqa: F401


def canvas_colours(driver) -> dict:
    """The canvas's opaque-enough pixels, counted by colour (rounded to 16 levels a channel)."""
    return driver.execute_script(
        "var c = document.querySelector('canvas.gapmap-canvas'), d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data, n = {};"
        "for (var i = 0; i < d.length; i += 4) { if (d[i + 3] < 100) { continue; }"
        " var k = (d[i] >> 4) + ',' + (d[i + 1] >> 4) + ',' + (d[i + 2] >> 4); n[k] = (n[k] || 0) + 1; }"
        "return n;")


@pytest.mark.mirror
def test_england_draws_on_one_canvas_restyles_and_names_the_lsoa_under_the_pointer(server, browser, england_store,
                                                                                  tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    console_errors(browser)
    viewport(browser, 1366, 768)
    browser.get(f"{server}/map/frame?extent=england&indicator=imd_score")
    wait_for(browser, map_ready, 120)
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "canvas.gapmap-canvas").get_attribute("data-drawn"))
    assert not browser.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")  # no SVG path per LSOA
    assert browser.execute_script("return window.gapmapLsoas.getLayers().length") == 33755
    main = canvas_colours(browser)
    painted = sum(main.values())
    size = browser.execute_script("var c = document.querySelector('canvas.gapmap-canvas'); return c.width * c.height")
    assert painted > 0.1 * size  # England covers a good part of the frame
    # the largest LSOA: the layer finds it under a point inside it, and the tooltip names it
    lsoas = england_store.lsoas(columns=["lsoa21cd"], geometry=True)
    biggest = lsoas.iloc[int(shapely.area(lsoas.geometry.values).argmax())]  # in square degrees: fine for a maximum
    inner = shapely.maximum_inscribed_circle(biggest.geometry).coords[0]
    found = browser.execute_script("var s = window.gapmapLsoas._at(L.latLng(arguments[1], arguments[0]));"
                                   "return s && s.feature.properties.c", inner[0], inner[1])
    assert found == biggest["lsoa21cd"]
    point = browser.execute_script("var p = window.gapmapLsoas._map.latLngToContainerPoint([arguments[1], arguments[0]]);"
                                   "return [p.x, p.y]", inner[0], inner[1])
    box = browser.find_element(By.CSS_SELECTOR, ".leaflet-container")
    ActionChains(browser).move_to_element_with_offset(box, int(point[0] - box.size["width"] / 2),
                                                      int(point[1] - box.size["height"] / 2)).perform()
    wait_for(browser, lambda d: biggest["lsoa21cd"] in "".join(t.text for t in d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip")))
    # IMD deciles: the canvas is drawn again in the deciles' colours
    Select(browser.find_element(By.ID, "gapmap-view")).select_by_value("dec")
    wait_for(browser, lambda d: canvas_colours(d) != main)
    browser.save_screenshot(str(tmp_path / "england_deciles.png"))
    # the table view lists every LSOA
    browser.find_element(By.ID, "gapmap-table-button").click()
    assert wait_for(browser, lambda d: d.execute_script(
        "return document.querySelectorAll('#gapmap-table tbody tr').length")) == 33755
    assert not console_errors(browser)
