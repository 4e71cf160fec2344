"""The demo statement on the real BLMK population (needs the real data mirror, GAPMAP_MIRROR)."""
import pytest

from geo.views import map_table
from geo.views import statement
from geo.ingest import synthetic
from geo.views.analysis import Extent
from geo.store.datasets import DatasetStore
from geo.ingest.pipeline import IngestOptions, ingest

BLMK = "E54000024"


@pytest.fixture(scope="module")
def blmk(england_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blmk-demo")
    names = []
    for code in ("UEC01", "ORA01"):
        table, meta = synthetic.generate_profile(england_store, BLMK, code, seed=3)
        path = synthetic.write(table, meta, tmp / f"{code}.csv")
        name = f"test-demo-{code.lower()}"
        ingest(path, IngestOptions(name=name, by=("age_band", "sex", "ethnic_group", "period"), nhs_indicator=code,
                                   measure=meta["measure"]), england_store)
        names.append(name)
    yield england_store, statement.build(england_store, Extent("icb", BLMK), ["UEC01", "ORA01"])
    for name in names:
        DatasetStore(england_store).remove(name)


def test_demo_profiles_tell_the_story(blmk):
    store, st = blmk
    uec, ora = st.with_data
    assert uec.synthetic and ora.synthetic and "SYNTHETIC" in uec.measure
    # the invented gradients show, significantly: tooth extractions rise with deprivation
    assert ora.sii["sii_lower_95"] > 0 and ora.gap["ratio"] > 1.3
    # ages: tooth extractions are of children aged 10 and under only, emergency admissions under 18,
    # each band cut at the indicator's ages, and each rate per residents of those ages per year
    assert set(ora.age["group"]) <= {"0-4", "5-9", "10"}
    assert set(uec.age["group"]) <= {"0-4", "5-9", "10-14", "15-17"}
    assert ora.unit == "per 100,000 residents aged 0-10 per year"
    assert uec.unit == "per 100,000 residents aged 0-17 per year"
    # the UEC01 gap widens by design over the three years, and the statement says so with its test
    assert uec.trend_test["significant"] and uec.trend_test["direction"] == "widened"
    assert any(f["topic"] == "trend" and "widened significantly" in f["text"] for f in uec.findings)


def test_blmk_numbers_are_by_groups(blmk):
    store, st = blmk
    for section in st.with_data:
        expected = map_table.group_table(store, section.dataset, Extent("icb", BLMK), "imd_quintile")
        assert section.quintiles["crude_rate"].tolist() == pytest.approx(expected["crude_rate"].tolist())
        assert section.sii == expected.attrs["sii"]
        wards = section.funnel_points[section.funnel_points["kind"] == "ward"]
        by_ward = map_table.group_table(store, section.dataset, Extent("icb", BLMK), "ward24cd")
        assert wards["group"].tolist() == by_ward.loc[by_ward["population"] > 0, "group"].tolist()
        assert len(wards) <= store.lsoas(icb=BLMK, geometry=False, columns=["ward24cd"])["ward24cd"].nunique()
