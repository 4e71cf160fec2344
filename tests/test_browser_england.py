"""England's map in a real browser (issue 21 item 1): its 33,755 LSOAs drawn on one canvas
(static/js/gapmap-canvas.js), restyled by "Colour the LSOAs by", with tooltips that name the LSOA
under the pointer and the table view listing every LSOA; no console error."""
import pytest
import shapely

from tests.test_browser import (browser, canvas_colours, canvas_shapes, console_errors, hover, map_ready,  # noqa: F401
                                server, tooltips, viewport, wait_for)


@pytest.mark.mirror
def test_england_draws_on_one_canvas_restyles_and_names_the_lsoa_under_the_pointer(server, browser, england_store,
                                                                                  tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    console_errors(browser)
    viewport(browser, 1366, 768)
    browser.get(f"{server}/map/frame?extent=england&indicator=imd_score")
    wait_for(browser, map_ready, 120)
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "canvas.gapmap-canvas").get_attribute("data-drawn"))
    assert not browser.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")  # no SVG path per LSOA
    assert browser.execute_script("return window.gapmapLsoas.getLayers().length") == 33755
    assert canvas_shapes(browser) == 33755  # all of England in view: every LSOA drawn
    main = canvas_colours(browser)
    painted = sum(canvas_colours(browser, least=1).values())
    size = browser.execute_script("var s = window.gapmapLsoas._map.getSize(); return s.x * s.y")
    assert painted > 0.1 * size  # England covers a good part of the frame (the canvas has a margin beyond it)
    # the largest LSOA: the layer finds it under a point inside it, and the tooltip names it
    lsoas = england_store.lsoas(columns=["lsoa21cd"], geometry=True)
    biggest = lsoas.iloc[int(shapely.area(lsoas.geometry.values).argmax())]  # in square degrees: fine for a maximum
    inner = shapely.maximum_inscribed_circle(biggest.geometry).coords[0]
    found = browser.execute_script("var s = window.gapmapLsoas._at(L.latLng(arguments[1], arguments[0]));"
                                   "return s && s.feature.properties.c", inner[0], inner[1])
    assert found == biggest["lsoa21cd"]
    hover(browser, inner)
    wait_for(browser, lambda d: biggest["lsoa21cd"] in tooltips(d))
    # IMD deciles: the canvas is drawn again in the deciles' colours
    Select(browser.find_element(By.ID, "gapmap-view")).select_by_value("dec")
    wait_for(browser, lambda d: canvas_colours(d) != main)
    browser.save_screenshot(str(tmp_path / "england_deciles.png"))
    # the table view lists every LSOA
    browser.find_element(By.ID, "gapmap-table-button").click()
    assert wait_for(browser, lambda d: d.execute_script(
        "return document.querySelectorAll('#gapmap-table tbody tr').length")) == 33755
    assert not console_errors(browser)
