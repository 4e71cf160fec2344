"""The populations denominators come from: the mid-2020 single years carried to 2021 codes, the
ONS mid-2022 LSOA 2021 estimates by sex and single year of age, and the population the MHCLG area
summaries weight by. Built from variants of the fixture mirror (see tests/fixture_mirror.py)."""
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
