"""The populations denominators come from: the mid-2020 single years carried to 2021 codes, the
ONS mid-2022 LSOA 2021 estimates by sex and single year of age, and the population the MHCLG area
summaries weight by. Built from variants of the fixture mirror (see tests/fixture_mirror.py)."""
import json

import pandas as pd
import pytest

from geo.build.pipeline import build
from geo.store.folder import Store
from tests import fixture_mirror as fx

# E01009001 (4,000 people in mid-2020) split into E01000007 (1,000 Census 2021 residents) and
# E01000008 (3,000): here most of its children live in E01000007, most adults in E01000008
SKEWED_AGES = {"E01000007": [500, 100, 100, 100, 100, 100], "E01000008": [100, 500, 600, 700, 600, 500]}


def skew_children(mirror):
    """Rewrite the mirror's Census 2021 age groups of the split LSOA's parts (totals unchanged)."""
    path = mirror / "census/census2021_usual_residents_by_age_group_lsoa21.csv"
    ages = pd.read_csv(path)
    for code, counts in SKEWED_AGES.items():
        assert sum(counts) == fx.RESIDENTS[code]
        for group, n in zip(fx.AGE_GROUPS, counts):
            ages.loc[(ages["LSOA21CD"] == code) & (ages["age_group"] == group), "usual_residents"] = float(n)
    ages.to_csv(path, index=False)


@pytest.fixture(scope="module")
def skewed_store(tmp_path_factory):
    mirror = fx.write_mirror(tmp_path_factory.mktemp("skewed-mirror"))
    skew_children(mirror)
    store = Store(tmp_path_factory.mktemp("skewed-store"))
    build(store, mirror=mirror)
    return store


def test_split_lsoa_children_follow_the_child_share(skewed_store):
    # E01009001's mid-2020 single years, as the fixture writes them: 4000 // 91 a year, the rest at 0
    per_age = [4000 // 91] * 91
    per_age[0] += 4000 - sum(per_age)
    children = sum(per_age[:16])  # 0-15, the Census group 'Aged 15 years and under'
    assert children == 130 + 15 * 43
    ages = skewed_store.population_by_age().set_index("lsoa21cd")
    kids = ages[[f"age_{a}" for a in range(16)]].sum(axis=1)
    # the child share (500 of the 600 children), not the all-age share (1,000 of 4,000)
    assert kids["E01000007"] == pytest.approx(children * 500 / 600)
    assert kids["E01000008"] == pytest.approx(children * 100 / 600)
    assert ages.loc["E01000007", "age_3"] == pytest.approx(43 * 500 / 600)
    # 16-24 by its own share (100 of 600), 65 and over (90+ included) by its own (100 of 600)
    assert ages.loc["E01000007", "age_20"] == pytest.approx(43 * 100 / 600)
    assert ages.loc["E01000007", "age_90_plus"] == pytest.approx(43 * 100 / 600)
    # nothing lost: the parts hold all of E01009001, and the total is the sum of the ages
    age_columns = [c for c in ages.columns if c.startswith("age_")]
    assert ages.loc[["E01000007", "E01000008"], age_columns].to_numpy().sum() == pytest.approx(4000)
    assert ages["population_mid2020"].to_numpy() == pytest.approx(ages[age_columns].sum(axis=1).to_numpy())
    lsoas = skewed_store.lsoas(geometry=False).set_index("lsoa21cd")
    assert lsoas.loc["E01000007", "population_mid2020"] == pytest.approx(ages.loc["E01000007", age_columns].sum())
    assert any("share each single year of age by their Census 2021 residents of its age group" in note
               for note in skewed_store.manifest()["notes"])


# ---- ONS mid-2022 population by sex and single year of age (LSOA 2021) ----------------------------

AGE_COLUMNS = [f"age_{a}" for a in range(90)] + ["age_90_plus"]


def test_population_by_sex_and_age_from_the_ons_file(fixture_store):
    pop = fixture_store.population_by_sex_age()
    assert list(pop.columns) == ["lsoa21cd", "sex", *AGE_COLUMNS]  # the layout of population_by_age
    assert sorted(set(pop["lsoa21cd"])) == fx.LSOAS  # England only: the Welsh row is left out
    assert pop.groupby("lsoa21cd")["sex"].apply(list).tolist() == [["female", "male"]] * 8
    counts = fx.sex_age_counts("E01000003")
    rows = pop.set_index(["lsoa21cd", "sex"])
    assert rows.loc[("E01000003", "female"), AGE_COLUMNS].tolist() == counts["F"]
    assert rows.loc[("E01000003", "male"), AGE_COLUMNS].tolist() == counts["M"]
    assert rows.loc[("E01000003", "male"), "age_90_plus"] == counts["M"][90]  # M90 is 90 and over
    ward = fixture_store.population_by_sex_age(ward="E05000002")
    assert sorted(set(ward["lsoa21cd"])) == ["E01000003", "E01000004"] and len(ward) == 4
    assert set(fixture_store.population_by_sex_age(icb="E54000002")["lsoa21cd"]) == {"E01000007", "E01000008"}
    report = fixture_store.report("populations").set_index("source")
    assert report.loc["sape_mid2022_lsoa21_sex_age", "status"] == "present"
    assert not fixture_store.report("join_gaps")["source"].eq("sape_mid2022_lsoa21_sex_age").any()


def test_population_by_sex_columns_are_documented(fixture_store):
    from geo.store.schema import TABLES

    assert list(fixture_store.population_by_sex_age().columns) == list(TABLES["population_by_sex_age"]())
    assert list(fixture_store.population_by_age().columns) == list(TABLES["population_by_age"]())


@pytest.fixture(scope="module")
def mirror_without_sex(tmp_path_factory):
    return fx.write_mirror(tmp_path_factory.mktemp("mirror-no-sex"), population_by_sex=False)


NO_SEX_NOTE = "no population by sex: age-sex standardisation falls back to age"


def test_without_the_file_the_build_goes_on_and_says_so(mirror_without_sex, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    store = Store(tmp_path / "store")
    build(store, mirror=mirror_without_sex)
    assert store.population_by_sex_age() is None and store.population_by_sex_age(icb="E54000001") is None
    assert len(store.population_by_age()) == 8  # the rest of the build is all there
    assert any(note.startswith(NO_SEX_NOTE) for note in store.manifest()["notes"])
    assert store.manifest()["population_by_sex_age"].startswith(NO_SEX_NOTE)
    report = store.report("populations").set_index("source")
    assert report.loc["sape_mid2022_lsoa21_sex_age", "status"] == "absent"
    assert report.loc["sape_mid2022_lsoa21_sex_age", "note"].startswith(NO_SEX_NOTE)
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    status = CliRunner().invoke(main, ["data", "status"])
    assert status.exit_code == 0 and f"Note: {NO_SEX_NOTE}" in status.output
    # checking the mirror: the optional file is absent, which is not a problem
    checked = CliRunner().invoke(main, ["data", "fetch", "--mirror", str(mirror_without_sex)])
    assert checked.exit_code == 0, checked.output
    assert "absent        sape_mid2022_lsoa21_sex_age" in checked.output


def test_without_the_file_the_postgis_store_says_none(pg_cluster, mirror_without_sex, fixture_mirror):
    from geo.store.postgis import PostgisStore

    store = PostgisStore(pg_cluster.new_database("no_sex"))
    build(store, mirror=mirror_without_sex)
    assert store.population_by_sex_age() is None and store.population_by_sex_age(ward="E05000001") is None
    build(store, mirror=fixture_mirror)  # the next build has it, and every reader sees it at once
    folder = Store(fixture_mirror.parent / "sex-folder")
    build(folder, mirror=fixture_mirror)
    pd.testing.assert_frame_equal(store.population_by_sex_age(ward="E05000001"),
                                  folder.population_by_sex_age(ward="E05000001"), check_dtype=True)


def test_restricted_build_keeps_the_population_by_sex_of_its_lsoas(fixture_mirror, tmp_path):
    store = Store(tmp_path / "s")
    build(store, mirror=fixture_mirror, icb="QBB")
    pop = store.population_by_sex_age()
    assert sorted(set(pop["lsoa21cd"])) == ["E01000007", "E01000008"] and len(pop) == 4


def test_a_file_lacking_a_sex_age_column_is_refused(tmp_path):
    from geo.sources.loaders import MissingColumnError

    mirror = fx.write_mirror(tmp_path / "mirror")
    path = mirror / "population/mid2022_sex_single_year_of_age_lsoa21.csv"
    pd.read_csv(path).drop(columns=["M90"]).to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match=r"missing column 'M90'"):
        build(Store(tmp_path / "store"), mirror=mirror)


# ---- MHCLG area summaries: File 7's own denominators when it carries them -----------------------

def test_summaries_weighted_by_file_7_denominators_when_present(fixture_mirror, tmp_path, monkeypatch):
    import shutil

    from click.testing import CliRunner

    from geo.cli import main
    from geo.sources import catalogue as sources
    from tests.fixture_mirror import official_files

    mirror = tmp_path / "mirror"
    shutil.copytree(fixture_mirror, mirror)
    (mirror / sources.get("iod2025_file7").path).write_bytes(official_files(fixture_mirror)["iod2025_file7"])
    store = Store(tmp_path / "store")
    build(store, mirror=mirror)
    lad = store.areas("lad").set_index("lad24cd")
    # the official File 7's 'Total population: mid 2022' is Census residents + 10 in the fixture
    lad1 = ["E01000001", "E01000002", "E01000003", "E01000004"]
    weights = {c: fx.RESIDENTS[c] + 10 for c in lad1}
    assert lad.loc["E06000001", "population"] == pytest.approx(sum(weights.values()))
    assert lad.loc["E06000001", "average_score"] == pytest.approx(
        sum(fx.SCORES[c] * w for c, w in weights.items()) / sum(weights.values()))
    assert set(lad["population_weights"]) == {"File 7 mid-2022 denominators"}
    assert set(store.areas("ward")["population_weights"]) == {"File 7 mid-2022 denominators"}
    assert store.manifest()["population_for_summaries"] == "File 7 mid-2022 denominators"
    lsoas = store.lsoas(geometry=False).set_index("lsoa21cd")
    assert lsoas.loc["E01000001", "file7_population_mid2022"] == fx.RESIDENTS["E01000001"] + 10
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    out = CliRunner().invoke(main, ["areas", "--level", "lad", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert {row["population_weights"] for row in json.loads(out.output)} == {"File 7 mid-2022 denominators"}
    status = CliRunner().invoke(main, ["data", "status"])
    assert "Area summaries weighted by: File 7 mid-2022 denominators" in status.output


def test_summaries_weighted_by_census_residents_without_them(fixture_store):
    lad = fixture_store.areas("lad").set_index("lad24cd")
    census = "Census 2021 usual residents (File 7's denominators absent)"
    assert set(lad["population_weights"]) == {census}
    assert lad.loc["E06000001", "population"] == pytest.approx(1500 + 1600 + 1400 + 1700)
    lad1 = ["E01000001", "E01000002", "E01000003", "E01000004"]
    assert lad.loc["E06000001", "average_score"] == pytest.approx(
        sum(fx.SCORES[c] * fx.RESIDENTS[c] for c in lad1) / sum(fx.RESIDENTS[c] for c in lad1))
    assert fixture_store.manifest()["population_for_summaries"] == census
    assert "file7_population_mid2022" not in fixture_store.columns("lsoas")
