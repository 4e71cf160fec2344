"""The web service through Flask's test client, on the fixture store."""
import json
import re

import pytest

from app import create_app
from geo.store.datasets import DatasetStore


@pytest.fixture(scope="module")
def client(fixture_store):
    # single-user (no sign-in: everyone is the local admin), as `gapmap serve` is on loopback
    app = create_app({**fixture_store.environment(), "DEFAULT_ICB": "E54000001", "TESTING": True,
                      "SINGLE_USER": True})
    return app.test_client()


def csrf(client, page="/upload") -> str:
    """The CSRF token the forms of ``page`` carry (every POST needs it)."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)


def test_home_lists_icbs_places_and_indicators(client):
    page = client.get("/?icb=E54000001")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "NHS Alpha ICB" in text and "Alphaton" in text and "imd_score" in text
    assert "Open Government Licence" in text


def test_map_page_and_frame_work_offline(client):
    page = client.get("/map?lad=E06000001&indicator=imd_score")
    assert page.status_code == 200 and "/map/frame?" in page.get_data(as_text=True)
    frame = client.get("/map/frame?lad=E06000001&indicator=imd_score")
    html = frame.get_data(as_text=True)
    assert frame.status_code == 200
    assert "/static/vendor/leaflet/leaflet.js" in html
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "unpkg", "bootstrapcdn"):
        assert cdn not in html
    assert "Open Government Licence" in html and "No data" in html
    for code in ("E01000001", "E01000002", "E01000003", "E01000004"):  # every LSOA of the place is drawn
        assert f'"{code}"' in html
    # the map's script is a static file; its data is JSON in the page, and legends are HTML
    assert "/static/js/gapmap-map.js" in html and "/static/css/map.css" in html
    data = map_data(html)
    assert [v["key"] for v in data["views"]] == ["main", "hot", "lisa", "dec", "decicb", "rural"]
    assert data["labels"]["v"] == "Index of Multiple Deprivation 2025"  # readable, not the column imd_score
    assert len(data["packed"]["rings"]) == 4 and data["map"] in html
    assert html.count('class="gapmap-legend"') == len(data["views"])
    # the hot-spot legend says its confidence levels are two-sided, as ArcGIS grades them (issue 21)
    hot = html.split('data-view="hot"')[1].split("</div>")[0]
    assert "Confidence levels two-sided" in hot and "1.645, 1.960, 2.576" in hot
    assert "<script" not in html.split('id="gapmap-data">')[1].split("</script>")[0]
    assert '<html lang="en-GB">' in html and "user-scalable=no" not in html
    assert "<title>Index of Multiple Deprivation 2025: Alphaton (Gapmap)</title>" in html
    assert '<link rel="icon" href="data:image/svg+xml' in html  # no request for /favicon.ico


def map_data(html: str) -> dict:
    import re

    block = re.search(r'<script type="application/json" id="gapmap-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def test_map_layers_carry_keys_for_the_address_and_england_has_no_empty_layer_box(client):
    html = client.get("/map/frame?icb=E54000001&indicator=imd_score").get_data(as_text=True)
    overlays = [o["key"] for o in map_data(html)["overlays"]]
    assert overlays == ["wards", "outline", "schools-primary", "schools-secondary", "schools-special", "schools-other", "gps",
                        "hospitals"]
    assert "L.control.layers(" in html
    england = client.get("/map/frame?extent=england&indicator=imd_score").get_data(as_text=True)
    assert map_data(england)["overlays"] == [] and "L.control.layers(" not in england
    assert "maxZoom" in html and '"zoomSnap": 0.25' in html  # markercluster needs a maxZoom; fractional fit


def test_ward_map(client):
    frame = client.get("/map/frame?ward=E05000001&indicator=imd_score")
    assert frame.status_code == 200
    html = frame.get_data(as_text=True)
    assert '"E01000001"' in html and '"E01000003"' not in html
    assert client.get("/map?ward=E05000001&indicator=imd_score").status_code == 200


def test_static_assets_are_served(client):
    for path in ("/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
                 "/static/vendor/jquery/jquery.min.js", "/static/css/gapmap.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


@pytest.mark.parametrize("url, status, words", [
    ("/map?lad=E06999999", 404, "no lad with code"),
    ("/map?lad=E06000001&indicator=nope", 404, "unknown indicator"),
    ("/map?lad=E06000001&scheme=rainbow", 400, "scheme must be one of"),
    ("/map?lad=E06000001&k=99", 400, "k must be between"),
    ("/map?lad=E06000001&icb=E54000001", 400, "give one of"),
    ("/api/lsoas.geojson?lad=E06999999", 404, "no lad with code"),
    ("/api/statistics?lad=E06000001&stat=kriging", 400, "stat must be"),
    ("/api/statistics?lad=E06000001&permutations=x", 400, "whole numbers"),
    ("/api/places?lad=E06000001", 400, "places are listed for an icb"),
    ("/no/such/page", 404, "Not Found"),
])
def test_errors_say_what_is_wrong(client, url, status, words):
    response = client.get(url)
    assert response.status_code == status
    assert words.lower() in response.get_data(as_text=True).lower()


def test_api(client):
    indicators = client.get("/api/indicators").get_json()
    assert {"id": "imd_score", "label": indicators[[i["id"] for i in indicators].index("imd_score")]["label"]} \
        in indicators
    places = client.get("/api/places?icb=E54000001").get_json()
    assert {p["lad24cd"] for p in places} == {"E06000001", "E06000002"}
    layer = client.get("/api/lsoas.geojson?icb=E54000001&indicator=imd_score")
    data = json.loads(layer.get_data(as_text=True))
    assert layer.mimetype == "application/geo+json" and len(data["features"]) == 6
    assert "Open Government Licence" in data["attribution"]
    stats = client.get("/api/statistics?icb=E54000001&indicator=imd_score&stat=gi-star&permutations=99").get_json()
    assert len(stats["rows"]) == 6 and stats["method"]["statistic"] == "Getis-Ord Gi*"
    moran = client.get("/api/statistics?icb=E54000001&stat=moran").get_json()
    assert moran["n"] == 6
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/statistics" in spec["paths"]


def test_side_panel_targeting_and_search(client, fixture_store):
    page = client.get("/map/panel?icb=E54000001&indicator=imd_score").get_data(as_text=True)
    assert "At a glance" in page and "in Core20" in page and "Targeting list" in page
    csv = client.get("/targeting.csv?icb=E54000001&indicator=imd_score")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.get_data(as_text=True)
    lines = body.splitlines()
    assert lines[0].startswith("# Targeting: state-funded primary school") and "Core20" in lines[0]
    assert lines[1] == "kind,type,code,name,ward,lsoa21cd,lsoa21nm,phase,pupils,fsm_percent,why"
    assert "Core20" in body and "Open Government Licence" in body
    assert "attachment; filename=gapmap_targeting_icb_E54000001_imd_score.csv" == csv.headers["Content-Disposition"]
    # a postcode leads straight to the map of its place, zoomed on its LSOA
    found = client.get("/search?q=lu1 1aa&indicator=imd_score")
    assert found.status_code == 302 and "focus=E01000001" in found.headers["Location"]
    frame = client.get("/map/frame?lad=E06000001&indicator=imd_score&focus=E01000001").get_data(as_text=True)
    assert "Found: Alphaton 000A (E01000001)" in frame
    many = client.get("/search?q=alphaton").get_data(as_text=True)
    assert "Alphaton 000A" in many and "Alpha Primary" not in many
    school = client.get("/search?q=Alpha Primary")
    assert school.status_code == 302 and "focus=E01000001" in school.headers["Location"]
    assert client.get("/map?lad=E06000001&focus=<script>").status_code == 400


def test_upload_page_ingests_and_reports(client, fixture_store):
    import io

    assert client.get("/upload").status_code == 200
    data = {"file": (io.BytesIO(b"lsoa21cd,count\nE01000001,5\nW01000001,3\n"), "counts.csv"),
            "name": "uploaded", "measure": "Emergency admissions", "nhs_indicator": "UEC01",
            "csrf_token": csrf(client)}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "rows read 2: used 1, rejected 1" in text and "Welsh LSOA" in text
    indicators = client.get("/api/nhs-indicators").get_json()
    assert len(indicators) == 23
    assert [i for i in indicators if i["metric"] == "UEC01"][0]["datasets"] == "uploaded"
    assert "uploaded" in client.get("/indicators").get_data(as_text=True)
    bad = client.post("/upload", data={"name": "x", "csrf_token": csrf(client)}, content_type="multipart/form-data")
    assert bad.status_code == 400 and "Choose a file" in bad.get_data(as_text=True)
    binary = {"file": (io.BytesIO(bytes(range(256))), "b.csv"), "name": "broken", "csrf_token": csrf(client)}
    refused = client.post("/upload", data=binary, content_type="multipart/form-data")
    assert refused.status_code == 400 and "not a text file" in refused.get_data(as_text=True)


def test_upload_takes_the_definition_and_registrations(client, fixture_store):
    import io

    regs = ("PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,LSOA_CODE,SEX,NUMBER_OF_PATIENTS\n"
            "GP_PRAC_PAT_LIST,01JUL2025,A00001,ALPHA SURGERY,E01000001,ALL,75\n"
            "GP_PRAC_PAT_LIST,01JUL2025,A00001,ALPHA SURGERY,E01000002,ALL,25\n")
    practice = b"practice_code,numerator,denominator\nA00001,30,40\n"
    base = {"name": "bp-control", "measure_type": "proportion", "ages": "18+", "period_type": "snapshot",
            "multiplier": "100"}
    refused = client.post("/upload", data={**base, "file": (io.BytesIO(practice), "bp.csv"), "csrf_token": csrf(client)},
                          content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "the &#34;Registrations by LSOA&#34; box" in text and "/tmp" not in text
    data = {**base, "file": (io.BytesIO(practice), "bp.csv"), "registrations": (io.BytesIO(regs.encode()), "regs.csv"),
            "csrf_token": csrf(client)}
    response = client.post("/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    meta = DatasetStore(fixture_store).get("bp-control").meta
    assert meta["definition"]["measure_type"] == "proportion" and meta["definition"]["age_lo"] == 18
    assert meta["level"] == "practice" and meta["registrations"]["file"] == "regs.csv"
    counts = DatasetStore(fixture_store).get("bp-control").counts().set_index("lsoa21cd")["count"].to_dict()
    assert counts == {"E01000001": 22.5, "E01000002": 7.5}
    DatasetStore(fixture_store).remove("bp-control")


def test_one_rate_unit_on_the_map_page(client, fixture_store):
    """The legend, the tooltip and the panel give an activity rate in the same unit."""
    import io

    rows = "lsoa21cd,count\n" + "".join(f"E0100000{i},{5 * i}\n" for i in range(1, 7))
    data = {"file": (io.BytesIO(rows.encode()), "counts.csv"), "name": "unit-check", "measure": "Admissions",
            "csrf_token": csrf(client)}
    assert client.post("/upload", data=data, content_type="multipart/form-data").status_code == 200
    page = client.get("/map/panel?icb=E54000001&indicator=unit-check").get_data(as_text=True)
    frame = client.get("/map/frame?icb=E54000001&indicator=unit-check").get_data(as_text=True)
    # the definition's unit (Gapmap's default: per 100,000 residents per year) on the legend, tooltip and panel
    assert "per 100,000 residents per year" in map_data(frame)["labels"]["v"]
    assert "per 100,000 residents per year" in page
    assert "1,000 residents" not in page and "1,000 residents" not in frame
    # the bivariate legend: titled, a readable grid, arrows inside the box, and a No data entry
    bivariate = frame.split('class="gapmap-legend gapmap-bivariate"')[1].split('<p class="note">')[0]
    assert '<h2 class="gapmap-legend-title">Deprivation x activity (bivariate)</h2>' in bivariate
    assert bivariate.count("<td style=\"background:") == 9
    assert "more deprived &rarr;" in bivariate and "No data" in bivariate
    # with the class breaks of both measures: each row's IMD score range, each column's activity range
    from geo.views import map_table
    from geo.views.analysis import Extent

    b = map_table.map_table(fixture_store, "unit-check", Extent("icb", "E54000001")).bivariate
    rows = re.findall(r'<th scope="row" class="break">([^<]+)</th>', bivariate)
    columns = re.findall(r'<th scope="col" class="break">([^<]+)</th>', bivariate)
    assert rows == b.deprivation_labels[::-1] and columns == b.activity_labels  # most deprived at the top
    assert len(rows) == len(columns) == 3 and all(" to " in t or "value" in t for t in rows + columns)


def test_pages_name_an_icon(client):
    page = client.get("/?icb=E54000001").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon.svg\?v=[0-9a-f]{16}"', page)  # versioned
    assert client.get("/static/favicon.svg").status_code == 200


def test_upload_form_checks_the_file_and_ticks_the_breakdowns_it_has(client, fixture_store, tmp_path):
    import io

    import openpyxl

    page = client.get("/upload").get_data(as_text=True)
    assert re.search(r'<script src="/static/js/upload-form.js\?v=[0-9a-f]{16}" defer></script>', page)
    assert 'data-check-url="/upload/check"' in page and 'data-breakdown="ethnic_group"' in page
    assert client.get("/static/js/upload-form.js").status_code == 200
    records = b"Extract of A&E attendances\n\nLSOA,Gender,Ethnic_Category,Age,Arrival_Date\nE01000001,1,A,4,2024-05-01\n"
    answer = client.post("/upload/check", data={"file": (io.BytesIO(records), "ae.csv"), "csrf_token": csrf(client)},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    got = answer.get_json()
    assert got["breakdowns"] == {"age_band": ["Age"], "sex": ["Gender"], "ethnic_group": ["Ethnic_Category"]}
    assert got["header_row"] == 3 and got["shape"] == "records"
    assert got["message"] == ("ae.csv: column names on row 3 (the rows above are titles); it has age band (Age), sex "
                              "(Gender), ethnic group (Ethnic_Category), ticked below.")
    book = openpyxl.Workbook()
    for row in (["Admissions"], ["LSOA", "2022/23", "2023/24"], ["E01000001", 1, 2]):
        book.active.append(row)
    book.save(tmp_path / "w.xlsx")
    wide = client.post("/upload/check", data={"file": (open(tmp_path / "w.xlsx", "rb"), "w.xlsx"),
                                              "csrf_token": csrf(client)}, content_type="multipart/form-data")
    assert wide.get_json()["wide"] == {"period": ["2022/23", "2023/24"]}
    assert wide.get_json()["message"].endswith('a column per period: chosen under "Wide file".')
    # no CSRF token: refused like every other change
    assert client.post("/upload/check", data={"file": (io.BytesIO(records), "ae.csv")},
                       content_type="multipart/form-data").status_code == 400
    # the server says so too when a breakdown the file has is left out (no script needed)
    data = {"file": (io.BytesIO(records), "ae.csv"), "name": "ae-left-out", "by_sex": "on", "csrf_token": csrf(client)}
    text = client.post("/upload", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert ("not kept as breakdowns (tick them under &#34;Keep these breakdowns&#34;): no rates by age or ethnic "
            "group can be shown") in text
    assert "row 3 was taken as the header, found below the title rows (the &#34;Header row&#34; box chooses" in text
    # a wide file refused in the form's words, then read with the form's "Wide file" box
    periods = b"LSOA,2022/23,2023/24\nE01000001,1,2\n"
    refused = client.post("/upload", data={"file": (io.BytesIO(periods), "p.csv"), "name": "wide-p",
                                           "csrf_token": csrf(client)}, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "Choose &#34;period&#34; in the &#34;Wide file&#34; box to read each" in refused.get_data(as_text=True)
    done = client.post("/upload", data={"file": (io.BytesIO(periods), "p.csv"), "name": "wide-p", "wide": "period",
                                        "csrf_token": csrf(client)}, content_type="multipart/form-data")
    assert done.status_code == 200 and DatasetStore(fixture_store).get("wide-p").counts()["count"].sum() == 3
    assert client.post("/upload", data={"file": (io.BytesIO(periods), "p.csv"), "name": "wide-p", "header_row": "x",
                                        "csrf_token": csrf(client)},
                       content_type="multipart/form-data").status_code == 400
    for name in ("ae-left-out", "wide-p"):
        DatasetStore(fixture_store).remove(name)
