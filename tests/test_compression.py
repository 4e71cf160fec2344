"""Static files and pages sent compressed and cached (issue 21 item 1): gzip when asked for,
versioned addresses kept a year, others revalidated by ETag, nothing outside static/ served."""
import gzip
import re

import pytest

from app import create_app


@pytest.fixture(scope="module")
def client(fixture_store):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001", "TESTING": True,
                      "SINGLE_USER": True})
    return app.test_client()


GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_static_script_is_gzipped_versioned_and_revalidated(client):
    from app import PROJECT_ROOT

    plain = (PROJECT_ROOT / "static/vendor/leaflet/leaflet.js").read_bytes()
    raw = client.get("/static/vendor/leaflet/leaflet.js")
    assert raw.status_code == 200 and raw.get_data() == plain and "Content-Encoding" not in raw.headers
    assert raw.headers["Cache-Control"] == "no-cache" and raw.headers["ETag"]  # no version: revalidate
    packed = client.get("/static/vendor/leaflet/leaflet.js", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == plain and len(packed.get_data()) < len(plain) / 2
    assert packed.headers["ETag"] != raw.headers["ETag"]  # two representations, two tags
    assert packed.mimetype in ("text/javascript", "application/javascript")
    again = client.get("/static/vendor/leaflet/leaflet.js", headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()
    # the page's own links carry the file's version, and such an address is kept a year
    home = client.get("/").get_data(as_text=True)
    link = re.search(r'href="(/static/css/gapmap.css\?v=[0-9a-f]+)"', home).group(1)
    kept = client.get(link, headers=GZIP)
    assert kept.status_code == 200 and kept.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.get("/static/css/gapmap.css?v=0000000000000000")
    assert stale.headers["Cache-Control"] == "no-cache"  # an old address is not kept a year


def test_nothing_outside_static_is_served(client):
    for path in ("/static/../app/__init__.py", "/static/%2e%2e/app/__init__.py", "/static/nope.js",
                 "/static/js"):
        assert client.get(path).status_code == 404, path


def test_map_frame_links_versioned_scripts_and_revalidates(client):
    frame = client.get("/map/frame?lad=E06000001&indicator=imd_score", headers=GZIP)
    assert frame.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(frame.get_data()).decode()
    for name in ("vendor/leaflet/leaflet.js", "js/gapmap-map.js", "css/map.css"):
        assert re.search(rf'"/static/{re.escape(name)}\?v=[0-9a-f]{{16}}"', html), name
    again = client.get("/map/frame?lad=E06000001&indicator=imd_score",
                       headers={**GZIP, "If-None-Match": frame.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()
    other = client.get("/map/frame?lad=E06000001&indicator=imd_score&k=4",
                       headers={**GZIP, "If-None-Match": frame.headers["ETag"]})
    assert other.status_code == 200  # another map, another tag


def test_pages_and_json_are_gzipped_when_asked(client):
    page = client.get("/map?icb=E54000001&indicator=imd_score", headers=GZIP)
    assert page.headers["Content-Encoding"] == "gzip" and "<h1>" in gzip.decompress(page.get_data()).decode()
    plain = client.get("/map?icb=E54000001&indicator=imd_score")
    assert "Content-Encoding" not in plain.headers and "<h1>" in plain.get_data(as_text=True)


def test_lsoa_layer_is_gzipped_and_revalidated_by_its_version(client):
    import json

    url = "/api/lsoas.geojson?icb=E54000001&indicator=imd_score"
    layer = client.get(url, headers=GZIP)
    assert layer.headers["Content-Encoding"] == "gzip" and layer.headers["ETag"]
    assert len(json.loads(gzip.decompress(layer.get_data()))["features"]) == 6
    again = client.get(url, headers={**GZIP, "If-None-Match": layer.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()
    plain = client.get(url, headers={"If-None-Match": layer.headers["ETag"]})  # another encoding, another tag
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers and plain.headers["ETag"] != layer.headers["ETag"]
    assert "Accept-Encoding" in plain.headers["Vary"] and "Cookie" in plain.headers["Vary"]
