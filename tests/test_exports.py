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
    assert {"imd_score", "quantile_class", "class_label", "gi_star_z", "gi_star_bin", "hot_spot_level",
            "local_moran_cluster", "imd_decile", "imd_decile_in_icb"} <= set(props)
    assert not {"value", "class", "gi_bin", "lisa_cluster"} & set(props)  # no short internal names
    assert set(doc["metadata"]["fields"]) == set(props)  # the data dictionary names every field
    back = pyogrio.read_dataframe(path)
    assert len(back) == 6 and back.geometry.is_valid.all()
    assert back.sort_values("lsoa21cd")["imd_score"].round(6).tolist() == \
        frame.sort_values("lsoa21cd")["imd_score"].round(6).tolist()


def test_geopackage_round_trip(exported, tmp_path):
    frame, meta = exported
    path = exports.write(frame, meta, "gpkg", tmp_path, "imd_score", Extent("icb", "E54000001"))
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"lsoas", "metadata", "fields"}
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
    fields = pyogrio.read_dataframe(path, layer="fields").set_index("field")["description"]
    assert set(fields.index) == set(back.columns) - {"geometry"} and fields.str.len().min() > 10
    with sqlite3.connect(path) as db:  # the schema extension GDAL reads as the fields' comments
        columns = dict(db.execute("select column_name, description from gpkg_data_columns where table_name = "
                                  "'lsoas'").fetchall())
    assert columns["gi_star_bin"].startswith("Gi* confidence bin: 3, 2, 1 = hot spot")
    assert set(columns) == set(fields.index)


@pytest.mark.parametrize("indicator", ["imd_score", "exp-wkb"])
def test_a_geopackage_of_the_stored_wkb_is_the_geopackage_of_the_decoded_polygons(fixture_store, tmp_path,
                                                                                  indicator):
    """The CLI and the web write a GeoPackage from the polygons as the store keeps them (WKB, never
    decoded): every layer, field, description and polygon is the same as writing the decoded ones,
    and each polygon equals the store's own."""
    import sqlite3

    from geo.ingest.pipeline import IngestOptions, ingest

    extent = Extent("icb", "E54000001")
    if indicator != "imd_score":
        path = tmp_path / "exp.csv"
        path.write_text("lsoa21cd,count\nE01000001,3\nE01000002,40\nE01000003,12\n")
        ingest(path, IngestOptions(name=indicator, measure="Emergency admissions"), fixture_store)
    decoded, meta = exports.export_table(fixture_store, indicator, extent)
    wkb, meta_wkb = exports.export_table(fixture_store, indicator, extent, geometry="wkb")
    assert isinstance(wkb["geometry"].iloc[0], bytes)
    a = exports.write(decoded, meta, "gpkg", tmp_path / "a", indicator, extent)
    b = exports.write(wkb, meta_wkb, "gpkg", tmp_path / "b", indicator, extent)
    for layer in ("lsoas", "metadata", "fields"):
        pd.testing.assert_frame_equal(pd.DataFrame(pyogrio.read_dataframe(a, layer=layer)),
                                      pd.DataFrame(pyogrio.read_dataframe(b, layer=layer)))
    for key in ("crs", "geometry_type", "fields", "dtypes", "features"):
        assert str(pyogrio.read_info(a, layer="lsoas")[key]) == str(pyogrio.read_info(b, layer="lsoas")[key])
    for query in ("select table_name, column_name, description from gpkg_data_columns order by 1, 2",
                  "select table_name, data_type, description, srs_id from gpkg_contents order by 1"):
        assert sqlite3.connect(a).execute(query).fetchall() == sqlite3.connect(b).execute(query).fetchall()
    back = pyogrio.read_dataframe(b, layer="lsoas").set_index("lsoa21cd")
    store = fixture_store.lsoas(icb="E54000001", columns=["lsoa21cd"]).set_index("lsoa21cd")
    assert shapely.equals(back.geometry.loc[store.index].values, store.geometry.values).all()


def test_csv_has_metadata_and_no_formulas(exported, tmp_path):
    frame, meta = exported
    frame = frame.copy()
    frame.loc[frame.index[0], "lsoa21nm"] = "=HYPERLINK(\"x\")"
    text = exports.to_csv(frame, meta)
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert "# licence: Open Government Licence v3.0" in text and "# attribution:" in text
    header = text.splitlines()[0].split(",")
    documented = [line.split(":")[0].removeprefix('"# field ') for line in text.splitlines() if
                  line.startswith('"# field ')]
    assert documented == header  # every column described, in order, under the table
    assert '"# field quantile_class: Class of imd_score by quantiles (0 = lowest; -1 = no data or suppressed)"' \
        in text


def test_activity_exports_apply_disclosure(fixture_store, tmp_path):
    from geo.ingest.pipeline import IngestOptions, ingest

    path = tmp_path / "c.csv"
    path.write_text("lsoa21cd,count\nE01000001,3\nE01000002,12\nE01000003,0\nE01000004,40\n")
    ingest(path, IngestOptions(name="exp", measure="Emergency admissions"), fixture_store)
    frame, meta = exports.export_table(fixture_store, "exp", Extent("lad", "E06000001"))
    rows = frame.set_index("lsoa21cd")
    assert meta["unit"] == "per 100,000 residents per year"
    assert not {"count", "value", "lower", "upper", "class", "suppressed"} & set(frame.columns)
    assert np.isnan(rows.loc["E01000001", "events_published"]) and np.isnan(rows.loc["E01000001", "rate_per_100000"])
    assert np.isnan(rows.loc["E01000001", "rate_per_100000_lower_95"]) and rows.loc["E01000001", "count_suppressed"]
    assert rows.loc["E01000002", "events_published"] == 10 and rows.loc["E01000003", "events_published"] == 0
    assert rows.loc["E01000004", "events_published"] == 40
    assert "suppressed" in meta["disclosure"] and meta["measure"] == "Emergency admissions"
    assert meta["fields"]["events_published"].startswith("Events after disclosure control: Counts from 1 to 7")
    assert meta["fields"]["rate_per_100000"] == ("The indicator: Emergency admissions (per 100,000 residents per "
                                                 "year), from the published (disclosure-controlled) count")


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
    rows = frame.set_index("lsoa21cd")["events_published"]
    assert np.isnan(rows["E01000001"]) and rows["E01000002"] == 10 and "1 to 9" in meta["disclosure"]


def test_ward_table_csv(fixture_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    wards, meta = exports.ward_table(fixture_store, "imd_score", Extent("icb", "E54000001"))
    assert sorted(wards["ward24cd"]) == ["E05000001", "E05000002", "E05000003"]
    assert {"mean_lsoa_imd_score", "lsoas_with_imd_score", "core20_lsoas", "average_score", "extent",
            "imd_summary_population"} <= set(wards.columns)
    assert not {"population_x", "population_y", "mean_value"} & set(wards.columns)
    assert list(meta["fields"]) == list(wards.columns) and all(meta["fields"].values())
    for key, value in fixture_store.environment().items():  # the folder store or PostGIS
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["export", "imd_score", "--icb", "E54000001", "--format", "csv", "--table",
                                       "ward", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "Wrote 3 wards" in result.output
    written = list(tmp_path.glob("*_wards_*.csv"))[0].read_text()
    assert written.startswith("ward24cd,ward24nm,lsoas,mean_lsoa_imd_score") and "# licence:" in written
    assert '"# field mean_lsoa_imd_score: Mean of imd_score over the ward\'s LSOAs that have a published value"' \
        in written


@pytest.mark.parametrize("unit, name", [
    ("per 100,000 residents aged 0-10 per year", "rate_per_100000"), ("per 1,000 residents per year", "rate_per_1000"),
    ("% of births with a recorded gestation", "percent"), ("per 1,000 births", "per_1000"), ("ratio", "ratio"),
    ("ratio x 100", "ratio_x100"), ("events per year", "events_per_year"), ("events", "events")])
def test_value_field_is_named_by_the_unit(unit, name):
    from geo.outputs import field_names

    assert field_names.value_name("demo-x", {"unit": unit}) == name
    names = field_names.export_names(["value", "lower", "upper", "count", "class", "gi_z", "gi_spot", "lisa_p"],
                                     "demo-x", {"unit": unit}, "fisher_jenks")
    assert names == {"value": name, "lower": f"{name}_lower_95", "upper": f"{name}_upper_95",
                     "count": "events_published", "class": "fisher_jenks_class", "gi_z": "gi_star_z",
                     "gi_spot": "hot_spot_level", "lisa_p": "local_moran_p"}


def test_an_lsoa_column_keeps_its_own_name(fixture_store):
    from geo.outputs import field_names

    frame, meta = exports.export_table(fixture_store, "acute_morbidity_indicator", Extent("icb", "E54000001"),
                                       geometry=False)
    assert "acute_morbidity_indicator" in frame and "value" not in frame
    assert field_names.undescribed(meta["fields"]) == []
    assert meta["fields"]["acute_morbidity_indicator"].startswith("The indicator: IoD2025 acute morbidity indicator")


def test_wkb_of_mixed_kinds_is_written_as_gdal_promotes_decoded_polygons(tmp_path):
    square = shapely.box(0, 51, 0.1, 51.1)
    both = shapely.MultiPolygon([shapely.box(1, 51, 1.1, 51.1), shapely.box(2, 51, 2.1, 51.1)])
    assert exports._wkb_kind(pd.Series([shapely.to_wkb(square)] * 2)) == "Polygon"
    assert exports._wkb_kind(pd.Series([shapely.to_wkb(both), shapely.to_wkb(both, byte_order=0)])) == "MultiPolygon"
    mixed = pd.Series([shapely.to_wkb(square), shapely.to_wkb(both)])
    assert exports._wkb_kind(mixed) is None and exports._wkb_kind(pd.Series([None])) is None
    frame = pd.DataFrame({"lsoa21cd": ["E01000001", "E01000002"], "geometry": mixed})
    frame.attrs["crs"] = "EPSG:4326"
    path = exports.write(frame, {}, "gpkg", tmp_path, "imd_score", Extent())
    back = pyogrio.read_dataframe(path, layer="lsoas")
    assert shapely.equals(back.geometry.values, [square, both]).all()
