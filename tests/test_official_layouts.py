"""The official layouts: fetched from a loopback server that serves each file as its publisher
does, reshaped, and built into a store equal to the one built from the mirror-shaped fixture."""
import dataclasses
import io
import json
import zipfile
from datetime import date, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner

from geo.sources import catalogue as sources
from geo.cli import main
from geo.sources.fetch import DownloadError, dated_candidates
from geo.sources.loaders import MissingColumnError, read_source
from geo.sources.official_layouts import LayoutError, read_official, snake_case
from geo.store.folder import Store
from tests.fixture_mirror import official_files
from tests.http_fixture import LoopbackServer, Observations, serve_catalogue


@pytest.fixture(scope="module")
def official(fixture_mirror):
    return official_files(fixture_mirror)


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    folder = store.path
    frames = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    frames.update({f"reports/{p.stem}": pd.read_csv(p, dtype=str) for p in sorted((folder / "reports").glob("*.csv"))})
    return frames


def test_fetch_and_build_without_a_mirror_equals_the_mirror_build(fixture_mirror, fixture_store, official,
                                                                   tmp_path, monkeypatch):
    gias_day = (date.today() - timedelta(days=3)).strftime("%Y%m%d")
    with LoopbackServer() as server:
        catalogue = serve_catalogue(server, fixture_mirror, official, tmp_path, gias_day)
        monkeypatch.setenv("GAPMAP_CATALOGUE", str(catalogue))
        monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
        monkeypatch.setenv("GAPMAP_DOWNLOADS", str(tmp_path / "downloads"))
        runner = CliRunner()
        fetched = runner.invoke(main, ["data", "fetch", "--retries", "0", "--timeout", "20"])
        assert fetched.exit_code == 0, fetched.output
        built = runner.invoke(main, ["data", "build"])
        assert built.exit_code == 0, built.output
        asked = [path for path, _ in server.requests]
        # the README's first command: `gapmap data build` alone fetches what is missing first
        monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store-direct"))
        monkeypatch.setenv("GAPMAP_DOWNLOADS", str(tmp_path / "downloads-direct"))
        direct = runner.invoke(main, ["data", "build", "--quiet"])
        assert direct.exit_code == 0, direct.output
    # every derived source was read from its official layout
    for source in sources.load_catalogue(catalogue).values():
        if source.derived:
            assert f"reshaped      {source.id}" in fetched.output
    assert f"/edubase/downloads/public/edubasealldata{gias_day}.csv" in asked  # found by looking back
    # the official File 7 carries MHCLG's mid-2022 denominators, which the reference copy omits: a
    # build from downloads weights the area summaries by them, so it equals a build from a mirror
    # holding the official File 7 (and the fixture mirror's build weights by Census 2021 residents)
    import shutil

    from geo.build.pipeline import build

    full = tmp_path / "mirror-with-file7-denominators"
    shutil.copytree(fixture_mirror, full)
    (full / sources.get("iod2025_file7").path).write_bytes(official["iod2025_file7"])
    build(Store(tmp_path / "reference"), mirror=full)
    ours, reference = _tables(Store(tmp_path / "store")), _tables(Store(tmp_path / "reference"))
    assert set(ours["areas_lad"]["population_weights"]) == {"File 7 mid-2022 denominators"}
    assert set(_tables(fixture_store)["areas_lad"]["population_weights"]) == {
        "Census 2021 usual residents (File 7's denominators absent)"}
    assert sorted(ours) == sorted(reference)
    assert _tables(Store(tmp_path / "store-direct"))["lsoas"].equals(ours["lsoas"])
    for name, frame in reference.items():
        other = ours[name]
        assert list(other.columns) == list(frame.columns), name
        for column in frame.columns:  # column by column, so a failure names the column
            pd.testing.assert_series_equal(other[column], frame[column], obj=f"{name}.{column}")


def _source(source_id, **official):
    source = sources.get(source_id)
    return dataclasses.replace(source, official={**source.official, **official})


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_snake_case_as_janitor_writes_it():
    assert snake_case("Core homelessness rate (% of households)") == "core_homelessness_rate_percent_of_households"
    assert snake_case("Violence with injury rate per 1,000 at-risk population") == \
        "violence_with_injury_rate_per_1_000_at_risk_population"
    assert snake_case("Income Deprivation Affecting Children Index (IDACI) numerator") == \
        "income_deprivation_affecting_children_index_idaci_numerator"


def test_each_layout_reads_to_the_reference_copy(fixture_mirror, official, tmp_path):
    """Reading an official file gives what the build reads from the mirror's copy, row for row."""
    (tmp_path / "postcodes").mkdir()
    import shutil
    shutil.copytree(fixture_mirror / "postcodes/codepo_gb", tmp_path / "postcodes/codepo_gb")
    for source in sources.load_catalogue().values():
        if not source.derived:
            continue
        path = _write(tmp_path, f"{source.id}.official", official[source.id])
        frame = read_official(source, path, tmp_path)
        reshaped = tmp_path / "reshaped" / source.path
        reshaped.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(reshaped, index=False)
        ours = read_source(source, reshaped)
        theirs = read_source(source, fixture_mirror / source.path)
        if source.id == "gias_establishments":  # GIAS's closed school is left out
            assert 9999 not in set(ours["urn"])
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True), obj=source.id)


def test_a_missing_zip_member_is_named(official, tmp_path):
    source = _source("census21_ethnic_group", member="census2021-ts021-oa.csv")
    path = _write(tmp_path, "ts021.zip", official["census21_ethnic_group"])
    with pytest.raises(LayoutError, match=r"ts021\.zip: expected one member matching 'census2021-ts021-oa\.csv'.*"
                                          r"census2021-ts021-lsoa\.csv"):
        read_official(source, path, tmp_path)
    with pytest.raises(LayoutError, match="expected a zip archive"):
        read_official(source, _write(tmp_path, "not.zip", b"date,geography\n"), tmp_path)


def test_a_renamed_column_is_named_with_a_hint(official, tmp_path):
    data = official["gias_establishments"].replace(b"EstablishmentName", b"Establishment Name")
    with pytest.raises(MissingColumnError, match=r"missing column 'EstablishmentName' \(did you mean "
                                                 r"'Establishment Name'\?\)"):
        read_official(sources.get("gias_establishments"), _write(tmp_path, "edubase.csv", data), tmp_path)


def test_headerless_file_of_another_width_is_refused(tmp_path):
    data = b'"A00001","ALPHA SURGERY","Y61"\r\n'
    path = _write(tmp_path, "epraccur.zip", b"")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("epraccur.csv", data)
    with pytest.raises(LayoutError, match=r"expected 27 columns \(the publisher.s column list\), found 3"):
        read_official(sources.get("ods_gp_practices"), path, tmp_path)


def test_workbook_without_a_domain_sheet_is_refused(official, tmp_path):
    source = _source("iod2025_underlying_indicators", sheets=["IoD25 Income Domain", "IoD25 Wellbeing Domain"])
    path = _write(tmp_path, "File_8.xlsx", official["iod2025_underlying_indicators"])
    with pytest.raises(LayoutError, match="lacks a sheet"):
        read_official(source, path, tmp_path)


def test_census_api_answer_checked(official, tmp_path):
    payload = json.loads(official["census21_age_groups"])
    payload["total_observations"] += 6
    path = _write(tmp_path, "obs.json", json.dumps(payload).encode())
    with pytest.raises(LayoutError, match=r"said 60 observations but the answer holds 54"):
        read_official(sources.get("census21_age_groups"), path, tmp_path)
    with pytest.raises(LayoutError, match="expected the ONS census API's JSON"):
        read_official(sources.get("census21_age_groups"), _write(tmp_path, "x.json", b"<html>"), tmp_path)


def test_hospitals_need_code_point_first(official, tmp_path):
    path = _write(tmp_path, "Hospital.csv", official["hospitals"])
    with pytest.raises(sources.SourceError, match="codepoint_open, which must be fetched first"):
        read_official(sources.get("hospitals"), path, tmp_path / "empty")


def test_hospital_list_separator_and_encoding(fixture_mirror, official, tmp_path):
    path = _write(tmp_path, "Hospital.csv", official["hospitals"])
    frame = read_official(sources.get("hospitals"), path, fixture_mirror)
    assert frame["name"].tolist() == ["Alpha General", "Alpha General", "Offshore Clinic", "Nowhere Cottage Hospital"]
    assert frame["longitude"].notna().tolist() == [True, True, True, False]  # LU9 9NW is not in Code-Point Open


def test_dated_addresses_newest_first():
    source = sources.get("gias_establishments")
    urls = dated_candidates(source, today=date(2026, 3, 2))
    assert urls[0].endswith("edubasealldata20260302.csv") and urls[2].endswith("edubasealldata20260228.csv")
    assert len(urls) == 16 and urls[-1] == source.url  # 15 days, then the catalogued address


def test_no_dated_file_says_where_to_look(tmp_path):
    from geo.sources.fetch import Downloader, fetch_source

    with LoopbackServer() as server:
        source = _source("gias_establishments", dated_url=server.base + "/edubasealldata{date}.csv",
                         look_back_days=2)
        source = dataclasses.replace(source, url=server.base + "/edubasealldata20250524.csv")
        with pytest.raises(DownloadError, match=r"404 for every dated file name tried \(edubasealldata\d{8}\.csv "
                                                r"back to edubasealldata\d{8}\.csv\) .*get-information-schools"):
            fetch_source(source, tmp_path, Downloader(timeout=5, retries=0))
        assert len(server.requests) == 4  # three dated names, then the catalogued one


def test_every_entry_says_where_its_layout_was_confirmed():
    for source in sources.load_catalogue().values():
        assert len(source.layout_confirmed) > 20, source.id
        assert source.method != "manual", f"{source.id} has no address"
        if source.derived:
            assert source.official.get("layout"), source.id


def test_census_api_pages_are_all_fetched(fixture_mirror, official, tmp_path):
    from geo.sources.fetch import Downloader, fetch_source

    payload = json.loads(official["census21_age_groups"])
    with LoopbackServer() as server:
        url = server.add("/v1/population-types/UR/census-observations", Observations(payload, page_size=25))
        source = dataclasses.replace(sources.get("census21_age_groups"),
                                     url=url + "?area-type=lsoa&dimensions=resident_age_6a")
        result = fetch_source(source, tmp_path, Downloader(timeout=5, retries=0))
        offsets = [q.get("offset") for _, q in server.requests]
    assert result.status == "reshaped" and offsets == [None, "25", "50"]  # 54 observations, 25 a page
    pd.testing.assert_frame_equal(read_source(source, result.path),
                                  read_source(source, fixture_mirror / source.path))


def test_a_cell_that_is_not_a_number_is_named_by_row_and_column(official, tmp_path):
    data = official["gias_establishments"].decode("cp1252").splitlines()
    cells = data[3].split(",")
    cells[15] = "lots"  # NumberOfPupils of the third establishment, on the file's row 4
    data[3] = ",".join(cells)
    path = _write(tmp_path, "edubase.csv", "\n".join(data).encode("cp1252"))
    with pytest.raises(LayoutError, match=r"edubase\.csv, row 4, column 'NumberOfPupils': 'lots' is not a number"):
        read_official(sources.get("gias_establishments"), path, tmp_path)
