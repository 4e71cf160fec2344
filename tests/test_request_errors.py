"""Issue 11 items 3 and 5: requests that gave HTTP 500s now work or get a clear 4xx, and the cost
of what a request can ask for is bounded."""
import tempfile
import threading

import pytest

from app import create_app
from geo.views import map_table
from geo.store.datasets import DatasetError, check_name
from geo.ingest.pipeline import IngestOptions, ingest

ROUTES = ("/map/frame", "/api/lsoas.geojson", "/api/export.geojson", "/api/export.csv", "/api/export.gpkg",
          "/api/export.html", "/targeting.csv")


@pytest.fixture(scope="module")
def client(fixture_store):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001", "TESTING": True})
    return app.test_client()


def test_gp_practice_datasets_get_a_clear_400(client, fixture_store, fixture_mirror, tmp_path):
    # a dataset of practice values only, as Fingertips files were kept before ingest shared practice
    # values among their patients' LSOAs (now refused without NHS England's registrations file)
    import geopandas as gpd
    from geo.store.datasets import DatasetStore

    path = tmp_path / "a.csv"
    path.write_text("lsoa21cd,count\nE01000001,3\n")
    meta = {k: v for k, v in ingest(path, IngestOptions(name="gp-values"), fixture_store).meta.items() if k != "name"}
    points = gpd.GeoDataFrame({"practice_code": ["A00001"], "value": [700.0]},
                              geometry=gpd.points_from_xy([-0.4], [51.9]), crs=4326)
    DatasetStore(fixture_store).save("gp-values", {**meta, "shape": "fingertips"}, ingest(
        path, IngestOptions(name="gp-values"), fixture_store).rows_not_used, practices=points)
    for route in ROUTES + ("/api/statistics",):
        response = client.get(f"{route}?icb=E54000001&indicator=gp-values")
        assert response.status_code == 400, route
        assert "GP practice" in response.get_data(as_text=True), route
    assert client.get("/map?icb=E54000001&indicator=gp-values").status_code == 200  # the page still opens
    panel = client.get("/map/panel?icb=E54000001&indicator=gp-values")  # and its panel says why
    assert panel.status_code == 200 and "GP practice" in panel.get_data(as_text=True)
    assert "gp-values" not in client.get("/").get_data(as_text=True)  # not offered as a map indicator


def test_more_classes_than_distinct_values(client, fixture_store, tmp_path):
    path = tmp_path / "few.csv"
    path.write_text("lsoa21cd,count\nE01000001,10\nE01000002,10\nE01000003,20\n")  # rates: few distinct values
    ingest(path, IngestOptions(name="few-values"), fixture_store)
    for scheme in ("fisher_jenks", "quantiles", "equal_interval"):
        frame = client.get(f"/map/frame?lad=E06000001&indicator=few-values&scheme={scheme}&k=9")
        assert frame.status_code == 200, scheme
        assert "9 classes were asked for but the values take only" in frame.get_data(as_text=True)
        csv = client.get(f"/api/export.csv?lad=E06000001&indicator=few-values&scheme={scheme}&k=9")
        assert csv.status_code == 200 and "9 classes were asked for" in csv.get_data(as_text=True)


def test_fisher_jenks_on_many_values_is_bounded():
    import numpy as np

    from geo.stats.classify import FISHER_JENKS_SAMPLE, classify

    values = np.random.default_rng(3).gamma(2, 3, 40_000)  # England-sized: the full method takes ~30 min
    classes = classify(values, "fisher_jenks", 5)
    assert len(classes.labels) == 5 and sum(classes.counts) == 40_000 and FISHER_JENKS_SAMPLE <= 2_000
    # the breaks fall where Fisher-Jenks puts them on the sample of order statistics
    assert classes.breaks == sorted(classes.breaks) and classes.breaks[-1] == values.max()


def test_header_only_dataset(client, fixture_store, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("lsoa21cd,count\n")
    ingest(path, IngestOptions(name="header-only"), fixture_store)
    for route in ROUTES:
        assert client.get(f"{route}?icb=E54000001&indicator=header-only").status_code == 200, route
    assert client.get("/map?icb=E54000001&indicator=header-only").status_code == 200
    stats = client.get("/api/statistics?icb=E54000001&indicator=header-only")
    assert stats.status_code == 400 and "do not vary" in stats.get_json()["error"]


def test_reingest_while_the_dataset_is_served(client, fixture_store, tmp_path):
    path = tmp_path / "race.csv"
    path.write_text("lsoa21cd,count\nE01000001,10\nE01000002,20\nE01000003,30\nE01000004,40\n")
    ingest(path, IngestOptions(name="race"), fixture_store)
    stop = threading.Event()
    errors = []

    def reingest():
        n = 0
        while not stop.is_set() and n < 40:
            try:
                ingest(path, IngestOptions(name="race"), fixture_store)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            n += 1

    thread = threading.Thread(target=reingest)
    thread.start()
    statuses = []
    try:
        for i in range(24):
            route = ROUTES[i % 5] if i % 5 != 4 else "/map"
            map_table.clear_caches()
            statuses.append((route, client.get(f"{route}?lad=E06000001&indicator=race").status_code))
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert all(status == 200 for _, status in statuses), statuses


def test_a_name_ending_in_a_newline_is_refused(client):
    for name in ("ae-2024\n", "ae-2024\n\n", "\nae", "ae 2024"):
        with pytest.raises(DatasetError):
            check_name(name)
    assert check_name("ae-2024") == "ae-2024"
    assert client.get("/api/lsoas.geojson?lad=E06000001&indicator=race%0A").status_code == 404


def test_permutations_are_capped_by_the_size_of_the_area(client, monkeypatch):
    monkeypatch.setattr(map_table, "PERMUTATION_BUDGET", 4 * 999)  # as if the ICB had thousands of LSOAs
    refused = client.get("/api/statistics?icb=E54000001&indicator=imd_score&stat=local-moran&permutations=9999")
    assert refused.status_code == 400
    message = refused.get_json()["error"]
    assert "9,999 permutations over 6 LSOAs" in message and "at most 666" in message
    ok = client.get("/api/statistics?icb=E54000001&indicator=imd_score&stat=local-moran&permutations=599")
    assert ok.status_code == 200
    assert client.get("/api/statistics?icb=E54000001&indicator=imd_score&permutations=100000").status_code == 400
    assert client.get("/api/statistics?icb=E54000001&indicator=imd_score&seed=-1").status_code == 400


def test_geopackage_exports_leave_nothing_in_tmp(client, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    response = client.get("/api/export.gpkg?lad=E06000001&indicator=imd_score")
    assert response.status_code == 200 and response.data[:16] == b"SQLite format 3\x00"
    assert list(scratch.iterdir()) == []


def test_focus_must_be_on_the_map(client):
    """Any focus code used to make (and cache) a copy of the whole map."""
    assert client.get("/map/frame?lad=E06000001&indicator=imd_score&focus=E01000001").status_code == 200
    assert client.get("/map/frame?lad=E06000001&indicator=imd_score&focus=E05000001").status_code == 200
    response = client.get("/map/frame?lad=E06000001&indicator=imd_score&focus=E01999999")
    assert response.status_code == 400 and "not an LSOA or ward on this map" in response.get_data(as_text=True)


def test_heavy_work_is_refused_while_every_slot_is_taken_and_light_requests_still_answer(client, monkeypatch):
    """With every work slot held and the queue full, a cold map gets a 503 at once (it does not
    hold a server thread); warm maps and lists are still served."""
    warm = "/map/frame?lad=E06000002&indicator=imd_score"
    assert client.get(warm).status_code == 200
    monkeypatch.setattr(map_table, "WORK_QUEUE", 0)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with map_table.work_slot():
            holding.set()
            release.wait(30)

    holders = [threading.Thread(target=hold) for _ in range(map_table.WORK_SLOTS)]
    for t in holders:
        t.start()
    holding.wait(10)
    try:
        map_table.clear_caches()
        from app import pages

        pages.MAP_CACHE.clear()
        busy = client.get("/map/frame?lad=E06000001&indicator=acute_morbidity_indicator&k=4")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
        assert "try again" in busy.get_data(as_text=True)
        api = client.get("/api/export.csv?lad=E06000001&indicator=imd_score")
        assert api.status_code == 503 and "try again" in api.get_json()["error"]
        assert client.get("/api/indicators").status_code == 200
        assert client.get("/api/places?icb=E54000001").status_code == 200
    finally:
        release.set()
        for t in holders:
            t.join()
    assert client.get("/map/frame?lad=E06000001&indicator=acute_morbidity_indicator&k=4").status_code == 200
