"""Exports: RFC 7946 GeoJSON, GeoPackage and CSV round trips, disclosure control, formula injection."""
import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.outputs import exports
from geo.views.analysis import Extent
from geo.rates.disclosure import Rule, protect_counts, protect_table


@pytest.mark.parametrize("count, shown", [(0, 0), (1, None), (7, None), (8, 10), (12, 10), (13, 15)])
def test_disclosure_edges(count, shown):
    value = protect_counts([count])[0]
    assert (np.isnan(value) and shown is None) or value == shown


def test_rates_from_suppressed_counts_are_suppressed():
    frame = pd.DataFrame({"count": [3.0, 20.0], "value": [1.5, 9.0], "lower": [0.3, 5.0], "upper": [4.4, 14.0]})
    out = protect_table(frame, "count", ["value", "lower", "upper"])
    assert out.iloc[0].isna().all() and out.iloc[1].tolist() == [20.0, 9.0, 5.0, 14.0]
    # a dataset's own rule may be stricter than the server's floor (1-7, round to 5), never looser
    custom = Rule.from_meta({"disclosure": {"suppress_to": 9, "round_to": 10}})
    assert protect_counts([14, 9], custom).tolist()[0] == 10 and np.isnan(protect_counts([9], custom)[0])
    weaker = Rule.from_meta({"disclosure": {"suppress_to": 4, "round_to": 1}})
    assert (weaker.suppress_to, weaker.round_to) == (7, 5) and np.isnan(protect_counts([5], weaker)[0])
    assert "1 to 7" in Rule().describe()


def test_the_disclosure_floor_comes_from_the_server(monkeypatch):
    monkeypatch.setenv("GAPMAP_MIN_SUPPRESS", "10")
    monkeypatch.setenv("GAPMAP_MIN_ROUND", "10")
    rule = Rule.from_meta({"disclosure": {"suppress_to": 0, "round_to": 1}})
    assert (rule.suppress_to, rule.round_to) == (10, 10) and rule.smallest_shown == 20
    monkeypatch.setenv("GAPMAP_MIN_SUPPRESS", "seven")
    with pytest.raises(ValueError, match="GAPMAP_MIN_SUPPRESS='seven': give a whole number"):
        Rule.floor()


def test_formula_injection_neutralised():
    for text in ("=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"):
        assert exports.neutralise(text) == "'" + text
    assert exports.neutralise("Luton 001A") == "Luton 001A" and exports.neutralise(3) == 3


@pytest.fixture(scope="module")
def exported(fixture_store):
    return exports.export_table(fixture_store, "imd_score", Extent("icb", "E54000001"))


def test_geojson_follows_rfc7946(exported, tmp_path):
    frame, meta = exported
    path = exports.write(frame, meta, "geojson", tmp_path, "imd_score", Extent("icb", "E54000001"))
    assert path.name.startswith("gapmap_icb-E54000001_imd_score_") and path.suffix == ".geojson"
    doc = json.loads(path.read_text())
    assert "crs" not in doc and doc["metadata"]["licence"] == "Open Government Licence v3.0"
    assert "Open Government Licence" in doc["metadata"]["attribution"]
    assert len(doc["features"]) == 6
    for feature in doc["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        assert geom.is_valid
        for polygon in getattr(geom, "geoms", [geom]):
            assert polygon.exterior.is_ccw  # right-hand rule: exteriors counter-clockwise
        lon, lat = np.asarray(polygon.exterior.coords).T
        assert (-180 <= lon).all() and (lon <= 180).all() and (-90 <= lat).all() and (lat <= 90).all()
        coords = np.asarray(polygon.exterior.coords).ravel()
        assert np.allclose(coords, np.round(coords, 6))
    props = doc["features"][0]["properties"]
    assert {"value", "class_label", "gi_bin", "lisa_cluster", "imd_decile", "imd_decile_in_icb"} <= set(props)
    back = pyogrio.read_dataframe(path)
    assert len(back) == 6 and back.geometry.is_valid.all()
    assert back.sort_values("lsoa21cd")["value"].round(6).tolist() == frame.sort_values("lsoa21cd")["value"].round(6).tolist()


def test_geopackage_round_trip(exported, tmp_path):
    frame, meta = exported
    path = exports.write(frame, meta, "gpkg", tmp_path, "imd_score", Extent("icb", "E54000001"))
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"lsoas", "metadata"}
    back = pyogrio.read_dataframe(path, layer="lsoas")
    assert len(back) == len(frame) and back.geometry.is_valid.all()
    assert set(frame.columns) - {"geometry"} <= set(back.columns)
    assert sorted(back["lsoa21cd"]) == sorted(frame["lsoa21cd"])
    notes = pyogrio.read_dataframe(path, layer="metadata").set_index("key")["value"]
    import sqlite3

    with sqlite3.connect(path) as db:  # what QGIS shows as the layer's description
        (described,) = db.execute("select description from gpkg_contents where table_name = 'lsoas'").fetchone()
    assert "Open Government Licence" in described and "Contains OS data" in described
    assert notes["licence"] == "Open Government Licence v3.0"


def test_csv_has_metadata_and_no_formulas(exported, tmp_path):
    frame, meta = exported
    frame = frame.copy()
    frame.loc[frame.index[0], "lsoa21nm"] = "=HYPERLINK(\"x\")"
    text = exports.to_csv(frame, meta)
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert "# licence: Open Government Licence v3.0" in text and "# attribution:" in text


def test_activity_exports_apply_disclosure(fixture_store, tmp_path):
    from geo.ingest.pipeline import IngestOptions, ingest

    path = tmp_path / "c.csv"
    path.write_text("lsoa21cd,count\nE01000001,3\nE01000002,12\nE01000003,0\nE01000004,40\n")
    ingest(path, IngestOptions(name="exp", measure="Emergency admissions"), fixture_store)
    frame, meta = exports.export_table(fixture_store, "exp", Extent("lad", "E06000001"))
    rows = frame.set_index("lsoa21cd")
    assert np.isnan(rows.loc["E01000001", "count"]) and np.isnan(rows.loc["E01000001", "value"])
    assert rows.loc["E01000002", "count"] == 10 and rows.loc["E01000003", "count"] == 0
    assert rows.loc["E01000004", "count"] == 40
    assert "suppressed" in meta["disclosure"] and meta["measure"] == "Emergency admissions"


def test_export_cli_and_api(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app import create_app
    from geo.cli import main

    for key, value in fixture_store.environment().items():  # the folder store or PostGIS
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["export", "imd_score", "--lad", "E06000001", "--format", "csv",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0 and "Wrote 4 LSOAs" in result.output
    client = create_app({**fixture_store.environment(), "SINGLE_USER": True}).test_client()
    response = client.get("/api/export.geojson?lad=E06000001&indicator=imd_score")
    assert response.status_code == 200 and len(json.loads(response.get_data())["features"]) == 4
    assert "attachment; filename=gapmap_lad-E06000001_imd_score_" in response.headers["Content-Disposition"]
    gpkg = client.get("/api/export.gpkg?lad=E06000001&indicator=imd_score")
    assert gpkg.status_code == 200 and gpkg.data[:16] == b"SQLite format 3\x00"
    gpkg.close()
    assert client.get("/api/export.shp?lad=E06000001").status_code == 404


def test_map_tooltips_and_tables_apply_disclosure(fixture_store, tmp_path):
    from app.map_layers import choropleth_map
    from geo.views import map_table
    from geo.ingest.pipeline import IngestOptions, ingest

    path = tmp_path / "d.csv"
    path.write_text("lsoa21cd,count\nE01000001,3\nE01000002,12\nE01000003,30\nE01000004,40\n")
    ingest(path, IngestOptions(name="disc", measure="Admissions"), fixture_store)
    html = choropleth_map(fixture_store, "disc", Extent("lad", "E06000001")).get_root().render()
    assert "suppressed (1 to 7 events)" in html
    table = map_table.group_table(fixture_store, "disc", Extent("lad", "E06000001"), "lad24cd")
    # 3 + 12 + 30 + 40 = 85, perturbed and rounded to 5: never the exact total from the LSOAs' counts
    assert table["count"].iloc[0] % 5 == 0 and abs(table["count"].iloc[0] - 85) <= 30


def test_disclosure_rule_is_set_per_dataset(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    for key, value in fixture_store.environment().items():  # the folder store or PostGIS
        monkeypatch.setenv(key, value)
    path = tmp_path / "e.csv"
    path.write_text("lsoa21cd,count\nE01000001,9\nE01000002,14\nE01000003,30\nE01000004,40\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--name", "strict", "--suppress-to", "9",
                                       "--round-to", "10"])
    assert result.exit_code == 0, result.output
    frame, meta = exports.export_table(fixture_store, "strict", Extent("lad", "E06000001"))
    rows = frame.set_index("lsoa21cd")["count"]
    assert np.isnan(rows["E01000001"]) and rows["E01000002"] == 10 and "1 to 9" in meta["disclosure"]


def test_ward_table_csv(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    wards, meta = exports.ward_table(fixture_store, "imd_score", Extent("icb", "E54000001"))
    assert sorted(wards["ward24cd"]) == ["E05000001", "E05000002", "E05000003"]
    assert {"mean_value", "core20_lsoas", "average_score", "extent"} <= set(wards.columns)
    for key, value in fixture_store.environment().items():  # the folder store or PostGIS
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["export", "imd_score", "--icb", "E54000001", "--format", "csv", "--table",
                                       "ward", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "Wrote 3 wards" in result.output
    written = list(tmp_path.glob("*_wards_*.csv"))[0].read_text()
    assert written.startswith("ward24cd,ward24nm,lsoas,mean_value") and "# licence:" in written
