"""The one map table: every consumer reads the same numbers, each statistic is computed once per
page, the cache is bounded and identical cold requests are coalesced."""
import io
import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from app import create_app
from geo.outputs import exports
from geo.views import map_table
from geo.views import targeting
from geo.views.analysis import Extent
from geo.ingest.pipeline import IngestOptions, ingest

COUNTS = {"E01000001": 9, "E01000002": 4, "E01000003": 30, "E01000004": 41, "E01000005": 18,
          "E01000006": 0, "E01000007": 25, "E01000008": 52}


@pytest.fixture(scope="module")
def dataset(fixture_store, tmp_path_factory):
    path = tmp_path_factory.mktemp("mt") / "counts.csv"
    path.write_text("lsoa21cd,count\n" + "".join(f"{c},{n}\n" for c, n in COUNTS.items()))
    ingest(path, IngestOptions(name="mt-counts", measure="Emergency admissions"), fixture_store)
    return "mt-counts"


@pytest.fixture(scope="module")
def client(fixture_store):
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001", "TESTING": True})
    return app.test_client()


def test_one_map_page_computes_each_statistic_once(client, dataset):
    map_table.clear_caches()
    from app import pages

    pages.MAP_CACHE.clear()
    pages.PANEL_CACHE.clear()
    map_table.COMPUTED.clear()
    page = client.get(f"/map?icb=E54000001&indicator={dataset}")  # the page
    panel = client.get(f"/map/panel?icb=E54000001&indicator={dataset}")  # its side panel
    frame = client.get(f"/map/frame?icb=E54000001&indicator={dataset}")  # the map in its frame
    assert page.status_code == 200 and panel.status_code == 200 and frame.status_code == 200
    computed = dict(map_table.COMPUTED)
    assert computed["values"] == 1 and computed["gi-star"] == 1 and computed["local-moran"] == 1, computed
    assert computed["bivariate"] == 1 and computed["classes"] == 1, computed
    # the targeting list, the exports and the API for the same request compute nothing new
    for url in (f"/targeting.csv?icb=E54000001&indicator={dataset}",
                f"/api/export.csv?icb=E54000001&indicator={dataset}",
                f"/api/lsoas.geojson?icb=E54000001&indicator={dataset}",
                f"/api/statistics?icb=E54000001&indicator={dataset}&stat=gi-star"):
        assert client.get(url).status_code == 200, url
    assert dict(map_table.COMPUTED) == computed


def _frame_columns(html: str) -> dict:
    """The per-LSOA columns the map page sends to the browser (code, value text, class, ...)."""
    marker = '<script type="application/json" id="gapmap-data">{'  # the data, not the script's comment
    start = html.index(marker) + len(marker) - 1
    packed = json.loads(html[start:html.index("</script>", start)].replace("<\\/", "</"))["packed"]
    return packed["columns"]


def _same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) if (pd.isna(a) or pd.isna(b)) else a == b


def test_every_consumer_gets_the_same_numbers(client, fixture_store, dataset):
    extent = Extent("icb", "E54000001")
    table = map_table.map_table(fixture_store, dataset, extent).frame.set_index("lsoa21cd")
    assert table["value"].notna().sum() == 5  # E01000002 (4 events) is suppressed
    export, meta = exports.export_table(fixture_store, dataset, extent, geometry=False)
    export = export.set_index("lsoa21cd")
    targets = targeting.lsoa_targets(fixture_store, dataset, extent)
    text = client.get(f"/api/export.csv?icb=E54000001&indicator={dataset}").get_data(as_text=True)
    text = "\n".join(line for line in text.splitlines() if not line.startswith('"# '))  # metadata lines
    csv = pd.read_csv(io.StringIO(text)).set_index("lsoa21cd")
    geojson = json.loads(client.get(f"/api/lsoas.geojson?icb=E54000001&indicator={dataset}").get_data())
    api_values = {f["properties"]["lsoa21cd"]: f["properties"]["value"] for f in geojson["features"]}
    gi = client.get(f"/api/statistics?icb=E54000001&indicator={dataset}&stat=gi-star").get_json()
    lm = client.get(f"/api/statistics?icb=E54000001&indicator={dataset}&stat=local-moran").get_json()
    html = client.get(f"/map/frame?icb=E54000001&indicator={dataset}").get_data(as_text=True)
    columns = _frame_columns(html)
    shown = dict(zip(columns["c"], columns["v"]))
    classes = dict(zip(columns["c"], columns["k"]))
    for code, row in table.iterrows():
        for column, field in (("value", "rate_per_100000"), ("lower", "rate_per_100000_lower_95"),
                              ("upper", "rate_per_100000_upper_95"), ("count", "events_published"),
                              ("gi_z", "gi_star_z"), ("gi_bin", "gi_star_bin"), ("lisa_p", "local_moran_p"),
                              ("class", "quantile_class")):  # the exports name each field by what it holds
            assert export.loc[code, field] == pytest.approx(row[column], nan_ok=True), (code, column)
            assert csv.loc[code, field] == pytest.approx(row[column], rel=1e-5, nan_ok=True), (code, column)
        assert _same(export.loc[code, "local_moran_cluster"], row["lisa_cluster"])
        assert _same(export.loc[code, "bivariate_class"], row["bivariate_class"])
        assert targets.loc[code, "value"] == pytest.approx(row["value"], nan_ok=True)
        assert targets.loc[code, "hot_bin"] == pytest.approx(row["gi_bin"], nan_ok=True)
        assert _same(targets.loc[code, "cluster"], row["lisa_cluster"] if np.isfinite(row["value"]) else None)
        assert (api_values[code] if api_values[code] is not None else np.nan) == pytest.approx(row["value"],
                                                                                               rel=1e-6, nan_ok=True)
        gi_row = next(r for r in gi["rows"] if r["lsoa21cd"] == code)
        lm_row = next(r for r in lm["rows"] if r["lsoa21cd"] == code)
        assert (gi_row["gi_z"] if gi_row["gi_z"] is not None else np.nan) == pytest.approx(row["gi_z"], nan_ok=True)
        assert _same(lm_row["lisa_cluster"], row["lisa_cluster"])
        assert _same(classes[code], row["class_label"])
        if np.isfinite(row["value"]):
            v = row["value"]  # three significant figures, whole numbers (never 1.2e+04) from 1,000 up
            assert shown[code].startswith(f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}")
    # the slide reads the same classes (its legend) as the map's
    assert meta["classification"].endswith("; ".join(map_table.map_table(fixture_store, dataset, extent)
                                                       .classes.labels))


def test_cache_is_bounded_in_entries_and_bytes():
    cache = map_table.BoundedCache(max_entries=3, max_bytes=100)
    for i in range(5):
        cache.get(i, lambda i=i: i, lambda v: 10)
    assert len(cache) == 3 and cache.nbytes == 30
    cache.get("big", lambda: "x", lambda v: 90)
    assert cache.nbytes <= 100 and "big" in cache._items
    cache.get("huge", lambda: "y", lambda v: 1000)  # larger than the whole cache: returned, not kept
    assert "huge" not in cache._items


def test_identical_cold_requests_are_coalesced():
    cache = map_table.BoundedCache(max_entries=8, max_bytes=1 << 20)
    runs = []

    def slow():
        runs.append(1)
        time.sleep(0.3)
        return 42

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and len(runs) == 1


def test_a_failed_computation_is_not_cached_and_does_not_block():
    cache = map_table.BoundedCache(max_entries=8, max_bytes=1 << 20)

    def broken():
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            cache.get("k", broken)
    assert cache.get("k", lambda: 1) == 1


def test_the_build_pointer_is_resolved_once_per_request(fixture_mirror, tmp_path):
    from geo.build.pipeline import build
    from geo.store.folder import Store

    store = Store(tmp_path / "store")
    build(store, mirror=fixture_mirror)
    pinned = map_table.pinned(store)
    first = pinned.path
    build(store, mirror=fixture_mirror)  # a new build swapped in while the request runs
    assert store.path != first and pinned.path == first
    assert map_table.pinned(store).path == store.path
    app = create_app({"GAPMAP_STORE": str(store.root), "TESTING": True})
    from app import params

    with app.test_request_context("/"):
        assert params.store() is params.store() and params.store().path == store.path


def test_a_request_whose_client_has_gone_stops_waiting():
    """An identical request waiting for a computation gives up once its client has gone; the
    computation runs on and is cached for the next request."""
    cache = map_table.BoundedCache(max_entries=8, max_bytes=1 << 20)
    started, finish = threading.Event(), threading.Event()

    def slow():
        started.set()
        finish.wait(10)
        return "made"

    worker = threading.Thread(target=lambda: cache.get("k", slow))
    worker.start()
    started.wait(5)
    outcome = []

    def abandoned():
        map_table.set_client_check(lambda: True)
        began = time.monotonic()
        try:
            cache.get("k", slow)
        except map_table.ClientGone:
            outcome.append(time.monotonic() - began)
        finally:
            map_table.set_client_check(None)

    waiter = threading.Thread(target=abandoned)
    waiter.start()
    waiter.join(5)
    finish.set()
    worker.join(5)
    assert outcome and outcome[0] < 2
    assert cache.get("k", lambda: "not again") == "made"


def test_a_pinned_store_reads_each_table_once_per_request_and_gives_copies(folder_fixture_store, monkeypatch):
    from geo.store.folder import Store

    reads = []
    real = Store._read
    monkeypatch.setattr(Store, "_read", lambda self, *a: reads.append(a[0]) or real(self, *a))
    store = map_table.pinned(Store(folder_fixture_store.root))
    first = store.population_by_age()
    first["population_mid2020"] = -1  # a caller changing its copy
    second = store.population_by_age(icb="E54000001")
    assert reads.count("population_mid2020") == 1 and (second["population_mid2020"] > 0).all()
    store.lsoas(columns=["lsoa21cd"], geometry=True)
    store.lsoas(columns=["lsoa21cd"], geometry=True)
    assert reads.count("lsoas") == 3  # geometry is read each time (the icb filter's member list once)
    assert reads.count("population_mid2020") == 1
    fresh = map_table.pinned(Store(folder_fixture_store.root))  # the next request reads again
    fresh.population_by_age()
    assert reads.count("population_mid2020") == 2
