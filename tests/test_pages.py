"""The pages a place team reads: NHS codes, names in headings, places clipped to the ICB, search,
the synthetic label through upload and downloads, and the upload form's errors."""
import io
import json
import re
import shutil
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import numpy as np
import pytest

from app import create_app


@pytest.fixture(scope="module")
def client(fixture_store):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001", "TESTING": True,
                      "SINGLE_USER": True})
    return app.test_client()


def heading(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)).split())


# ---- item 4: the NHS code of an ICB works on the web as on the command line ----------------
@pytest.mark.parametrize("code", ["QAA", "qaa", "E54000001"])
def test_nhs_icb_code_is_accepted(client, code):
    page = client.get(f"/map?icb={code}&indicator=imd_score")
    assert page.status_code == 200
    assert "NHS Alpha ICB" in heading(page.get_data(as_text=True))
    frame = client.get(f"/map/frame?icb={code}&indicator=imd_score")
    assert frame.status_code == 200 and '"E01000006"' in frame.get_data(as_text=True)
    assert {p["lad24cd"] for p in client.get(f"/api/places?icb={code}").get_json()} == {"E06000001", "E06000002"}
    assert client.get(f"/targeting.csv?icb={code}&indicator=imd_score").status_code == 200
    home = client.get(f"/?icb={code}").get_data(as_text=True)
    assert re.search(r'<option value="E54000001"\s+selected>', home)


def test_unknown_icb_code_is_refused(client):
    response = client.get("/map?icb=QZZ")
    import html

    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 404 and "no icb with code 'QZZ'" in text and "or QHG (NHS)" in text


# ---- item 8: headings name places; top wards have a unit --------------------------------
def test_headings_show_names_not_codes(client):
    icb = heading(client.get("/map?icb=E54000001&indicator=imd_score").get_data(as_text=True))
    assert "NHS Alpha ICB" in icb and "NHS code QAA" in icb and not icb.split("(")[0].count("E54000001")
    assert not re.search(r"\bICB E54000001\b(?! ?,)", icb.split("(")[0])
    england = heading(client.get("/map?extent=england&indicator=imd_score").get_data(as_text=True))
    assert "England" in england and "None" not in england and "ENGLAND" not in england
    place = heading(client.get("/map?lad=E06000002&indicator=imd_score").get_data(as_text=True))
    assert "Betaford" in place
    ward = heading(client.get("/map?ward=E05000001&indicator=imd_score").get_data(as_text=True))
    assert ward.endswith("Ward 1 (ward in Alphaton, E05000001)")


def test_top_wards_have_a_unit(client):
    page = client.get("/map/panel?icb=E54000001&indicator=imd_score").get_data(as_text=True)
    wards = re.search(r'<ol id="top-wards">(.*?)</ol>', page, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", wards, re.S)
    assert len(items) == 3  # the ICB's LSOAs 1-6 lie in wards E05000001-3
    for item in items:
        assert re.search(r": [\d.,]+\s+\(score, mean of 2 LSOAs\)$", " ".join(item.split())), item


# ---- item 5: places and wards of an ICB are clipped to its LSOAs ---------------------------
def test_home_offers_places_with_their_lsoas_in_the_icb(client):
    page = client.get("/?icb=E54000002").get_data(as_text=True)
    # ICB QBB holds LSOAs 7 and 8 of Betaford's 5-8: half of it, offered, saying so
    assert "Betaford (4 LSOAs, 2 of them in this ICB)" in page
    page = client.get("/?icb=E54000001").get_data(as_text=True)
    assert "Alphaton (4 LSOAs)</option>" in page and "Betaford (4 LSOAs, 2 of them in this ICB)" in page


def test_places_mostly_outside_the_icb_are_not_offered(fixture_store):
    from geo.views.extent_areas import places_of_icb

    table = places_of_icb(fixture_store, "E54000002")
    assert table[["lad24cd", "lsoas", "lsoas_in_icb", "offered"]].values.tolist() == [["E06000002", 4, 2, True]]
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "TESTING": True, "SINGLE_USER": True})
    listed = app.test_client().get("/api/places?icb=QBB").get_json()
    assert listed == [{"lad24cd": "E06000002", "lad24nm": "Betaford", "lsoas": 4, "lsoas_in_icb": 2, "offered": True}]
    table = places_of_icb(fixture_store, "E54000001").set_index("lad24cd")
    assert table.loc["E06000001", "lsoas_in_icb"] == 4 and table.loc["E06000002", "lsoas_in_icb"] == 2


def test_outlines_are_dissolved_from_the_extents_own_lsoas(fixture_store):
    from geo.views.extent_areas import outlines

    lsoas = fixture_store.lsoas(geometry=True).set_index("lsoa21cd")
    places = outlines(fixture_store, "lad", icb="E54000001").set_index("lad24cd")
    assert places["lsoas"].to_dict() == {"E06000001": 4, "E06000002": 2}
    # Betaford's outline on the Alpha ICB map covers its LSOAs 5 and 6 only, not 7 and 8 (in QBB)
    inside = lsoas.loc[["E01000005", "E01000006"]].union_all()
    assert places.loc["E06000002", "geometry"].symmetric_difference(inside).area < 1e-12
    full = fixture_store.areas("lad", geometry=True).set_index("lad24cd").loc["E06000002", "geometry"]
    assert full.area > places.loc["E06000002", "geometry"].area * 1.5
    wards = outlines(fixture_store, "ward", icb="E54000001")
    assert wards.set_index("ward24cd")["lsoas"].to_dict() == {"E05000001": 2, "E05000002": 2, "E05000003": 2}


@pytest.mark.mirror
def test_blmk_offers_four_places_and_draws_wards_inside(england_store):
    from geo.views.extent_areas import outlines, places_of_icb

    app = create_app({"GAPMAP_STORE": str(england_store.root), "TESTING": True, "SINGLE_USER": True})
    page = app.test_client().get("/?icb=QHG").get_data(as_text=True)
    options = re.findall(r'<option value="(E0[6-9]\d+)">([^<]+)</option>', page)
    assert [name for _, name in options] == ["Bedford (117 LSOAs)", "Central Bedfordshire (175 LSOAs)",
                                            "Luton (125 LSOAs)", "Milton Keynes (166 LSOAs)"]
    assert "4 of Buckinghamshire's 334 LSOAs" in " ".join(page.split())
    map_page = app.test_client().get("/map?icb=QHG&indicator=imd_score").get_data(as_text=True)
    assert heading(map_page).endswith("NHS Bedfordshire, Luton and Milton Keynes ICB (ICB E54000024, NHS code QHG)")
    assert places_of_icb(england_store, "E54000024")["offered"].sum() == 4
    wards = outlines(england_store, "ward", icb="E54000024").set_index("ward24cd")
    assert len(wards) == 99 and wards["lsoas"].sum() == 587
    assert wards.loc["E05013146", "lsoas"] == 4  # Great Brickhill: 4 of its 7 LSOAs are in BLMK
    icb = england_store.areas("icb", geometry=True).set_index("icb24cd").loc["E54000024", "geometry"]
    assert wards.union_all().difference(icb).area < 1e-9  # nothing outside the ICB


# ---- item 7: search -------------------------------------------------------------------------
def test_search_results_name_their_place_and_the_page_has_a_search_box(client):
    page = client.get("/search?q=alpha&indicator=imd_score").get_data(as_text=True)
    assert re.search(r'<input id="q" name="q" type="search" value="alpha"', page)
    assert re.search(r">Alpha Primary</a>, Alphaton <span class=\"kind\">school</span>", page)
    assert re.search(r">Alphaton 000A \(E01000001\)</a>, Alphaton", page)


def test_out_of_coverage_postcode_names_the_areas_held(client, fixture_store):
    from geo.views.search import postcode_coverage

    held = postcode_coverage(fixture_store)
    assert held and "SW" not in held
    page = " ".join(client.get("/search?q=sw1a1aa").get_data(as_text=True).split())
    assert "Postcode SW1A 1AA is not in this build" in page
    assert f"postcode areas {', '.join(held)}" in page or f"areas {', '.join(held)}" in page
    assert "Nothing found" not in page
    assert "Nothing found for" in client.get("/search?q=zzzz").get_data(as_text=True)


def test_postcode_and_school_results_pin_the_map(client):
    found = client.get("/search?q=lu1 1aa&indicator=imd_score")
    assert found.status_code == 302
    location = found.headers["Location"]
    assert "focus=E01000001" in location and "pin=postcode:LU11AA" in location
    frame = client.get(location.replace("/map?", "/map/frame?")).get_data(as_text=True)
    assert "L.marker(" in frame and "Postcode LU1 1AA" in frame
    # the found LSOA's outline is drawn in its own pane, above the LSOAs' (overlay pane, z-index 400)
    assert re.search(r'createPane\(\s*"gapmap-found"\);\s*\S+\.style\.zIndex = 450;', frame)
    assert '"pane": "gapmap-found"' in frame
    school = client.get("/search?q=Alpha Primary").headers["Location"]
    assert "pin=school:" in school
    assert "(school)" in client.get(school.replace("/map?", "/map/frame?")).get_data(as_text=True)
    assert client.get("/map/frame?lad=E06000001&pin=<script>").status_code == 400


# ---- item 3: the synthetic label follows the data --------------------------------------------
COUNTS = b"lsoa21cd,count\n" + b"".join(f"E0100000{i},{10 * i}\n".encode() for i in range(1, 9))


def upload(client, name, file, sidecar=None, **form):
    from tests.test_app import csrf

    data = {"file": file, "name": name, "measure": "Test attendances", "csrf_token": csrf(client), **form}
    if sidecar is not None:
        data["sidecar"] = sidecar
    return client.post("/upload", data=data, content_type="multipart/form-data")


def test_csv_with_its_json_label_stays_synthetic_with_the_box_unticked(client, fixture_store):
    from geo.store.datasets import DatasetStore

    label = io.BytesIO(json.dumps({"synthetic": True, "generator": "gapmap demo-data"}).encode())
    response = upload(client, "synthetic-csv", (io.BytesIO(COUNTS), "ae.csv"), (label, "ae.csv.json"))
    assert response.status_code == 200 and "SYNTHETIC DATA" in response.get_data(as_text=True)
    assert DatasetStore(fixture_store).get("synthetic-csv").meta["synthetic"] is True
    # the targeting list says so in its first line; the map page and every view of the frame too
    body = client.get("/targeting.csv?icb=E54000001&indicator=synthetic-csv").get_data(as_text=True)
    assert body.startswith("# SYNTHETIC DATA")
    frame = client.get("/map/frame?icb=E54000001&indicator=synthetic-csv").get_data(as_text=True)
    assert 'class="gapmap-synthetic"' in frame  # outside the legends: seen in the bivariate view too
    banner = re.search(r'<div class="gapmap-synthetic"[^>]*>([^<]*)<', frame).group(1)
    assert "SYNTHETIC DATA" in banner
    assert "SYNTHETIC DATA" in client.get("/map?icb=E54000001&indicator=synthetic-csv").get_data(as_text=True)


def test_bivariate_and_local_statistics_carry_the_synthetic_mark(client, fixture_store):
    from geo.views.analysis import Extent, bivariate, local_statistic

    label = io.BytesIO(json.dumps({"synthetic": True}).encode())
    assert upload(client, "synthetic-stats", (io.BytesIO(COUNTS), "s.csv"), (label, "s.csv.json")).status_code == 200
    extent = Extent("icb", "E54000001")
    for statistic in ("bivariate", "gi-star", "local-moran"):
        frame = local_statistic(fixture_store, "synthetic-stats", extent, statistic, permutations=99)
        assert frame.attrs["synthetic"] is True, statistic
    assert bivariate(fixture_store, "synthetic-stats", extent).attrs["synthetic"] is True
    assert local_statistic(fixture_store, "imd_score", extent, "bivariate", deprivation="income_score",
                           permutations=99).attrs["synthetic"] is False
    body = client.get("/api/statistics?icb=E54000001&indicator=synthetic-stats&stat=bivariate&permutations=99")
    assert body.get_json()["method"]["synthetic"] is True


def test_parquet_label_is_read_and_real_data_stay_unlabelled(client, fixture_store, tmp_path):
    from geo.store.datasets import DatasetStore

    table = pa.table({"lsoa21cd": [f"E0100000{i}" for i in range(1, 9)], "count": list(range(10, 90, 10))})
    path = tmp_path / "p.parquet"
    pq.write_table(table.replace_schema_metadata({b"gapmap:synthetic": b"true"}), path)
    assert upload(client, "synthetic-parquet", (io.BytesIO(path.read_bytes()), "p.parquet")).status_code == 200
    assert DatasetStore(fixture_store).get("synthetic-parquet").meta["synthetic"] is True
    assert upload(client, "real-csv", (io.BytesIO(COUNTS), "real.csv")).status_code == 200
    assert not DatasetStore(fixture_store).get("real-csv").meta["synthetic"]
    body = client.get("/targeting.csv?icb=E54000001&indicator=real-csv").get_data(as_text=True)
    assert "SYNTHETIC" not in body
    frame = client.get("/map/frame?icb=E54000001&indicator=real-csv").get_data(as_text=True)
    assert 'class="gapmap-synthetic"' not in frame


def test_demo_data_without_its_label_is_flagged(client, fixture_store, tmp_path):
    from geo.ingest import synthetic

    table, meta = synthetic.generate(fixture_store, "E54000001", rows=50, seed=3)
    path = synthetic.write(table, meta, tmp_path / "demo.csv")
    response = upload(client, "demo-unlabelled", (io.BytesIO(path.read_bytes()), "demo.csv"))
    assert response.status_code == 200 and 'id="looks-synthetic"' in response.get_data(as_text=True)
    labelled = upload(client, "demo-labelled", (io.BytesIO(path.read_bytes()), "demo.csv"),
                      (io.BytesIO(path.with_name("demo.csv.json").read_bytes()), "demo.csv.json"))
    text = labelled.get_data(as_text=True)
    assert "SYNTHETIC DATA" in text and 'id="looks-synthetic"' not in text


def test_a_bad_label_file_is_refused_with_the_form_kept(client):
    response = upload(client, "bad-label", (io.BytesIO(COUNTS), "ae.csv"), (io.BytesIO(b"not json"), "ae.csv.json"))
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "ae.csv.json: not a JSON label file" in text
    assert 'value="bad-label"' in text and 'value="Test attendances"' in text


# ---- item 8: the upload form's errors --------------------------------------------------------
def test_upload_error_names_the_file_and_the_forms_own_boxes(client):
    data = b"area,admissions_total\nE01000001,5\n"
    response = upload(client, "no-columns", (io.BytesIO(data), "my counts.csv"), shape="aggregated",
                      polarity="higher-is-better", nhs_indicator="UEC01", by_sex="on")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    message = re.search(r'<div class="error" role="alert"><ul><li>(.*?)</li>', text, re.S).group(1)
    assert message.startswith("my_counts.csv:") or message.startswith("my counts.csv:")
    assert "/tmp" not in text and "--column" not in text
    assert "LSOA code column" in message and "Postcode column" in message
    # the form keeps what was filled in
    assert 'value="no-columns"' in text and 'value="Test attendances"' in text
    assert re.search(r'<option value="aggregated"\s+selected>', text)
    assert re.search(r'<option value="higher-is-better"\s+selected>', text)
    assert re.search(r'<option value="UEC01"\s+selected>', text)
    assert re.search(r'name="by_sex"\s+checked', text)
    # a breakdown with no column for it: the roles named as the form's boxes
    data2 = b"lsoa21cd,count\nE01000001,5\n"
    import html

    text = html.unescape(upload(client, "no-age", (io.BytesIO(data2), "c.csv"), shape="records",
                                by_age_band="on").get_data(as_text=True))
    assert "break down by age band: no Age or Age band column found" in text and 'the "Column names" boxes' in text and "--" not in text
    # and the boxes the message names do the job
    fixed = upload(client, "named-columns", (io.BytesIO(data), "my counts.csv"), column_lsoa="area",
                   column_count="admissions_total")
    assert fixed.status_code == 200 and "rows read 1: used 1" in fixed.get_data(as_text=True)


def test_dataset_name_pattern_is_valid_in_chrome(client):
    """Chrome compiles a ``pattern`` with the ``v`` flag, where ``[a-z_-]`` is a syntax error and the
    whole check is silently dropped; run it through V8 (node) the same way."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    page = client.get("/upload").get_data(as_text=True)
    pattern = re.search(r'<input id="name" name="name" required pattern="([^"]+)"', page).group(1)
    import html

    pattern = html.unescape(pattern)
    script = ("const r = new RegExp('^(?:' + process.argv[1] + ')$', 'v');"
              "console.log(JSON.stringify(['ae-2024', 'a_b', '-ae', 'Ae', 'a b', 'x'.repeat(65)].map(s => r.test(s))))")
    out = subprocess.run([node, "-e", script, pattern], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [True, True, False, False, False, False]
    from geo.store.datasets import NAME

    for name, ok in (("ae-2024", True), ("a_b", True), ("-ae", False), ("Ae", False)):
        assert bool(NAME.match(name)) == ok  # the server's own rule agrees


# ---- issue 21 item 1: the map page answers at once; its panel comes on its own ----------------
def test_map_page_arrives_without_its_panel_which_is_fetched_and_cached(client, monkeypatch):
    from app import pages

    pages.PANEL_CACHE.clear()
    computed = []
    real = pages._panel
    monkeypatch.setattr(pages, "_panel", lambda *a: computed.append(a) or real(*a))
    page = client.get("/map?icb=E54000001&indicator=imd_score&scheme=fisher_jenks&k=4&view=hot")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and not computed  # the page computed no panel
    assert "At a glance" not in text and 'aria-busy="true"' in text and "Loading the summary" in text
    assert "Show this map as a table" in text and "/map/frame?" in text  # the table fallback is in the page
    src = re.search(r'data-src="([^"]+)"', text).group(1).replace("&amp;", "&")
    assert src == "/map/panel?icb=E54000001&indicator=imd_score"  # one panel for every colouring
    panel = client.get(src)
    assert panel.status_code == 200 and "At a glance" in panel.get_data(as_text=True) and len(computed) == 1
    assert panel.headers["Cache-Control"].startswith("private") and panel.headers["ETag"]
    again = client.get(src, headers={"If-None-Match": panel.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data() and len(computed) == 1
    client.get(src)
    assert len(computed) == 1  # cached per store build and dataset version
    # without scripts the reader can ask for the page with its panel inline
    inline = re.search(r'<noscript><p><a href="([^"]+)"', text).group(1).replace("&amp;", "&")
    assert "panel=inline" in inline and "scheme=fisher_jenks" in inline
    assert "At a glance" in client.get(inline).get_data(as_text=True)


def test_a_cold_panel_waits_for_the_map_being_drawn_before_its_tables(client, monkeypatch):
    """On two cores the map a user looks at comes first: while a map page is drawn cold, a side
    panel reads its statistics and then waits (at most MAPS_FIRST_SECONDS) before its group tables."""
    import threading

    from app import pages
    from geo.views import map_table

    order = []
    real_render, real_after = pages._render_map, map_table.after_maps

    def render(*a, **k):
        order.append("map drawing")
        out = real_render(*a, **k)
        order.append("map drawn")
        return out

    def after(seconds=map_table.MAPS_FIRST_SECONDS):
        order.append("panel waits")
        done = real_after(seconds)
        order.append("panel goes on after the map" if release.is_set() else "panel did not wait")
        return done

    monkeypatch.setattr(pages, "_render_map", render)
    monkeypatch.setattr(map_table, "after_maps", after)
    pages.PANEL_CACHE.clear()
    pages.MAP_CACHE.clear()
    held = threading.Event()
    release = threading.Event()

    def hold():  # a map being drawn in another request
        with map_table.drawing_map():
            held.set()
            release.wait(10)

    other = threading.Thread(target=hold)
    other.start()
    held.wait(5)
    assert real_after(0.05) is False  # a map is being drawn
    threading.Timer(0.3, release.set).start()
    panel = client.get("/map/panel?icb=E54000001&indicator=imd_score")
    other.join(5)
    assert panel.status_code == 200 and "At a glance" in panel.get_data(as_text=True)
    assert order[:2] == ["panel waits", "panel goes on after the map"] and real_after(0.05) is True
    client.get("/map/frame?icb=E54000001&indicator=imd_score&scheme=quantiles&k=4")
    assert order[-2:] == ["map drawing", "map drawn"]


def test_maps_of_two_indicators_share_one_copy_of_the_rings_which_equal_the_geometry(client, fixture_store):
    import json as json_module

    import shapely

    from app import map_layers, pages
    from geo.views import map_table
    from geo.views.analysis import Extent

    pages.MAP_CACHE.clear()
    map_layers.RINGS.clear()

    def rings(indicator):
        text = client.get(f"/map/frame?icb=E54000001&indicator={indicator}&scheme=quantiles&k=4").get_data(as_text=True)
        data = json_module.loads(re.search(r'<script type="application/json" id="gapmap-data">(.*?)</script>', text,
                                           re.S).group(1))
        return data["packed"]["rings"], data["scale"]

    first, scale = rings("imd_score")
    second, _ = rings("income_score")
    assert first == second and len(map_layers.RINGS) == 1
    geometry = map_table.lsoa_geometry(fixture_store, Extent("icb", "E54000001"))
    assert len(first) == len(geometry)
    for parts, polygon in zip(first, geometry.geometry):  # decode the first ring of each LSOA independently
        q = np.cumsum(np.asarray(parts[0][0], dtype=np.int64).reshape(-1, 2), axis=0) / scale
        exterior = shapely.get_exterior_ring(shapely.get_geometry(polygon, 0)) if polygon.geom_type == "MultiPolygon" \
            else polygon.exterior
        np.testing.assert_allclose(q, np.asarray(exterior.coords)[:, :2], atol=1.0 / scale)


def test_a_starting_server_makes_englands_rings_which_the_first_england_map_uses(client, monkeypatch):
    from app import map_layers, pages, warm

    pages.MAP_CACHE.clear()
    map_layers.RINGS.clear()
    warm(client.application).join(60)
    assert len(map_layers.RINGS) == 1
    written = []
    real = map_layers._geometries_as_json
    monkeypatch.setattr(map_layers, "_geometries_as_json", lambda *a, **k: written.append(1) or real(*a, **k))
    page = client.get("/map/frame?extent=england&indicator=imd_score")
    assert page.status_code == 200 and '"rings":[' in page.get_data(as_text=True)
    assert not written and len(map_layers.RINGS) == 1  # the rings made at start, not written again


def test_panel_of_an_unknown_place_is_refused_with_the_reason(client):
    response = client.get("/map/panel?icb=QZZ&indicator=imd_score")
    assert response.status_code == 404 and "no icb with code" in response.get_data(as_text=True)


def test_an_england_map_sends_its_lsoa_codes_as_a_prefix_and_differences():
    """The codes decode to the map's LSOAs, in order (decoded here independently of the page's script)."""
    from app.map_layers import _packed_codes

    codes = ["E01000001", "E01000002", "E01000010", "E01033999", "E01034000"]
    packed = _packed_codes(codes)
    assert packed == {"prefix": "E01", "digits": 6, "q": [1, 1, 8, 33989, 1]}
    numbers = np.cumsum(packed["q"])
    assert [f"{packed['prefix']}{n:06d}" for n in numbers] == codes
    assert _packed_codes(["E01000001", "W01000002"]) is None  # two prefixes: sent as they are
    assert _packed_codes(["E01000001", None]) is None
