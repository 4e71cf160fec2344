"""Loaders select columns by their official names and say exactly what is wrong."""
import dataclasses

import pandas as pd
import pytest

from geo.sources import catalogue as sources
from geo.sources.loaders import MissingColumnError, read_source
from geo.sources.catalogue import SourceError, locate


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "File_7.csv"
    pd.DataFrame({"LSOA code (2021)": ["E01000001"], "Index of Multiple Deprivation (IMD) Scor": [1.0]}).to_csv(
        path, index=False)
    with pytest.raises(MissingColumnError) as err:
        read_source(sources.get("iod2025_file7"), path)
    message = str(err.value)
    assert str(path) in message
    assert "'Index of Multiple Deprivation (IMD) Score' (did you mean 'Index of Multiple Deprivation (IMD) Scor'?)" \
        in message
    assert err.value.path == path and "Income Score (rate)" in err.value.missing


def test_bom_spaces_thousands_and_codes_as_text(tmp_path):
    path = tmp_path / "file1.csv"
    path.write_text('\ufeffLSOA code (2011) ,Index of Multiple Deprivation (IMD) Rank,'
                    'Index of Multiple Deprivation (IMD) Decile,Other\n'
                    'E01000001,"29,199",9,x\nE01000002,12,1,y\n', encoding="utf-8")
    frame = read_source(sources.get("imd2019_file1"), path)
    assert list(frame.columns) == ["lsoa11cd", "imd2019_rank", "imd2019_decile"]
    assert frame["imd2019_rank"].tolist() == [29199, 12]
    assert frame["lsoa11cd"].dtype == "string"


def test_aliases_accept_the_feature_server_spelling(tmp_path):
    path = tmp_path / "lookup.csv"
    pd.DataFrame({"F_LSOA11CD": ["E01000001"], "CHGIND": ["U"], "LSOA21CD": ["E01000001"]}).to_csv(path, index=False)
    frame = read_source(sources.get("lsoa11_lsoa21_lookup"), path)
    assert frame.to_dict("records") == [{"lsoa11cd": "E01000001", "chgind": "U", "lsoa21cd": "E01000001"}]


def test_column_patterns_must_match_something(tmp_path):
    path = tmp_path / "sape.csv"
    pd.DataFrame({"LSOA11CD": ["E01000001"], "total_population": [10]}).to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match="columns matching"):
        read_source(sources.get("sape_mid2020_lsoa11"), path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SourceError, match="empty"):
        read_source(sources.get("ruc21_lsoa21"), path)


def test_gpkg_columns_checked(fixture_mirror):
    source = dataclasses.replace(sources.get("lad24_boundaries"), columns={"LAD23CD": "lad23cd"})
    with pytest.raises(MissingColumnError, match="LAD23CD.*did you mean 'LAD24CD'"):
        read_source(source, fixture_mirror / source.path)
    lads = read_source(sources.get("lad24_boundaries"), mirror=fixture_mirror)
    assert lads.crs.to_epsg() == 4326 and set(lads.columns) == {"lad24cd", "lad24nm", "geometry"}


def test_codepoint_reads_headerless_files_with_doc_headers(fixture_mirror):
    frame = read_source(sources.get("codepoint_open"), mirror=fixture_mirror)
    assert list(frame.columns) == ["postcode", "positional_quality", "easting", "northing", "country_code", "lad_code"]
    assert frame["postcode"].tolist() == ["LU1 1AA", "LU1 1AB", "LU2 9ZZ", "LU3 3XY", "LU4 4HG", "LU5 5OC"]


def test_locate_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("GAPMAP_MIRROR", raising=False)
    source = sources.get("ruc21_lsoa21")
    with pytest.raises(SourceError, match="gapmap data fetch"):
        locate(source, downloads=tmp_path)
    with pytest.raises(SourceError, match="not found in the mirror"):
        locate(source, mirror=tmp_path)


def test_catalogue_entries_are_complete():
    catalogue = sources.load_catalogue()
    assert len(catalogue) >= 20
    for source in catalogue.values():
        assert source.licence and source.attribution and source.columns and source.path
        assert source.method in {"file", "arcgis", "zip", "manual"}
        assert source.url.startswith("https://") or source.method == "manual"
        assert source.landing.startswith("https://")
        assert source.sha256 or source.checksums or source.optional or source.ingest_only  # no reference copy
    with pytest.raises(SourceError, match="no source called"):
        sources.get("nope")
