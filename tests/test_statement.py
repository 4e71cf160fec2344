"""The health inequalities statement: every number in the deck, the report and the tables is the
published group table's (:func:`geo.views.map_table.group_table`), and that table equals an
independent recomputation from the raw file and the raw population: UEC01's definition (residents
aged 0-17, per year over the two financial years of the file), published counts (multiples of 5
within the perturbation of the raw count, hidden from 1 to 7), rates from those counts.

The data is a sparse aggregated file written here: most LSOA x age band x sex x ethnic group x
period cells are zero, a few are large, so some groups are suppressed (1-7) and others are not.
"""
import io
import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pptx import Presentation

from geo.views import map_table
from geo.views import statement
from geo.outputs import statement_files as statement_output
from geo.views import statement_targets
from geo.views.analysis import Extent
from geo.ingest.codes import ESP_BANDS
from geo.rates.confidence_intervals import crude_rate
from geo.store.datasets import DatasetStore
from geo.ingest.pipeline import IngestOptions, ingest
from geo.views.statement import fmt
from tests.test_browser import browser  # noqa: F401 (the selenium fixture)

ICB = "E54000001"
LSOAS = [f"E0100000{i}" for i in range(1, 9)]


def _sparse_file(path, seed=5):
    rng = np.random.default_rng(seed)
    rows = []
    for code in LSOAS:
        for band in [*ESP_BANDS[:3], "15-17"]:  # UEC01's ages, 0-17
            for sex in ("1", "2"):
                for ethnic in ("A", "H", "M"):
                    for period in ("2022/23", "2023/24"):
                        big = rng.random() < 0.08
                        count = int(rng.poisson(25)) if big else int(rng.random() < 0.1)
                        rows.append({"lsoa": code, "age_band": band, "sex": sex, "ethnic_group": ethnic,
                                     "period": period, "count": count})
    frame = pd.DataFrame(rows)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def built(fixture_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("statement")
    raw = _sparse_file(tmp / "uec.csv")
    for name, code in (("uec-test", "UEC01"), ("dia-test", "DIA01")):
        # the file holds events aged 0-17, UEC01's ages; DIA01 (adults) is widened to all ages here, or
        # every band would be listed as outside its ages
        result = ingest(tmp / "uec.csv", IngestOptions(name=name, shape="aggregated", measure=f"{code} events",
                                                       nhs_indicator=code, synthetic=True,
                                                       ages="all" if code == "DIA01" else None),
                        fixture_store)
        assert result.report["counts_used"] == raw["count"].sum()
    st = statement.build(fixture_store, Extent("icb", ICB), targets=("core20", "most-deprived-40"))
    out = tmp / "out"
    paths = statement_output.write_all(st, out)
    yield fixture_store, st, paths, raw
    for name in ("uec-test", "dia-test"):
        DatasetStore(fixture_store).remove(name)


def _by_group(store, grouping, name="uec-test", **kw):
    return map_table.group_table(store, name, Extent("icb", ICB), grouping, **kw)


YEARS = 2  # the file's two financial years: UEC01 is a rate per year
NOISE = 30  # the perturbation of a published count: |e| above 25 has a chance of about 1 in 200,000


def assert_published(count, raw):
    """A published count: hidden from 1 to 7 (and when a small count is perturbed below 10), else a
    multiple of 5 near the raw count (0 stays 0)."""
    if 1 <= raw <= 7:
        assert math.isnan(count), (count, raw)
    elif raw == 0:
        assert count == 0
    elif math.isnan(count):
        assert raw <= 7 + NOISE, (count, raw)
    else:
        assert count % 5 == 0 and count >= 10 and abs(count - raw) <= NOISE, (count, raw)


def residents(store, lo, hi, **filters):
    """Residents of ages lo..hi from the store's raw single-year population (age_90 is 90+)."""
    pop = store.population_by_age(**filters)
    return pop[[f"age_{a}" for a in range(lo, min(hi, 90) + 1)]].to_numpy(float).sum(axis=1), pop["lsoa21cd"]


def test_sections_and_no_data(built):
    store, st, paths, raw = built
    assert [s.code for s in st.with_data] == ["UEC01", "DIA01"]
    assert len(st.sections) == 23
    no_data = [s for s in st.sections if not s.has_data]
    assert all("--nhs-indicator " + s.code in s.how_to_attach for s in no_data)
    index = paths["report"].read_text()
    assert "no data attached" in index and "SYNTHETIC DATA" in index


def test_quintiles_equal_by_group(built):
    store, st, _, _ = built
    s = st.with_data[0]
    for grouping, table, sii in (("imd_quintile", s.quintiles, s.sii),
                                 ("imd_quintile_in_icb", s.quintiles_local, s.sii_local)):
        expected = _by_group(store, grouping)
        cols = [c for c in ("group", "count", "population", "value", "lower", "upper", "crude_rate", "crude_lower",
                            "crude_upper", "dsr", "dsr_lower", "dsr_upper") if c in expected]
        pd.testing.assert_frame_equal(table[cols].reset_index(drop=True), expected[cols].reset_index(drop=True))
        assert sii == expected.attrs.get("sii")
    assert s.gap == _by_group(store, "imd_quintile").attrs.get("gap")


def test_extent_total_is_the_sum_of_the_groups(built):
    store, st, _, raw = built
    s = st.with_data[0]
    q = _by_group(store, "imd_quintile")
    # populations are residents aged 0-17 (UEC01), not rounded: the whole equals the sum of the quintiles
    assert s.total["population"] == pytest.approx(q["population"].sum())
    children, _ = residents(store, 0, 17, icb=ICB)
    assert s.total["population"] == pytest.approx(children.sum())
    inside = raw[raw["lsoa"].isin(LSOAS[:6])]
    assert_published(s.total["count"], inside["count"].sum())
    # the rate is the published count over residents aged 0-17 per year: rate x population x years = count
    r = crude_rate([s.total["count"]], [children.sum() * YEARS], 100_000)
    assert s.total["crude_rate"] == pytest.approx(r["value"][0])
    assert s.total["crude_rate"] * s.total["population"] * YEARS / 1e5 == pytest.approx(s.total["count"])
    assert s.unit == "per 100,000 residents aged 0-17 per year" and s.headline == "crude rate"


def test_ethnic_and_age_rates_and_comparisons(built):
    store, st, _, raw = built
    s = st.with_data[0]
    expected = _by_group(store, "ethnic_group")
    for c in ("group", "count", "crude_rate", "crude_lower", "crude_upper"):
        assert s.ethnic[c].tolist() == pytest.approx(expected[c].tolist(), nan_ok=True) if c != "group" else \
            s.ethnic[c].tolist() == expected[c].tolist()
    bench = s.ethnic_total["crude_rate"]
    for r in s.ethnic.itertuples():
        if r.crude_rate != r.crude_rate:
            assert r.compared is None
        else:
            assert r.compared == ("higher" if r.crude_lower > bench else "lower" if r.crude_upper < bench
                                  else "similar")
    # ethnic groups of children: each LSOA's residents aged 0-17 split by its all-age Census mix
    children, codes = residents(store, 0, 17, icb=ICB)
    mix = store.lsoas(icb=ICB, geometry=False, columns=["lsoa21cd", "ethnic_white_residents",
                                                          "ethnic_asian_residents", "ethnic_black_residents",
                                                          "ethnic_mixed_residents", "ethnic_other_residents"])
    mix = mix.set_index("lsoa21cd").loc[codes]
    white = (children * mix["ethnic_white_residents"].to_numpy() / mix.sum(axis=1).to_numpy()).sum()
    assert s.ethnic.set_index("group").loc["white", "population"] == pytest.approx(white)
    # age bands cut at 0-17: counts recomputed independently from the raw file, populations from the store
    inside = raw[raw["lsoa"].isin(LSOAS[:6])]
    assert s.age["group"].tolist() == ["0-4", "5-9", "10-14", "15-17"]
    for r in s.age.itertuples():
        lo, hi = (int(x) for x in r.group.split("-"))
        count = inside.loc[inside["age_band"] == r.group, "count"].sum()
        population = residents(store, lo, hi, icb=ICB)[0].sum()
        assert r.population == pytest.approx(population)
        assert_published(r.count, count)
        if not math.isnan(r.count):
            assert r.crude_rate == pytest.approx(r.count / (population * YEARS) * 1e5)


def test_disclosure_control_everywhere(built):
    store, st, paths, raw = built
    numbers = statement.numbers(st)
    counts = numbers[numbers["measure"] == "count"]["value"]
    assert len(counts) and ((counts % 5) == 0).all() and not counts.between(1, 7).any()
    csv = pd.read_csv(paths["csv"], comment="#")
    published = csv.loc[csv["measure"] == "events_published", "value"]  # the exports' name for a count
    assert len(published) and not published.between(1, 7).any() and "count" not in set(csv["measure"])
    # a suppressed group shows no rate anywhere
    for s in st.with_data:
        for table in (s.quintiles, s.ethnic, s.age, s.funnel_points):
            hidden = table[table["count"].isna() & table["population"].notna()]
            assert hidden["value"].isna().all()
    suppressed = st.with_data[0].funnel_points
    assert (suppressed["count"].isna() == suppressed["significance"].isna()).all()


def test_shares_for_share_indicators(built):
    store, st, _, _ = built
    dia = st.with_data[1]
    assert dia.code == "DIA01" and dia.shares is not None and st.with_data[0].shares is None
    q = _by_group(store, "imd_quintile", name="dia-test")
    shares = dia.shares[dia.shares["grouping"] == "national IMD quintile"]
    total = q["count"].sum()
    for r, e in zip(shares.itertuples(), q.itertuples()):
        assert r.activity_share == pytest.approx(e.count / total * 100)
        assert r.population_share == pytest.approx(e.population / q["population"].sum() * 100)
        # Wilson interval recomputed here
        z = 1.959963984540054
        n, p = total, e.count / total
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert r.activity_lower == pytest.approx((centre - half) * 100)
        assert r.activity_upper == pytest.approx((centre + half) * 100)


def test_trend_equals_by_group_per_period(built, fixture_store, tmp_path):
    store, st, _, raw = built
    s = st.with_data[0]
    assert sorted(s.trend["period"].unique()) == ["2022/23", "2023/24"]
    # each period's numbers: counts from that period's raw rows alone (published), over residents
    # aged 0-17 for one year
    quintile = store.lsoas(icb=ICB, geometry=False, columns=["lsoa21cd", "imd_quintile"]).set_index("lsoa21cd")
    children, codes = residents(store, 0, 17, icb=ICB)
    pop_q = pd.Series(children, index=codes).groupby(quintile["imd_quintile"].reindex(codes).to_numpy()).sum()
    for period in ("2022/23", "2023/24"):
        part = raw[(raw["period"] == period) & raw["lsoa"].isin(codes)]
        raw_q = part.groupby(part["lsoa"].map(quintile["imd_quintile"]))["count"].sum()
        got = s.trend[s.trend["period"] == period].set_index("group")
        for q in got.index:
            assert got.loc[q, "population"] == pytest.approx(pop_q.loc[q])
            assert_published(got.loc[q, "count"], raw_q.get(q, 0))
            if not math.isnan(got.loc[q, "count"]):
                assert got.loc[q, "crude_rate"] == pytest.approx(got.loc[q, "count"] / pop_q.loc[q] * 1e5)
    t = s.trend_test
    if t is not None:
        sii = s.trend_sii
        se = [(r["sii_upper_95"] - r["sii_lower_95"]) / (2 * 1.959963984540054) for _, r in sii.iloc[[0, -1]].iterrows()]
        z = (sii["sii"].iloc[-1] - sii["sii"].iloc[0]) / math.sqrt(se[0] ** 2 + se[1] ** 2)
        assert t["z"] == pytest.approx(z)
        assert t["significant"] == (abs(z) > 1.959963984540054)


def test_funnel_points_equal_by_group(built):
    store, st, _, _ = built
    s = st.with_data[0]
    wards = _by_group(store, "ward24cd")
    wards998 = _by_group(store, "ward24cd", confidence=0.998)
    got = s.funnel_points[s.funnel_points["kind"] == "ward"].reset_index(drop=True)
    assert got["group"].tolist() == wards["group"].tolist()
    assert got["value"].tolist() == pytest.approx(wards["crude_rate"].tolist(), nan_ok=True)
    assert got["lower_998"].tolist() == pytest.approx(wards998["crude_lower"].tolist(), nan_ok=True)
    baseline = s.total["crude_rate"]
    assert s.funnel_limits["baseline"].iloc[0] == pytest.approx(baseline)


def _deck_tables(path):
    prs = Presentation(str(path))
    slides = []
    for slide in prs.slides:
        title = next((sh.text_frame.text for sh in slide.shapes if sh.has_text_frame and sh.text_frame.text), "")
        tables = [[[c.text for c in row.cells] for row in sh.table.rows] for sh in slide.shapes if sh.has_table]
        charts = [sh.chart for sh in slide.shapes if sh.has_chart]
        slides.append((title, tables, charts, slide))
    return slides


def test_deck_numbers_equal_by_group(built):
    store, st, paths, _ = built
    slides = _deck_tables(paths["deck"])
    titles = [t for t, *_ in slides]
    assert titles[0] == "Health inequalities statement" and "Method" in titles and \
        "Sources and attribution" in titles
    text = " ".join(sh.text_frame.text for *_, slide in slides for sh in slide.shapes if sh.has_text_frame)
    assert "SYNTHETIC DATA" in text and "Open Government Licence" in text
    checked = 0
    for grouping, title in (("imd_quintile", "UEC01: by deprivation (national IMD 2025 quintile)"),
                            ("imd_quintile_in_icb", "UEC01: by deprivation within the ICB"),
                            ("ethnic_group", "UEC01: by ethnic group")):
        expected = _by_group(store, grouping)
        value, lower, upper = "value", "lower", "upper"
        _, tables, charts, _ = next(x for x in slides if x[0] == title)
        rows = tables[0][1:]
        assert len(rows) == len(expected)
        for row, e in zip(rows, expected.to_dict("records")):
            assert row[1:6] == [fmt(e["count"], 0), fmt(e["population"], 0), fmt(e[value]), fmt(e[lower]),
                                fmt(e[upper])]
            checked += 1
        # the native chart holds the same values (suppressed groups are left out of the chart)
        shown = expected[expected[value].notna()]
        assert list(charts[0].plots[0].series[0].values) == pytest.approx(shown[value].tolist())
        assert list(charts[0].plots[0].categories) == [str(c) for c in
                                                        statement._group_names(grouping, shown, store,
                                                                               Extent("icb", ICB))]
        # error bars are native OOXML with the 95% limits
        bars = charts[0].plots[0].series[0]._element.findall(
            "{http://schemas.openxmlformats.org/drawingml/2006/chart}errBars")
        assert len(bars) == 1
    assert checked >= 10
    # the SII on the slide is by_group's
    q = _by_group(store, "imd_quintile")
    if q.attrs.get("sii"):
        assert f"SII {fmt(q.attrs['sii']['sii'])}" in text
    # funnel slide: an XY chart whose ward points are by_group's ward rates
    _, tables, charts, _ = next(x for x in slides if x[0].startswith("UEC01: wards and places"))
    wards = _by_group(store, "ward24cd")
    ward_series = charts[0].plots[0].series[0]
    shown = wards[wards["value"].notna()]
    assert list(ward_series.values) == pytest.approx(shown["value"].tolist())


def test_report_numbers_equal_by_group(built):
    store, st, paths, _ = built
    page = (paths["report"].parent / "uec01.html").read_text()
    import lxml.html

    doc = lxml.html.fromstring(page)
    rows = doc.xpath('//table[@data-table="imd_quintile"]/tbody/tr')
    expected = _by_group(store, "imd_quintile")
    value, lower, upper = "value", "lower", "upper"
    assert len(rows) == len(expected)
    for row, e in zip(rows, expected.to_dict("records")):
        cells = [td.text_content().strip() for td in row.findall("td")]
        assert cells[1:6] == [fmt(e["count"], 0), fmt(e["population"], 0), fmt(e[value]), fmt(e[lower]),
                              fmt(e[upper])]
    for f in st.with_data[0].findings:  # every finding is on the page, with its interval
        assert f["text"] in doc.text_content()
    numbers = pd.read_excel(paths["xlsx"], sheet_name="numbers")
    mine = numbers[(numbers["indicator"] == "UEC01") & (numbers["table"] == "imd_quintile") &
                   (numbers["measure"] == "rate_per_100000")]  # UEC01: per 100,000 residents aged 0-17 per year
    assert mine["value"].tolist() == pytest.approx(expected[value].dropna().tolist())


def test_findings_say_significant_only_with_a_test(built):
    store, st, _, _ = built
    for s in st.with_data:
        for f in s.findings:
            assert "95% CI" in f["text"] and f["basis"]
            if "significantly" in f["text"] and "not" not in f["text"].split("significantly")[0][-12:] \
                    and "No " not in f["text"][:3]:
                if f["topic"] == "deprivation":
                    assert f["lower"] > 0 or f["upper"] < 0
                elif f["topic"] in ("ethnic group", "age band"):
                    bench = s.ethnic_total["value"] if f["topic"] == "ethnic group" else s.total["value"]
                    assert f["lower"] > bench or f["upper"] < bench


def test_each_indicator_has_a_one_line_headline_that_its_sii_supports(built):
    store, st, paths, _ = built
    for s in st.with_data:
        if s.sii is None:
            assert s.headline_sentence == ""
            continue
        significant = s.sii["sii_lower_95"] > 0 or s.sii["sii_upper_95"] < 0
        assert ("significantly" in s.headline_sentence) == significant
        assert ("no significant difference" in s.headline_sentence) == (not significant)
        assert s.headline_sentence in (paths["report"].parent / f"{s.slug}.html").read_text()


def test_targets_follow_the_groups(built):
    store, st, paths, _ = built
    lsoas = store.lsoas(icb=ICB, geometry=False, columns=["lsoa21cd", "imd_decile", "imd_quintile_in_icb"])
    core20 = set(lsoas.loc[lsoas["imd_decile"] <= 2, "lsoa21cd"])
    deprived = set(lsoas.loc[lsoas["imd_quintile_in_icb"] <= 2, "lsoa21cd"])
    schools = store.points("schools", icb=ICB)
    targets = st.targets
    for group, members in (("Core20", core20), ("40% most deprived", deprived)):
        rows = targets[targets["group"].str.contains(group)]
        assert set(rows.loc[rows["kind"] == "school", "code"]) == \
            set(schools.loc[schools["lsoa21cd"].isin(members), "urn"].astype(str))
    lines = paths["targets"].read_text().splitlines()
    assert lines[0].startswith("# Targeting: state-funded primary school") and lines[-1].startswith("# Contains")
    assert len([line for line in lines if not line.startswith("#")]) == len(targets) + 1  # header and rows
    with pytest.raises(ValueError, match="unknown targeting group"):
        statement_targets.check_group("everyone")


def test_cli_demo_then_statement(fixture_mirror, tmp_path, monkeypatch):
    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "store"))
    runner = CliRunner()
    assert runner.invoke(main, ["data", "build", "--mirror", str(fixture_mirror), "--quiet"]).exit_code == 0
    result = runner.invoke(main, ["demo-data", "--icb", "QAA", "--indicators", "UEC01,ORA01", "--ingest",
                                  "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output and "attached to ORA01" in result.output
    refused = runner.invoke(main, ["demo-data", "--icb", "QAA", "--indicators", "XYZ01", "--out", str(tmp_path)])
    assert refused.exit_code != 0 and "no demo profile" in refused.output
    refused = runner.invoke(main, ["demo-data", "--icb", "QAA", "--indicators", "all", "--rows", "5",
                                   "--out", str(tmp_path / "d2")])
    assert refused.exit_code != 0 and "--rows" in refused.output
    result = runner.invoke(main, ["statement", "--icb", "QAA", "--no-maps", "--out", str(tmp_path / "st")])
    assert result.exit_code == 0, result.output
    assert "2 indicator(s) with data, 21 with no data attached" in result.output
    for name in ("index.html", "uec01.html", "ora01.html", "statement.pptx", "statement_numbers.csv",
                 "statement_numbers.xlsx"):
        assert (tmp_path / "st" / name).exists(), name
    bad = runner.invoke(main, ["statement", "--icb", "QAA", "--indicator", "NOPE", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown NHS statement indicator" in bad.output
    bad = runner.invoke(main, ["statement", "--icb", "QAA", "--target", "hotspots:MAT01", "--no-maps",
                               "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "no dataset is attached to MAT01" in bad.output


def test_statement_pages(built):
    from app import create_app

    store, st, _, _ = built
    app = create_app({"GAPMAP_STORE": str(store.root), "DEFAULT_ICB": ICB, "TESTING": True})
    client = app.test_client()
    page = client.get(f"/statement?icb={ICB}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "NHS Alpha ICB" in html and "no data attached" in html and "SYNTHETIC DATA" in html
    page = client.get(f"/statement/UEC01?icb={ICB}")
    assert page.status_code == 200
    expected = _by_group(store, "imd_quintile")
    for v in expected["value"].dropna():
        assert f"<td>{fmt(v)}</td>" in page.get_data(as_text=True)
    assert "/map?" in page.get_data(as_text=True) and "indicator=uec-test" in page.get_data(as_text=True)
    assert "Gi* confidence levels are two-sided" in page.get_data(as_text=True)  # issue 21
    assert client.get(f"/statement/MAT01?icb={ICB}").status_code == 404  # no data attached
    assert client.get("/statement?icb=E54999999").status_code == 404
    assert client.get("/statement?extent=england").status_code == 400
    deck = client.get(f"/statement/download.pptx?icb={ICB}")
    assert deck.status_code == 200 and deck.data[:2] == b"PK"
    prs = Presentation(io.BytesIO(deck.data))
    assert len(prs.slides) > 5
    csv = client.get(f"/statement/download.csv?icb={ICB}")
    assert csv.status_code == 200 and "Open Government Licence" in csv.get_data(as_text=True)
    assert client.get(f"/statement/download.exe?icb={ICB}").status_code == 404



# ---- issue 20 item 5: navigation, the command said once, no raw warnings, fields by what they hold ----
def _nav(html: str):
    import lxml.html

    doc = lxml.html.fromstring(html)
    (nav,) = doc.xpath('//nav[@class="statement-nav"]')
    return doc, [(a.text_content().strip(), a.get("href")) for a in nav.iter("a")]


def test_every_page_has_a_navigation_bar_to_each_indicator_and_the_targeting_list(built):
    store, st, paths, _ = built
    folder = paths["report"].parent
    for page in ("index.html", "uec01.html", "dia01.html"):
        doc, links = _nav((folder / page).read_text())
        assert links == [("Contents", "index.html"), ("UEC01", "uec01.html"), ("DIA01", "dia01.html"),
                         ("Where to act", "index.html#where-to-act"), ("Deck (PowerPoint)", "statement.pptx"),
                         ("Numbers (XLSX)", "statement_numbers.xlsx"), ("Numbers (CSV)", "statement_numbers.csv")]
    index, _ = _nav(paths["report"].read_text())
    assert index.xpath('//h2[@id="where-to-act"]')[0].text_content() == "Where to act"
    page, _ = _nav((folder / "uec01.html").read_text())  # and the sections of an indicator's page
    within = [a.get("href") for a in page.xpath('//nav[@class="on-this-page"]/a')]
    assert within[:2] == ["#findings", "#deprivation"] and all(page.xpath(f'//h2[@id="{h[1:]}"]') for h in within)
    css = statement_output.CSS.read_text()
    assert re.search(r"nav\.statement-nav \{ position: sticky; top: 0;", css)


def test_the_web_statement_has_the_same_navigation_bar(built):
    from app import create_app

    store, st, _, _ = built
    client = create_app({"GAPMAP_STORE": str(store.root), "DEFAULT_ICB": ICB, "TESTING": True}).test_client()
    _, links = _nav(client.get(f"/statement/UEC01?icb={ICB}").get_data(as_text=True))
    assert [t for t, _ in links] == ["Contents", "UEC01", "DIA01", "Where to act", "Deck (PowerPoint)",
                                     "Numbers (XLSX)", "Numbers (CSV)"]
    assert links[3][1] == f"/statement?icb={ICB}#where-to-act"


def test_how_to_attach_data_is_said_once(built):
    store, st, paths, _ = built
    index = paths["report"].read_text()
    assert len(st.without_data) == 21
    import lxml.html

    cells = [td.text_content() for td in lxml.html.fromstring(index).xpath("//table//td")]
    assert index.count("gapmap ingest") == 1 and cells.count("no data attached") == 21  # each row: its state only
    assert ("To attach data to an indicator with none: <code>gapmap ingest FILE --name NAME --nhs-indicator CODE "
            "--by age_band,sex,ethnic_group,period (or upload it on the /upload page with the indicator chosen); "
            "CODE is the indicator&#39;s metric (ELR01 ... MAT01)</code>.") in index
    about = pd.read_excel(paths["xlsx"], sheet_name="about")["about"].tolist()
    indicators = pd.read_excel(paths["xlsx"], sheet_name="indicators")
    assert sum("gapmap ingest" in str(a) for a in about) == 1 and "how to attach" not in indicators


def test_statement_numbers_name_each_measure_by_what_it_holds(built):
    store, st, paths, _ = built
    csv = pd.read_csv(paths["csv"], comment="#")
    uec = set(csv.loc[csv["indicator"] == "UEC01", "measure"])
    assert {"events_published", "rate_per_100000", "rate_per_100000_lower_95", "crude_rate_per_100000",
            "population", "sii"} <= uec
    assert not {"count", "value", "lower", "upper", "crude_rate", "crude_lower"} & uec
    fields = pd.read_excel(paths["xlsx"], sheet_name="fields")
    assert list(fields.loc[fields["kind"] == "column", "field"]) == list(csv.columns)
    measures = fields[fields["kind"] == "measure"].set_index("field")["description"]
    assert set(measures.index) == set(csv["measure"]) and measures.notna().all()
    # UEC01 (ages 0-17) and DIA01 (all ages, here) are both per 100,000 per year: each unit is on the indicators sheet
    assert measures["rate_per_100000"] == ("The headline figure: crude rate (each indicator's unit: see the "
                                           "indicators sheet)")
    units = pd.read_excel(paths["xlsx"], sheet_name="indicators").set_index("metric")["unit"]
    assert units["UEC01"] == "per 100,000 residents aged 0-17 per year" and units["DIA01"] == \
        "per 100,000 residents per year"
    text = paths["csv"].read_text()
    assert "# measure events_published: Events after disclosure control" in text


def test_a_statement_is_not_replaced_without_force(built, monkeypatch, tmp_path):
    from geo.cli import main

    store, _, _, _ = built
    monkeypatch.setenv("GAPMAP_STORE", str(store.root))
    (tmp_path / "statement.pptx").write_text("kept")
    result = CliRunner().invoke(main, ["statement", "--icb", "QAA", "--no-maps", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path} already holds a statement (statement.pptx): nothing was written. "
                             f"Add --force to replace it, or choose another folder with --out.\n")
    assert (tmp_path / "statement.pptx").read_text() == "kept" and not (tmp_path / "index.html").exists()
    result = CliRunner().invoke(main, ["statement", "--icb", "QAA", "--no-maps", "--force", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "statement.pptx").read_bytes()[:2] == b"PK"


def test_library_warnings_become_one_plain_note_each(built, monkeypatch, tmp_path):
    import warnings

    from geo.cli import main

    import matplotlib.pyplot as plt

    plt.close("all")  # figures other tests left open would warn too
    store, _, _, _ = built
    monkeypatch.setenv("GAPMAP_STORE", str(store.root))
    real = statement.build

    def noisy(*args, **kwargs):
        for _ in range(19):  # one per indicator, as mapclassify would
            warnings.warn("Not enough unique values in array to form 3 classes. Setting k to 2.", UserWarning)
        warnings.warn("Mean of empty slice", RuntimeWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(statement, "build", noisy)
    result = CliRunner().invoke(main, ["statement", "--icb", "QAA", "--no-maps", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("Note: ")]
    assert notes == ["Note: Some indicators have too many equal values (such as zeros) to form every class asked "
                     "for: fewer classes are shown, as their notes and legends say.",
                     "Note: A statistic had no published values to work on in some area: it is shown as no data."]
    assert "Warning" not in result.output and "site-packages" not in result.output


def test_bivariate_classes_of_tied_values_say_so_without_a_warning():
    import warnings

    from geo.stats.bivariate_classes import bivariate_classes

    activity = np.r_[np.zeros(45), np.linspace(1, 5, 15)]  # three in four LSOAs 0: no 3 quantile classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = bivariate_classes(np.linspace(1, 60, 60), activity)
    assert b.note == ("3 classes a side were asked for but the values have too many ties (many equal values, such "
                      "as zeros): the indicator 2 classes shown")
    assert bivariate_classes(np.linspace(1, 60, 60), np.linspace(1, 60, 60)).note == ""


LONG = ("UEC01: emergency admissions of children and young people under 18 for asthma, diabetes and epilepsy in the "
        "most deprived fifth of neighbourhoods, 2022/23 to 2024/25, by national IMD 2025 quintile")


def test_deck_titles_are_sized_to_fit_not_clipped(built, tmp_path):
    from pptx.enum.text import MSO_AUTO_SIZE
    from pptx.util import Emu

    from geo.outputs import statement_deck

    store, st, paths, _ = built
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    statement_deck._header(slide, LONG, "NHS Alpha ICB | " + LONG, True)
    for name, largest in (("title", 26), ("subtitle", 13)):
        box = next(sh for sh in slide.shapes if sh.name == name)
        frame = box.text_frame
        assert frame.word_wrap is True and frame.auto_size == MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
        size = frame.paragraphs[0].font.size.pt
        assert size < largest  # made smaller to fit, every word kept
        assert frame.text.endswith("by national IMD 2025 quintile")
        per_line = int(box.width.inches * 72 / (size * 0.52))
        import textwrap

        assert len(textwrap.wrap(frame.text, per_line)) * size * 1.2 <= box.height.inches * 72
    assert statement_deck.fitted_size("UEC01: by ethnic group", 12.5, 0.75, 26) == 26  # short: as designed
    title = next(sh for sh in slide.shapes if sh.name == "title")
    mark = next(sh for sh in slide.shapes if sh.has_text_frame and sh.text_frame.text == "SYNTHETIC DATA")
    assert title.left + title.width <= mark.left  # the title keeps clear of the SYNTHETIC DATA mark
    deck = Presentation(paths["deck"])
    titles = [sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.name == "title"]
    assert "UEC01: by deprivation (national IMD 2025 quintile)" in titles


def test_the_navigation_bar_stays_in_view_in_a_browser(built, browser):
    """Scrolled to the foot of an indicator's page, the bar is still at the top of the window; a
    link to 'Where to act' shows its heading below the bar, not under it."""
    _, _, paths, _ = built
    folder = paths["report"].parent
    browser.set_window_size(1366, 768)
    browser.get((folder / "uec01.html").as_uri())
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    assert browser.execute_script("return window.scrollY") > 500
    bar = browser.execute_script("var r = document.querySelector('nav.statement-nav').getBoundingClientRect();"
                                 "return [r.top, r.bottom];")
    assert bar[0] == 0 and bar[1] > 20
    browser.get((folder / "index.html").as_uri() + "#where-to-act")
    heading = browser.execute_script("return document.getElementById('where-to-act').getBoundingClientRect().top")
    bar_bottom = browser.execute_script("return document.querySelector('nav.statement-nav')"
                                        ".getBoundingClientRect().bottom")
    assert heading >= bar_bottom


def test_a_dataset_ingested_without_a_measure_is_named_by_its_indicator_not_its_slug(fixture_store, tmp_path):
    path = tmp_path / "ora.csv"
    path.write_text("lsoa21cd,count\n" + "".join(f"{c},{12 + i}\n" for i, c in enumerate(LSOAS)))
    ingest(path, IngestOptions(name="ora-no-measure", nhs_indicator="ORA01"), fixture_store)
    try:
        st = statement.build(fixture_store, Extent("icb", ICB), ["ORA01"])
        (section,) = st.with_data
        assert section.dataset == "ora-no-measure"
        assert section.measure == f"ORA01: {section.wording}" and "ora-no-measure" not in section.measure
    finally:
        DatasetStore(fixture_store).remove("ora-no-measure")
