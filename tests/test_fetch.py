"""Downloads against a real HTTP server on loopback serving files in the official shapes."""
import dataclasses
import io
import json
import socket
import zipfile

import geopandas as gpd
import pandas as pd
import pytest

from geo.sources import catalogue as sources
from geo.sources.fetch import Downloader, DownloadError, OfflineError, fetch_source, verify_mirror_source
from geo.sources.loaders import read_source
from geo.sources.catalogue import sha256_of
from tests.fixture_mirror import zip_codepoint
from tests.http_fixture import FeatureServer, LoopbackServer, Static


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


def quick(**kw):
    return Downloader(timeout=kw.pop("timeout", 5), retries=kw.pop("retries", 2), backoff=0.01, **kw)


def lsoa_features(mirror):
    frame = gpd.read_file(mirror / "boundaries/LSOA_2021_EW_BSC_england.gpkg")
    return json.loads(frame.to_json())["features"]


def lookup_features(mirror):
    frame = pd.read_csv(mirror / "lookups/LSOA21_WD24_LAD24_EW_LU.csv")
    return [{"type": "Feature", "geometry": None, "properties": row} for row in frame.to_dict("records")]


def test_arcgis_layer_paged_into_a_geopackage(server, fixture_mirror, tmp_path):
    layer = FeatureServer(lsoa_features(fixture_mirror), max_record_count=4)
    url = server.add("/arcgis/rest/services/LSOA_BSC/FeatureServer/0", layer)
    source = dataclasses.replace(sources.get("lsoa21_boundaries"), url=url)
    result = fetch_source(source, tmp_path, quick())
    assert result.status == "downloaded"
    assert layer.page_offsets == [0, 4, 8]  # 9 features, 4 a page
    frame = read_source(source, result.path)
    assert len(frame) == 9 and frame.crs.to_epsg() == 4326
    original = read_source(source, fixture_mirror / source.path)
    assert frame.sort_values("lsoa21cd")["geometry"].geom_equals_exact(
        original.sort_values("lsoa21cd")["geometry"], tolerance=1e-9).all()
    # the where clause and output CRS were asked for
    queries = [q for p, q in server.requests if p.endswith("/query") and "resultOffset" in q]
    assert all(q["where"] == source.where and q["outSR"] == "4326" and q["f"] == "geojson" for q in queries)


def test_arcgis_table_paged_into_csv(server, fixture_mirror, tmp_path):
    layer = FeatureServer(lookup_features(fixture_mirror), max_record_count=2)
    url = server.add("/arcgis/rest/services/LSOA21_WD24_LAD24_EW_LU/FeatureServer/0", layer)
    source = dataclasses.replace(sources.get("lsoa21_ward24_lad24_lookup"), url=url)
    result = fetch_source(source, tmp_path, quick())
    assert layer.page_offsets == [0, 2, 4, 6, 8]
    frame = read_source(source, result.path)
    expected = read_source(source, fixture_mirror / source.path)
    pd.testing.assert_frame_equal(frame, expected)


def test_arcgis_short_answer_is_an_error(server, fixture_mirror, tmp_path):
    url = server.add("/fs/FeatureServer/0", FeatureServer(lookup_features(fixture_mirror), drop_last=True))
    source = dataclasses.replace(sources.get("lsoa21_ward24_lad24_lookup"), url=url)
    with pytest.raises(DownloadError, match="said 9 records but sent 8"):
        fetch_source(source, tmp_path, quick())
    assert not (tmp_path / source.path).exists()


def test_arcgis_error_payload_is_reported(server, tmp_path):
    url = server.add("/fs/FeatureServer/0", FeatureServer([], error="Invalid query parameters"))
    source = dataclasses.replace(sources.get("lsoa21_ward24_lad24_lookup"), url=url)
    with pytest.raises(DownloadError, match="refused the query: Invalid query parameters"):
        fetch_source(source, tmp_path, quick())


def test_file_download_checked_against_catalogue(server, fixture_mirror, tmp_path, capsys):
    path = fixture_mirror / "classification/RUC21_LSOA21_EW.csv"
    url = server.add("/RUC21.csv", Static(path.read_bytes(), "text/csv"))
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=url, sha256=sha256_of(path))
    result = fetch_source(source, tmp_path, quick(progress=True))
    assert result.status == "verified" and result.sha256 == sha256_of(path)
    assert (tmp_path / source.path).read_bytes() == path.read_bytes()
    assert "ruc21_lsoa21" in capsys.readouterr().err  # the progress bar names the source


def test_changed_file_is_flagged_or_refused(server, fixture_mirror, tmp_path):
    path = fixture_mirror / "classification/RUC21_LSOA21_EW.csv"
    url = server.add("/RUC21.csv", Static(path.read_bytes() + b"E01999999,UN1,x,Urban\n", "text/csv"))
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=url, sha256=sha256_of(path))
    result = fetch_source(source, tmp_path, quick())
    assert result.status == "changed" and "publisher may have revised" in result.message
    with pytest.raises(DownloadError, match="run without --strict"):
        fetch_source(source, tmp_path / "strict", quick(), strict=True)
    assert not (tmp_path / "strict" / source.path).exists()


def test_server_errors_are_retried(server, fixture_mirror, tmp_path):
    path = fixture_mirror / "classification/RUC21_LSOA21_EW.csv"
    url = server.add("/flaky.csv", Static(path.read_bytes(), statuses=[503, 502]))
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=url, sha256=sha256_of(path))
    assert fetch_source(source, tmp_path, quick(retries=2)).status == "verified"
    assert len([p for p, _ in server.requests if p == "/flaky.csv"]) == 3


def test_not_found_is_not_retried(server, tmp_path):
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=server.base + "/missing.csv")
    with pytest.raises(DownloadError, match="404"):
        fetch_source(source, tmp_path, quick(retries=3))
    assert len(server.requests) == 1


def test_offline_says_so_plainly(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=f"http://127.0.0.1:{port}/RUC21.csv")
    with pytest.raises(OfflineError) as err:
        fetch_source(source, tmp_path, quick(retries=1))
    assert "looks offline" in str(err.value) and "GAPMAP_MIRROR" in str(err.value)
    assert "gapmap data unpack" in str(err.value)  # the way for a machine that never downloads


def test_slow_server_times_out(server, tmp_path):
    url = server.add("/slow.csv", Static(b"a,b\n", delay=1.0))
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=url)
    with pytest.raises(DownloadError, match="no answer within 0.2 s after 2 tries"):
        fetch_source(source, tmp_path, quick(timeout=0.2, retries=1))


def test_broken_download_leaves_no_file(server, fixture_mirror, tmp_path):
    path = fixture_mirror / "classification/RUC21_LSOA21_EW.csv"
    url = server.add("/cut.csv", Static(path.read_bytes(), truncate=True))
    source = dataclasses.replace(sources.get("ruc21_lsoa21"), url=url)
    with pytest.raises(DownloadError):
        fetch_source(source, tmp_path, quick(retries=0))
    folder = tmp_path / "classification"
    assert not folder.exists() or not any(folder.iterdir())


def test_codepoint_zip_extracted_in_its_layout(server, fixture_mirror, tmp_path):
    archive = zip_codepoint(fixture_mirror, tmp_path / "codepo_gb.zip")
    url = server.add("/codepo_gb.zip", Static(archive.read_bytes(), "application/zip"))
    folder = fixture_mirror / "postcodes/codepo_gb"
    checksums = {p.relative_to(folder).as_posix(): sha256_of(p) for p in folder.rglob("*.csv")}
    source = dataclasses.replace(sources.get("codepoint_open"), url=url, checksums=checksums)
    result = fetch_source(source, tmp_path / "dl", quick())
    assert result.status == "verified"
    frame = read_source(source, mirror=tmp_path / "dl")
    assert len(frame) == len(read_source(source, mirror=fixture_mirror)) == 6


def test_workbook_sheet_saved_as_csv(server, tmp_path):
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as xl:
        pd.DataFrame({"Notes": ["cover"]}).to_excel(xl, sheet_name="Notes", index=False)
        pd.DataFrame({"LSOA code (2011)": ["E01000001"], "LSOA name (2011)": ["x"],
                      "Index of Multiple Deprivation (IMD) Rank": [29199],
                      "Index of Multiple Deprivation (IMD) Decile": [9]}).to_excel(xl, sheet_name="IMD2019", index=False)
    url = server.add("/File_1.xlsx", Static(buffer.getvalue()))
    source = dataclasses.replace(sources.get("imd2019_file1"), url=url)
    result = fetch_source(source, tmp_path, quick())
    assert result.status == "changed"  # not the reference copy's bytes: flagged, then read by columns
    frame = read_source(source, result.path)
    assert frame.to_dict("records") == [{"lsoa11cd": "E01000001", "imd2019_rank": 29199, "imd2019_decile": 9}]


def test_a_source_without_an_address_says_where_to_get_it(tmp_path):
    source = dataclasses.replace(sources.get("iod2019_file6"), method="manual", url="")
    result = fetch_source(source, tmp_path, quick())
    assert result.status == "manual" and source.landing in result.message and source.path in result.message


def test_mirror_verification(fixture_mirror):
    result = verify_mirror_source(sources.get("ruc21_lsoa21"), fixture_mirror)
    assert result.status == "changed"  # the fixture is not the reference copy
    missing = dataclasses.replace(sources.get("ruc21_lsoa21"), path="nowhere.csv")
    assert verify_mirror_source(missing, fixture_mirror).status == "missing"
