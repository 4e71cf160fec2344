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


# ---- issue 18: the whole demo statement against an independent recomputation ------------------
MIRROR_FILE7 = "deprivation/File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
Z = 1.959963984540054
ESP = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500,
       1000]


@pytest.fixture(scope="module")
def demo(england_store, real_mirror, tmp_path_factory):
    """`gapmap demo-data --icb QHG --indicators all --ingest` on the England store, then the BLMK
    statement twice: as published, and with the perturbation off and the floor lowered (so that
    every figure can be compared with the recomputation to 1e-9)."""
    import numpy as np
    import pandas as pd
    from click.testing import CliRunner

    from geo.cli import main
    from geo.rates import disclosure

    out = tmp_path_factory.mktemp("demo-all")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAPMAP_STORE", str(england_store.root))
        result = CliRunner().invoke(main, ["demo-data", "--icb", "QHG", "--indicators", "all", "--ingest",
                                           "--out", str(out)])
        assert result.exit_code == 0, result.output
    names = [n for n in DatasetStore(england_store).names() if n.startswith("demo-")]
    codes = ["UEC01", "ORA01", "CVD01", "MAT01", "RES02", "CVD03"]
    map_table.clear_caches()
    published = statement.build(england_store, Extent("icb", BLMK), codes)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAPMAP_MIN_SUPPRESS", "0")
        mp.setenv("GAPMAP_MIN_ROUND", "1")
        mp.setattr(disclosure, "cell_noise", lambda keys, secret, scale=2.0: np.zeros(len(keys)))
        map_table.clear_caches()
        exact = statement.build(england_store, Extent("icb", BLMK), codes)
    map_table.clear_caches()
    file7 = pd.read_csv(real_mirror / MIRROR_FILE7, usecols=[0, 4, 6])
    file7.columns = ["lsoa", "score", "decile"]
    file7["quintile"] = (file7["decile"] + 1) // 2
    icb = pd.read_csv(real_mirror / "lookups/LSOA21_SICBL24_ICB24_EN_LU.csv", usecols=["LSOA21CD", "ICB24CD"])
    blmk = set(icb.loc[icb["ICB24CD"] == BLMK, "LSOA21CD"])
    yield {"published": published, "exact": exact, "out": out, "file7": file7.set_index("lsoa"), "blmk": blmk,
           "store": england_store}
    for name in names:
        DatasetStore(england_store).remove(name)


def _residents(store, lo, hi):
    pop = store.population_by_age(icb=BLMK).set_index("lsoa21cd")
    columns = [c for c in pop.columns if c.startswith("age_")]
    return pop[columns[lo:min(hi, 90) + 1]].astype(float).sum(axis=1)


def test_the_demo_statement_covers_every_measure_type(demo):
    sections = {s.code: s for s in demo["published"].with_data}
    assert set(sections) == {"UEC01", "ORA01", "CVD01", "MAT01", "RES02", "CVD03"}
    assert sections["UEC01"].unit == "per 100,000 residents aged 0-17 per year"
    assert sections["ORA01"].unit == "per 100,000 residents aged 0-10 per year"
    assert sections["MAT01"].unit == "% of births with a recorded gestation"
    assert sections["RES02"].unit == "% of people eligible for flu vaccination"
    assert sections["CVD03"].unit == "% of patients aged 18+ with hypertension"
    # the mirror has no population by sex: CVD01 is standardised by age and says so
    assert sections["CVD01"].headline == "age-standardised rate"
    assert any("Standardised by age only" in n for n in sections["CVD01"].notes)
    for s in sections.values():  # every finding quotes the indicator's own unit
        for f in s.findings:
            if f["topic"] in ("deprivation", "ethnic group", "age band"):
                assert (s.unit in f["text"]) or ("%" in f["text"] and s.is_proportion), (s.code, f["text"])
    # uptake and care processes: higher is better, so a positive SII still means the most deprived worse off
    assert sections["RES02"].higher_is_worse is False and sections["RES02"].sii["sii"] > 0


def test_rate_x_population_gives_back_only_published_counts(demo):
    import math

    from tests.test_attack import unrounded

    for s in demo["published"].with_data:
        years = 3.0 if s.definition.measure_type == "rate" else 1.0
        for table in (s.quintiles, s.quintiles_local, s.ethnic, s.age, s.funnel_points):
            if table is None:
                continue
            rows = table.assign(per=s.per, kind=s.definition.measure_type)
            assert unrounded(rows, years) == [], (s.code, unrounded(rows, years)[:3])
            assert all(math.isnan(c) or c % 5 == 0 for c in table["count"]), s.code


def test_each_number_equals_a_recomputation_from_the_raw_files(demo):
    """From the raw demo files and the raw File 7 and ICB lookup of the mirror: events of each
    national quintile, over the residents of the definition's ages per year (three financial
    years), DSRs over the ESP bands, Wilson percentages; the practice indicator from the raw
    practice file and the raw registrations."""
    import math

    import numpy as np
    import pandas as pd

    out, store, file7, blmk = demo["out"], demo["store"], demo["file7"], demo["blmk"]
    sections = {s.code: s for s in demo["exact"].with_data}
    quintile = file7["quintile"]
    for code, lo, hi in (("UEC01", 0, 17), ("ORA01", 0, 10)):
        raw = pd.read_csv(out / f"demo_{code.lower()}.csv", dtype=str)
        raw = raw[raw["Der_Postcode_LSOA_2021_Code"].isin(blmk)]
        assert raw["Age_On_Admission"].astype(int).between(lo, hi).all()
        residents = _residents(store, lo, hi)
        s = sections[code]
        q = s.quintiles.set_index("group")
        events = raw.groupby(raw["Der_Postcode_LSOA_2021_Code"].map(quintile)).size()
        people = residents.groupby(quintile.reindex(residents.index).to_numpy()).sum()
        for g in q.index:
            assert q.loc[g, "count"] == events.get(g, 0), (code, g)
            assert q.loc[g, "population"] == pytest.approx(people.loc[g], rel=1e-9)
            assert q.loc[g, "crude_rate"] == pytest.approx(events.get(g, 0) / (people.loc[g] * 3) * 1e5, rel=1e-9)
        assert s.total["crude_rate"] == pytest.approx(len(raw) / (residents.sum() * 3) * 1e5, rel=1e-9)
    # CVD01: DSR over the 19 ESP bands (ages), three years
    raw = pd.read_csv(out / "demo_cvd01.csv", dtype=str)
    raw = raw[raw["Der_Postcode_LSOA_2021_Code"].isin(blmk)]
    band = np.minimum(raw["Age_On_Admission"].astype(int) // 5, 18)
    x = np.bincount(band, minlength=19).astype(float)
    n = np.array([_residents(store, 5 * b, 5 * b + 4 if b < 18 else 90).sum() * 3 for b in range(19)])
    dsr = float(np.dot(ESP, x / n) / sum(ESP) * 1e5)
    assert sections["CVD01"].total["dsr"] == pytest.approx(dsr, rel=1e-9)
    # MAT01: preterm births over births, Wilson limits
    births = pd.read_csv(out / "demo_mat01.csv", dtype=str)
    births = births[births["LSOA_2021_Code"].isin(blmk)]
    q = sections["MAT01"].quintiles.set_index("group")
    for g, part in births.groupby(births["LSOA_2021_Code"].map(quintile)):
        k, m = float((part["Preterm"] == "Y").sum()), float(len(part))
        p = k / m
        centre = (p + Z * Z / (2 * m)) / (1 + Z * Z / m)
        half = Z * math.sqrt(p * (1 - p) / m + Z * Z / (4 * m * m)) / (1 + Z * Z / m)
        assert (q.loc[g, "count"], q.loc[g, "population"]) == (k, m)
        assert q.loc[g, "proportion"] == pytest.approx(p * 100, rel=1e-9)
        assert q.loc[g, "proportion_lower"] == pytest.approx((centre - half) * 100, rel=1e-9)
    # RES02: vaccinated over eligible in the latest season (a snapshot: the same people are eligible
    # every season, so seasons are not pooled; each is in the trend)
    flu = pd.read_csv(out / "demo_res02.csv")
    flu = flu[flu["LSOA21CD"].isin(blmk) & (flu["Season"] == flu["Season"].max())]
    assert flu["Season"].max() in sections["RES02"].years_note
    q = sections["RES02"].quintiles.set_index("group")
    sums = flu.groupby(flu["LSOA21CD"].map(quintile))[["Vaccinated", "Eligible"]].sum()
    for g in q.index:
        assert q.loc[g, "proportion"] == pytest.approx(sums.loc[g, "Vaccinated"] / sums.loc[g, "Eligible"] * 100,
                                                       rel=1e-9)
    # CVD03: each practice's numbers shared among its patients' LSOAs (the raw registrations file)
    values = pd.read_csv(out / "demo_cvd03.csv")
    reg = pd.read_csv(out / "demo_gp-reg-pat-prac-lsoa-all.csv")
    reg = reg[reg["SEX"] == "ALL"]
    share = reg.assign(inside=reg["LSOA_CODE"].isin(blmk) * reg["NUMBER_OF_PATIENTS"]).groupby("PRACTICE_CODE")[
        ["inside", "NUMBER_OF_PATIENTS"]].sum()
    share = share["inside"] / share["NUMBER_OF_PATIENTS"]
    values = values.set_index("Practice_Code")
    numerator = float((values["Numerator"] * share.reindex(values.index)).sum())
    denominator = float((values["Denominator"] * share.reindex(values.index)).sum())
    total = sections["CVD03"].total
    assert total["proportion"] == pytest.approx(numerator / denominator * 100, rel=1e-6)
    # and by the IMD quintile of each practice's registered patients: the population-weighted score
    weighted = reg.assign(score=reg["LSOA_CODE"].map(file7["score"]) * reg["NUMBER_OF_PATIENTS"]) \
        .groupby("PRACTICE_CODE")[["score", "NUMBER_OF_PATIENTS"]].sum()
    weighted = weighted["score"] / weighted["NUMBER_OF_PATIENTS"]
    from geo.store.datasets import DatasetStore as Datasets

    practices = Datasets(store).get(sections["CVD03"].dataset).practices().set_index("practice_code")
    assert practices["imd_score"].to_numpy() == pytest.approx(weighted.reindex(practices.index).to_numpy(), rel=1e-9)
    q = sections["CVD03"].quintiles.set_index("group")
    in_blmk = practices[practices["lsoa21cd"].isin(blmk)]
    for g, part in in_blmk.groupby(in_blmk["imd_quintile"].astype(int)):
        mine = values.reindex(part.index)
        assert q.loc[g, "proportion"] == pytest.approx(mine["Numerator"].sum() / mine["Denominator"].sum() * 100,
                                                       rel=1e-9)
