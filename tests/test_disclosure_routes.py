"""Issue 11 item 1: no small count comes back out, by any route.

Two datasets of counts 1 to 12 over the fixture store's eight LSOAs are asked for through every
API route and export format (GeoJSON, GeoPackage, CSV LSOA and ward tables, offline HTML), the
targeting list, the map frame's tooltip data and the side panel. From what comes back the test
tries to rebuild counts the way an attacker would: the published count itself, rate x population,
the interval limits, a ward or quintile total minus its other LSOAs, a table total minus the other
groups. None may give a count from 1 to 7 or an unrounded count.

The reference numbers (rounding, Poisson limits) are computed here from the raw counts with
scipy, not with Gapmap's own functions. Values are per 100,000 residents per year (the default
definition; these files say nothing of their period, so one year). Group totals are perturbed
before they are rounded (issue 19): here they are checked to be multiples of 5 near the raw
total, with rates from them; tests/test_attack.py solves every published total together.
"""
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, norm

from app import create_app
from geo.views.analysis import Extent
from geo.ingest.pipeline import IngestOptions, ingest

LSOAS = [f"E0100000{i}" for i in range(1, 9)]
WARD_OF = {c: f"E0500000{i // 2 + 1}" for i, c in enumerate(LSOAS)}
# together the two datasets hold every count from 1 to 12; wards are pairs of LSOAs (1-2, 3-4, ...)
DATASETS = {
    "small-a": dict(zip(LSOAS, [3, 12, 9, 11, 5, 6, 1, 8])),
    "small-b": dict(zip(LSOAS, [2, 4, 7, 10, 1, 12, 6, 9])),
}
EXTENTS = ["icb=E54000001", "icb=E54000002", "lad=E06000001", "lad=E06000002", "ward=E05000001",
           "ward=E05000004", "extent=england"]
SUPPRESS = range(1, 8)
PER = 100_000
NOISE = 30  # the perturbation of a published group total: |e| above 25 has a chance of about 1 in 200,000


def published(count: int) -> float | None:
    """HES rule: 1-7 suppressed, others rounded to the nearest 5 (half up)."""
    return None if 1 <= count <= 7 else 5 * math.floor(count / 5 + 0.5)


def poisson_limits(count: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (chi-squared) under 10, Byar's from 10: PHE's methods, written out here."""
    a = 1 - confidence
    if count < 10:
        lower = chi2.ppf(a / 2, 2 * count) / 2 if count > 0 else 0.0
        return lower, chi2.ppf(1 - a / 2, 2 * (count + 1)) / 2
    z = norm.ppf(1 - a / 2)
    lower = count * (1 - 1 / (9 * count) - z / (3 * math.sqrt(count))) ** 3
    upper = (count + 1) * (1 - 1 / (9 * (count + 1)) + z / (3 * math.sqrt(count + 1))) ** 3
    return lower, upper


@pytest.fixture(scope="module")
def client(fixture_store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    for name, counts in DATASETS.items():
        path = folder / f"{name}.csv"
        path.write_text("lsoa21cd,count\n" + "".join(f"{c},{n}\n" for c, n in counts.items()))
        ingest(path, IngestOptions(name=name, measure="Emergency admissions"), fixture_store)
    app = create_app({"GAPMAP_STORE": str(fixture_store.root), "DEFAULT_ICB": "E54000001", "TESTING": True})
    return app.test_client()


@pytest.fixture(scope="module")
def population(fixture_store):
    return fixture_store.population_by_age().set_index("lsoa21cd")["population_mid2020"].to_dict()


def _num(v):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    v = float(v)
    return None if math.isnan(v) else v


def check_lsoa(name: str, code: str, record: dict, population: dict, where: str) -> None:
    """Whatever one LSOA's record says, no count 1-7 and no unrounded count can be rebuilt."""
    raw = DATASETS[name][code]
    shown = published(raw)
    count, value = _num(record.get("count")), _num(record.get("value"))
    lower, upper = _num(record.get("lower")), _num(record.get("upper"))
    pop = _num(record.get("population")) or population[code]
    if shown is None:
        assert count is None and value is None and lower is None and upper is None, (where, code, record)
        for column in ("gi_z", "gi_p", "lisa_p"):
            assert _num(record.get(column)) is None, (where, code, column, record)
        for column in ("gi_bin",):
            assert _num(record.get(column)) is None, (where, code, column, record)
        assert record.get("bivariate_class") in (None, "") or pd.isna(record.get("bivariate_class")), (where, code)
        assert record.get("lisa_cluster") in (None, "No data", "") or pd.isna(record.get("lisa_cluster")), (where, code)
        if "class" in record and record["class"] is not None:
            assert int(float(record["class"])) == -1, (where, code, record)
        return
    if count is not None:
        assert count == shown, (where, code, record)
    if value is not None:  # rate x population gives back the published count, not the raw one
        rebuilt = value * pop / PER
        assert rebuilt == pytest.approx(shown, rel=1e-4, abs=1e-6), (where, code, record)
        if raw != shown:
            assert abs(rebuilt - raw) > 0.5, (where, code, record)
    if lower is not None and shown > 0:
        lo, hi = poisson_limits(shown)
        assert lower == pytest.approx(lo / pop * PER, rel=1e-4) and upper == pytest.approx(hi / pop * PER, rel=1e-4)
        if raw != shown:
            raw_lo, _ = poisson_limits(raw)
            assert lower != pytest.approx(raw_lo / pop * PER, rel=1e-4), (where, code)


def check_groups(name: str, rows: list[dict], members: dict, where: str, per: float) -> None:
    """Group totals (wards, quintiles): hidden from 1 to 7 (with every figure beside them), else a
    multiple of 5 near the raw total and never the raw total's own rounding where the two differ
    everywhere; the rate beside a total is from the published total."""
    counts = DATASETS[name]
    for row in rows:
        group = row["group"]
        total = _num(row.get("count"))
        codes = members[group]
        raw_total = sum(counts[c] for c in codes)
        if total is None:  # hidden: 1 to 7, or a small total perturbed below 10
            assert 1 <= raw_total <= 7 + NOISE or _num(row.get("population")) is None, (where, group, row)
            for column in ("crude_rate", "crude_lower", "crude_upper", "rate", "value", "lower", "upper"):
                assert _num(row.get(column)) is None, (where, group, row)
            continue
        assert raw_total not in SUPPRESS, (where, group, row)
        assert total % 5 == 0 and abs(total - raw_total) <= NOISE and total >= 10 * (raw_total > 0), \
            (where, group, row)
        pop = _num(row.get("population"))
        rate = _num(row.get("crude_rate"))
        if rate is not None and pop:
            assert rate * pop / per == pytest.approx(total, rel=1e-6), (where, group, row)


# what the exports call the map table's columns (written out here, not taken from geo.outputs.field_names):
# the unit is "per 100,000 residents per year", so the value is rate_per_100000
EXPORT_NAMES = {"events_published": "count", "rate_per_100000": "value", "rate_per_100000_lower_95": "lower",
                "rate_per_100000_upper_95": "upper", "count_suppressed": "suppressed", "gi_star_z": "gi_z",
                "gi_star_p": "gi_p", "gi_star_bin": "gi_bin", "hot_spot_level": "gi_spot",
                "local_moran_cluster": "lisa_cluster", "local_moran_p": "lisa_p", "quantile_class": "class",
                "crude_rate_per_100000": "crude_rate", "crude_rate_per_100000_lower_95": "crude_lower",
                "crude_rate_per_100000_upper_95": "crude_upper", "rate_per_100000_smoothed": "smoothed",
                "mean_lsoa_rate_per_100000": "mean_value", "lsoas_with_rate_per_100000": "lsoas_with_value",
                "eb_standardised_z": "eb_standardised", "gi_star_eb_z": "gi_eb_z", "gi_star_eb_bin": "gi_eb_bin",
                "smoothed_hot_spot_level": "gi_eb_spot", "ward_rate_per_100000": "ward_value"}
# every other field an export may hold: codes, names, deprivation, denominators, words
EXPORT_CONTEXT = {"lsoa21cd", "lsoa21nm", "ward24cd", "ward24nm", "lad24cd", "lad24nm", "imd_score", "imd_decile",
                  "imd_quintile", "imd_decile_in_icb", "imd_quintile_in_icb", "imd_decile_in_lad",
                  "imd_quintile_in_lad", "core20", "urban_rural", "population", "person_years", "class_label",
                  "bivariate_class", "lsoas", "core20_lsoas", "imd_summary_population", "population_weights",
                  "area_km2", "average_score", "average_rank", "proportion_most_deprived_10pc", "extent",
                  "local_concentration", "rank_average_score", "rank_average_rank",
                  "rank_proportion_most_deprived_10pc", "rank_extent", "rank_local_concentration", "geometry",
                  "group"}  # (the tests call a ward table's ward24cd its group)


# MHCLG's deprivation summaries of a ward (IMD and each domain), from open data
DEPRIVATION_SUMMARY = re.compile(r"(rank_)?([a-z_]+_)?(average_score|average_rank|proportion_most_deprived_10pc|"
                                 r"extent|local_concentration)")


def _as_map_names(record: dict, where: str) -> dict:
    """An export's record in the map table's names, so the checks read the same fields; an export
    that still used an internal name (``count``, ``value``...) or held a field nobody checks fails."""
    unknown = {k for k in set(record) - set(EXPORT_NAMES) - EXPORT_CONTEXT if not DEPRIVATION_SUMMARY.fullmatch(k)}
    assert not unknown, (where, sorted(unknown))
    return {EXPORT_NAMES.get(k, k): v for k, v in record.items()}


def _without_metadata(text: str) -> str:
    """A CSV export without its metadata lines (each one quoted cell starting with '# ')."""
    return "\n".join(line for line in text.splitlines() if not line.startswith('"# '))


def _geojson_records(text: str) -> list[dict]:
    return [f["properties"] for f in json.loads(text)["features"]]


def _page_columns(html: str) -> list[dict]:
    """The per-LSOA data a map page sends to the browser, as records."""
    marker = '<script type="application/json" id="gapmap-data">{'  # the data, not the script's comment
    start = html.index(marker) + len(marker) - 1
    packed = json.loads(html[start:html.index("</script>", start)].replace("<\\/", "</"))["packed"]
    columns = packed["columns"]
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def check_page(name: str, html: str, population: dict, where: str) -> None:
    """Tooltips: the value text of a suppressed LSOA has no number; others show the rate of the
    published count; no class, hot spot, cluster or bivariate class for a suppressed LSOA."""
    for record in _page_columns(html):
        code = record["c"]
        shown = published(DATASETS[name][code])
        text = str(record.get("v"))
        if shown is None:
            assert not any(ch.isdigit() for ch in text.split("(")[0]) and "Suppressed" in text, (where, code, text)
            assert record.get("h") in (None, "No data") and record.get("cl") in (None, "No data")
            assert record.get("b") is None and "suppressed" in str(record.get("k", "suppressed")).lower()
        elif "v" in record:
            rate = float(text.split(" ")[0].replace(",", ""))
            assert rate == pytest.approx(shown / population[code] * PER, rel=5e-3), (where, code, text)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_no_small_count_comes_back_by_any_route(client, fixture_store, population, name, tmp_path):
    lsoa_records = []  # (where, record)
    for extent in EXTENTS:
        q = f"{extent}&indicator={name}"
        layer = client.get(f"/api/lsoas.geojson?{q}")
        assert layer.status_code == 200, (q, layer.get_data(as_text=True))
        lsoa_records += [(f"lsoas.geojson {q}", r) for r in _geojson_records(layer.get_data(as_text=True))]
        for stat in ("gi-star", "local-moran", "bivariate"):
            body = client.get(f"/api/statistics?{q}&stat={stat}&permutations=99")
            assert body.status_code in (200, 400), (q, stat)
            if body.status_code == 200:
                lsoa_records += [(f"statistics {stat} {q}", r) for r in body.get_json()["rows"]]
                assert "value" not in body.get_json()["method"]
        moran = client.get(f"/api/statistics?{q}&stat=moran&permutations=99")
        assert moran.status_code in (200, 400)
        export = client.get(f"/api/export.geojson?{q}")
        assert export.status_code == 200
        lsoa_records += [(f"export.geojson {q}", _as_map_names(r, q))
                         for r in _geojson_records(export.get_data(as_text=True))]
        csv = client.get(f"/api/export.csv?{q}").get_data(as_text=True)
        table = pd.read_csv(io.StringIO(_without_metadata(csv)), dtype={"bivariate_class": str})
        lsoa_records += [(f"export.csv {q}", _as_map_names(r, q)) for r in table.to_dict("records")]
        gpkg = client.get(f"/api/export.gpkg?{q}")
        assert gpkg.status_code == 200
        path = tmp_path / "x.gpkg"
        path.write_bytes(gpkg.data)
        import pyogrio

        layer = pyogrio.read_dataframe(path, layer="lsoas")
        lsoa_records += [(f"export.gpkg {q}", _as_map_names(r, q)) for r in pd.DataFrame(layer.drop(
            columns="geometry")).to_dict("records")]
        check_page(name, client.get(f"/api/export.html?{q}").get_data(as_text=True), population, f"html {q}")
        check_page(name, client.get(f"/map/frame?{q}").get_data(as_text=True), population, f"frame {q}")
        targeting = client.get(f"/targeting.csv?{q}").get_data(as_text=True)
        for line in targeting.splitlines()[1:]:
            for code, raw in DATASETS[name].items():
                if published(raw) is None and f"in LSOA {code}" in line:
                    assert "hot spot" not in line and "cluster" not in line, line
    assert len(lsoa_records) > 100
    for where, record in lsoa_records:
        check_lsoa(name, record["lsoa21cd"], record, population, where)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_gapmap_analyse_prints_only_published_counts(client, fixture_store, population, name, monkeypatch):
    """`gapmap analyse` on a dataset: every per-LSOA table it prints (classes, the local statistics,
    the bivariate classes) holds no count 1-7 and no rate that gives back an unrounded count."""
    from click.testing import CliRunner

    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    for stat in ("classes", "local-moran", "gi-star", "bivariate", "bivariate-classes"):
        result = CliRunner().invoke(main, ["analyse", name, "--icb", "E54000001", "--stat", stat])
        assert result.exit_code == 0, (stat, result.output)
        table = pd.read_csv(io.StringIO(result.stdout))
        code_column = "lsoa21cd" if "lsoa21cd" in table else table.columns[0]
        for record in table.to_dict("records"):
            check_lsoa(name, record[code_column], record, population, f"analyse {stat}")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_ward_and_quintile_totals_hide_what_subtraction_would_show(client, fixture_store, name, tmp_path,
                                                                  monkeypatch):
    from click.testing import CliRunner

    from app import pages
    from geo.outputs import exports
    from geo.cli import main

    lsoas = fixture_store.lsoas(geometry=False, columns=["lsoa21cd", "ward24cd", "imd_quintile", "icb24cd",
                                                         "lad24cd"])
    for extent in (Extent("icb", "E54000001"), Extent("icb", "E54000002"), Extent("lad", "E06000001"),
                   Extent()):
        inside = lsoas if extent.level == "england" else lsoas[lsoas[f"{extent.level}24cd"] == extent.code]
        wards, meta = exports.ward_table(fixture_store, name, extent)
        rows = [_as_map_names(r, f"ward table {extent}") for r in
                wards.rename(columns={"ward24cd": "group"}).to_dict("records")]
        members = inside.groupby("ward24cd")["lsoa21cd"].apply(list).to_dict()
        check_groups(name, rows, members, f"ward table {extent}", 100_000)
        # the ward table's mean of LSOA values uses published values only
        for row in rows:
            shown = [published(DATASETS[name][c]) for c in members[row["group"]]]
            assert row["lsoas_with_value"] == sum(s is not None for s in shown)
        app = client.application
        query = "extent=england" if extent.level == "england" else f"{extent.level}={extent.code}"
        with app.test_request_context(f"/map?{query}&indicator={name}"):
            panel = pages._panel(extent, name)
        quintiles = inside.groupby("imd_quintile")["lsoa21cd"].apply(list).to_dict()
        assert panel["group_unit"] == "per 100,000 residents per year"  # the page's one unit, as the legend
        check_groups(name, panel["by_quintile"], quintiles, f"panel {extent}", PER)
        for row in panel["quintiles"]:  # the panel's mean value and pooled rate by quintile
            codes = quintiles[row["quintile"]]
            group = next(r for r in panel["by_quintile"] if r["group"] == row["quintile"])
            if _num(row.get("rate")) is not None:
                assert row["rate"] == pytest.approx(group["value"], rel=1e-9)
            rates = [published(DATASETS[name][c]) for c in codes]
            if all(r is None for r in rates):
                assert _num(row["mean_value"]) is None
    # the ward CSV written by the CLI carries the same protected totals
    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    result = CliRunner().invoke(main, ["export", name, "--icb", "E54000001", "--format", "csv", "--table", "ward",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(io.StringIO(_without_metadata(next(tmp_path.glob("*_wards_*.csv")).read_text())))
    members = lsoas[lsoas["icb24cd"] == "E54000001"].groupby("ward24cd")["lsoa21cd"].apply(list).to_dict()
    check_groups(name, [_as_map_names(r, "ward csv") for r in written.rename(columns={"ward24cd": "group"})
                        .to_dict("records")], members, "ward csv", 100_000)
    # the page's side panel shows no count or rate of a hidden quintile
    page = client.get(f"/map?icb=E54000001&indicator={name}")
    assert page.status_code == 200 and client.get(f"/map/panel?icb=E54000001&indicator={name}").status_code == 200
    # the JSON API's group tables are the same published tables
    inside = lsoas[lsoas["icb24cd"] == "E54000001"]
    for grouping in ("imd_quintile", "ward24cd", "lad24cd"):
        body = client.get(f"/api/groups?icb=E54000001&indicator={name}&group={grouping}")
        assert body.status_code == 200, body.get_data(as_text=True)
        data = body.get_json()
        assert data["attrs"]["unit"] == "per 100,000 residents per year" and "Open Government" in data["attribution"]
        check_groups(name, data["rows"], inside.groupby(grouping)["lsoa21cd"].apply(list).to_dict(),
                     f"api groups {grouping}", PER)
    assert client.get(f"/api/groups?icb=E54000001&indicator={name}&group=postcode").status_code == 400
    assert client.get("/api/groups?icb=E54000001&indicator=imd_score").status_code == 400
    # and so does `gapmap analyse --stat by-group`, by quintile and by ward
    for grouping, column in (("imd_quintile", "imd_quintile"), ("ward24cd", "ward24cd")):
        result = CliRunner().invoke(main, ["analyse", name, "--icb", "E54000001", "--stat", "by-group",
                                           "--group", grouping])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(io.StringIO(result.stdout))
        inside = lsoas[lsoas["icb24cd"] == "E54000001"]
        check_groups(name, table.to_dict("records"), inside.groupby(column)["lsoa21cd"].apply(list).to_dict(),
                     f"analyse by-group {grouping}", 100_000)


def test_the_attack_of_the_issue_no_longer_works(client, population):
    """value x population / 1000 gave 1.000 for an LSOA with one event (per 100,000 now)."""
    layer = _geojson_records(client.get("/api/lsoas.geojson?icb=E54000002&indicator=small-a").get_data())
    one = next(r for r in layer if r["lsoa21cd"] == "E01000007")  # 1 event
    assert one["value"] is None and one.get("count") is None
    rebuilt = [r["value"] * population[r["lsoa21cd"]] / PER for r in layer if r["value"] is not None]
    assert rebuilt and all(abs(x - 5 * round(x / 5)) < 1e-3 for x in rebuilt)  # only multiples of 5 come back


def test_group_totals_are_perturbed_then_rounded():
    """Issue 19: a group total is round(raw + e) to 5, with e fixed per cell by a keyed hash:
    the same cell always gets the same value, different cells independent errors."""
    from geo.rates.disclosure import Rule, publish_totals

    keys = [f"cell-{i}" for i in range(2000)]
    raw = np.full(2000, 612.0)
    shown, hidden = publish_totals(raw, keys, Rule(), b"secret")
    assert not hidden.any() and (shown % 5 == 0).all()
    assert len(set(shown)) > 3 and (shown != 610).sum() > 600  # not the raw total's own rounding
    again, _ = publish_totals(raw, keys, Rule(), b"secret")
    assert (again == shown).all()  # consistent: no averaging over repeated requests
    other, _ = publish_totals(raw, keys, Rule(), b"another secret")
    assert (other != shown).any()
    keys = [f"edge-{i}" for i in range(600)]
    raw = np.array([0, 1, 7, 8, 9, 12] * 100, dtype=float)
    edge, hide = publish_totals(raw, keys, Rule(), b"secret")
    assert (edge[raw == 0] == 0).all() and hide[(raw >= 1) & (raw <= 7)].all()  # 1-7 always hidden
    shown = edge[~hide]
    assert (shown[shown > 0] >= 10).all()  # never shown below the smallest published count
    # and a hidden total means "small", not "1 to 7": some totals of 8, 9, 12 are hidden too
    assert hide[raw == 8].any() and not hide[raw == 12].all()


def test_ethnic_group_totals_are_protected(client, fixture_store, tmp_path):
    """Rates by ethnic group: a group with 1-7 events is hidden; the others are perturbed and
    rounded, so the table's total minus the others gives nothing exact; rates come from published
    counts."""
    from app import pages
    from geo.views import map_table

    lines = ["id,lsoa,age,sex,ethnic_category,arrival_date"]
    n = 0
    for code in LSOAS[:6]:
        for _ in range(8):
            n += 1
            lines.append(f"{n},{code},30,1,A,2024-05-01")  # 48 white
    for _ in range(3):
        n += 1
        lines.append(f"{n},E01000001,30,1,H,2024-05-01")  # 3 asian: suppressed
    for i in range(20):
        n += 1
        lines.append(f"{n},{LSOAS[i % 6]},30,1,N,2024-05-01")  # 20 black
    path = tmp_path / "records.csv"
    path.write_text("\n".join(lines) + "\n")
    ingest(path, IngestOptions(name="by-ethnic", by=("ethnic_group",), measure="Attendances"), fixture_store)
    table = map_table.group_table(fixture_store, "by-ethnic", Extent("icb", "E54000001"), "ethnic_group")
    rows = table.set_index("group")
    assert np.isnan(rows.loc["asian", "count"]) and np.isnan(rows.loc["asian", "crude_rate"])
    assert rows.loc["black", "count"] % 5 == 0 and abs(rows.loc["black", "count"] - 20) <= NOISE
    assert rows.loc["white", "count"] % 5 == 0 and abs(rows.loc["white", "count"] - 48) <= NOISE
    # one day of records: the rate per year is annualised, so rate x person-years is the published count
    assert rows.loc["white", "crude_rate"] * rows.loc["white", "person_years"] / 100_000 == \
        pytest.approx(rows.loc["white", "count"])
    with client.application.test_request_context("/map?icb=E54000001&indicator=by-ethnic"):
        panel = pages._panel(Extent("icb", "E54000001"), "by-ethnic")
    shown = {r["group"]: r for r in panel["by_ethnic_group"]}
    assert _num(shown["asian"]["count"]) is None and _num(shown["asian"]["crude_rate"]) is None
