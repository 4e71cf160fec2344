"""The attacker's suite (issue 19): harvest every output that carries a group statistic and solve
for the hidden counts.

The datasets hold 1 to 12 events per LSOA (every count of the suppressed range in some LSOA) and
sparse records (most LSOAs 0 or 1). From the harvest, the attacker

1. turns every rate (or percentage) back into a count with its population and years, and every
   interval into a count by inverting it (Byar's and the exact Poisson limits of a crude rate,
   Dobson's limits of a DSR, Wilson's of a proportion): each must give back a published count
   (a multiple of 5), never an unrounded one;
2. writes every published figure as a constraint on the unknown raw counts of the LSOAs: an LSOA
   shown as p lies in [p - 2, p + 2], a hidden one in [1, 7], a group total T over its LSOAs in
   [T - 2 - B, T + 2 + B] where B bounds the perturbation (the attacker knows the mechanism and
   takes its 99.9% bound; without perturbation B would be 0), a hidden group total in [1, 9 + B]
   (1 to 7, or a small total perturbed below 10);
   across every grouping (national and local quintiles and deciles, wards, places, the extent) and
   every extent (England, ICBs, places, wards), and both versions of a re-ingest in which one
   event was added to a hidden LSOA;
3. minimises and maximises each LSOA's count under all the constraints together, as whole
   numbers (mixed-integer programs, scipy's HiGHS): an LSOA is *pinned* when only one whole number
   is left. No LSOA may be pinned that was not published exactly (0 is published as 0).

The harvest: the statement's CSV, XLSX, HTML tables and deck chart values (web and CLI), the ward
CSV export, `gapmap analyse --stat by-group` for every grouping and extent, and the map's per-LSOA
published counts. Run on the fixture store (always) and on Luton and BLMK from the real mirror.
"""
from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.optimize import Bounds, LinearConstraint, brentq, milp
from scipy.stats import chi2

from geo.ingest.pipeline import IngestOptions, ingest
from geo.views.analysis import Extent

ROUND = 5
SLACK = 2  # rounding half up to 5: a published p holds a whole count in [p - 2, p + 2]
BOUND = 13  # the 99.9% bound of |perturbation| (discrete Laplace, scale 2): P(|e| > 13) < 0.001
HIDDEN_MEANS_SMALL = True  # before issue 19, totals were also hidden by secondary and complementary suppression
GROUPINGS = ("imd_quintile", "imd_decile", "imd_quintile_in_icb", "imd_decile_in_icb", "imd_quintile_in_lad",
             "imd_decile_in_lad", "ward24cd", "lad24cd")


# ---- 1. inverting published figures -----------------------------------------------------------
def byar_lower(x: float, z: float = 1.959963984540054) -> float:
    return x * (1 - 1 / (9 * x) - z / (3 * math.sqrt(x))) ** 3 if x > 0 else 0.0


def invert_lower(lower_times_n_over_per: float) -> float | None:
    """The count whose PHE lower 95% limit (exact under 10, Byar's from 10) is the given events."""
    target = lower_times_n_over_per
    if target <= 0:
        return 0.0
    for x in range(1, 10):  # exact limits first
        if abs(chi2.ppf(0.025, 2 * x) / 2 - target) < 1e-6 * max(1, target):
            return float(x)
    f = lambda x: byar_lower(x) - target  # noqa: E731
    try:
        return brentq(f, 10, max(20, target * 3 + 50))
    except ValueError:
        return None


def dobson_total(dsr: float, lower: float, upper: float) -> float | None:
    """O from a DSR and its Dobson limits: (dsr - lower) / (upper - dsr) depends only on O."""
    if not all(np.isfinite([dsr, lower, upper])) or upper <= dsr:
        return None
    ratio = (dsr - lower) / (upper - dsr)

    def of(o):
        lo = byar_lower(o) if o >= 10 else chi2.ppf(0.025, 2 * o) / 2
        hi_x = o + 1
        hi = hi_x * (1 - 1 / (9 * hi_x) + 1.959963984540054 / (3 * math.sqrt(hi_x))) ** 3 if o >= 10 else \
            chi2.ppf(0.975, 2 * (o + 1)) / 2
        return (o - lo) / (hi - o)

    grid = np.arange(10, 20_000)
    values = np.array([of(o) for o in grid[:4000]])
    k = int(np.argmin(np.abs(values - ratio)))
    return float(grid[k]) if abs(values[k] - ratio) < 1e-9 else None


def wilson_count(p: float, lower: float, n: float) -> float | None:
    """x from a Wilson lower limit and n (the published proportion gives x = p n as well)."""
    z = 1.959963984540054
    f = lambda x: ((2 * x + z * z - z * math.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z))) - lower  # noqa
    try:
        return brentq(f, 0, n)
    except ValueError:
        return None


def is_published(x: float | None) -> bool:
    return x is None or abs(x - ROUND * round(x / ROUND)) < 1e-6


def unrounded(rows: pd.DataFrame, years: float = 1.0) -> list[tuple]:
    """Every count an attacker rebuilds from a table of group figures that is not a multiple of 5."""
    found = []
    for r in rows.to_dict("records"):
        pop = r.get("population")
        if pop is None or not np.isfinite(pop) or pop <= 0:
            continue
        per = r.get("per", 100_000)
        for value, lower in (("crude_rate", "crude_lower"), ("value", "lower")):
            v, lo = r.get(value), r.get(lower)
            if v is None or not np.isfinite(v):
                continue
            if value == "value" and r.get("dsr") is not None and v == r.get("dsr"):
                continue  # a DSR: its Dobson interval is inverted below
            if r.get("kind") == "proportion":
                x = v / per * pop
                back = wilson_count(v / per, lo / per, pop) if lo is not None and np.isfinite(lo) else None
            else:
                x = v * pop * years / per
                back = invert_lower(lo * pop * years / per) if lo is not None and np.isfinite(lo) else None
            for rebuilt in (x, back):
                if rebuilt is not None and not is_published(rebuilt):
                    found.append((r.get("group"), value, rebuilt))
        if r.get("dsr") is not None and np.isfinite(r.get("dsr", np.nan)):
            o = dobson_total(r["dsr"], r["dsr_lower"], r["dsr_upper"])
            if o is not None and not is_published(o):
                found.append((r.get("group"), "dsr interval", o))
    return found


# ---- 2-3. differencing as linear programs --------------------------------------------------------
class Attacker:
    """The unknown raw counts of the LSOAs (one set per dataset version) and what the outputs say
    of them."""

    def __init__(self, codes: list[str], versions: int = 1):
        self.codes = list(codes)
        self.index = {c: i for i, c in enumerate(self.codes)}
        self.n = len(self.codes) * versions
        self.rows, self.lo, self.hi = [], [], []
        self.exact = set()

    def var(self, code: str, version: int = 0) -> int:
        return version * len(self.codes) + self.index[code]

    def between(self, members: dict[int, float], lo: float, hi: float) -> None:
        row = np.zeros(self.n)
        for i, w in members.items():
            row[i] += w
        self.rows.append(row)
        self.lo.append(lo)
        self.hi.append(hi)

    def lsoa(self, code: str, shown: float | None, version: int = 0) -> None:
        if shown is None:
            self.between({self.var(code, version): 1}, 1, 7)
        elif shown == 0:
            self.between({self.var(code, version): 1}, 0, 0)
            self.exact.add(self.var(code, version))
        else:
            self.between({self.var(code, version): 1}, shown - SLACK, shown + SLACK)

    def total(self, members: list[str], shown: float | None, version: int = 0, bound: float | None = None) -> None:
        bound = BOUND if bound is None else bound
        members = [m for m in members if m in self.index]
        if not members:
            return
        vars_ = {self.var(m, version): 1.0 for m in members}
        if shown is None:
            if HIDDEN_MEANS_SMALL:  # Gapmap hides a group total when it is 1 to 7 or perturbed below 10
                self.between(vars_, 1, 7 + SLACK + bound)
        elif shown == 0:
            self.between(vars_, 0, 0)
        else:
            self.between(vars_, shown - SLACK - bound, shown + SLACK + bound)

    def rebuilt(self, members: list[str], found: list[tuple], group, version: int = 0) -> None:
        """An exact count rebuilt from a rate or an interval of ``group``: the attacker uses it."""
        for g, _, value in found:
            if str(g) == str(group) and abs(value - round(value)) < 1e-4:
                members = [m for m in members if m in self.index]
                if members:
                    self.between({self.var(m, version): 1.0 for m in members}, round(value), round(value))

    def pinned(self) -> list[tuple[int, float]]:
        """Variables whose feasible whole numbers are a single one, except those published exactly."""
        constraint = LinearConstraint(np.array(self.rows), np.array(self.lo), np.array(self.hi))
        whole = np.ones(self.n)
        out = []
        for i in range(self.n):
            if i in self.exact:
                continue
            c = np.zeros(self.n)
            c[i] = 1
            low = milp(c, constraints=constraint, integrality=whole, bounds=Bounds(0, np.inf))
            high = milp(-c, constraints=constraint, integrality=whole, bounds=Bounds(0, np.inf))
            assert low.status == 0 and high.status == 0, "the attacker's constraints must hold for the truth"
            if round(low.fun) == round(-high.fun):
                out.append((i, round(low.fun)))
        return out


# ---- the harvest ---------------------------------------------------------------------------------
def _lsoa_published(store, name: str, extent: Extent) -> dict[str, float | None]:
    from geo.views import map_table

    frame = map_table.map_table(store, name, extent).frame
    return {c: (None if s else float(v)) for c, v, s in zip(frame["lsoa21cd"], frame["count"], frame["suppressed"])}


def _cli_by_group(store, name: str, extent: Extent, grouping: str, monkeypatch) -> pd.DataFrame:
    from geo.cli import main

    monkeypatch.setenv("GAPMAP_STORE", str(store.root))
    args = ["analyse", name, "--stat", "by-group", "--group", grouping]
    if extent.level != "england":
        args += [f"--{extent.level}", extent.code]
    result = CliRunner().invoke(main, args)
    if result.exit_code != 0:
        return pd.DataFrame()
    return pd.read_csv(io.StringIO(result.stdout))


def harvest(store, name: str, extents: list[Extent], monkeypatch, attacker: Attacker, version: int = 0,
            statement_icb: str | None = None, tmp_path=None) -> list[tuple]:
    """Feed every published figure about ``name`` to the attacker; return the unrounded counts
    rebuilt from rates and intervals on the way."""
    lsoas = store.lsoas(geometry=False, columns=["lsoa21cd", *GROUPINGS, "icb24cd"])
    bad = []
    for extent in extents:
        for code, shown in _lsoa_published(store, name, extent).items():
            attacker.lsoa(code, shown, version)
        inside = lsoas if extent.level == "england" else lsoas[lsoas[f"{extent.level}24cd"] == extent.code]
        for grouping in GROUPINGS:
            table = _cli_by_group(store, name, extent, grouping, monkeypatch)
            if table.empty or "group" not in table:
                continue
            found = unrounded(table, _years(store, name))
            bad += [(extent, grouping, *b) for b in found]
            for r in table.to_dict("records"):
                members = inside.loc[inside[grouping].astype(str) == str(r["group"]).split(".")[0], "lsoa21cd"]
                shown = r.get("count")
                attacker.total(list(members), None if shown is None or not np.isfinite(shown) else float(shown),
                               version)
                attacker.rebuilt(list(members), found, r["group"], version)
        bad += harvest_ward_export(store, name, extent, monkeypatch, attacker, version, inside, tmp_path)
    if statement_icb is not None:
        bad += harvest_statement(store, name, statement_icb, monkeypatch, attacker, version, tmp_path)
    return bad


def harvest_ward_export(store, name, extent, monkeypatch, attacker, version, inside, tmp_path):
    """`gapmap export --table ward`: each ward's published total, rate and DSR."""
    from geo.cli import main

    if extent.level == "ward":
        return []
    out = tmp_path / f"wards-{name}-{version}-{extent.level}-{extent.code}"
    monkeypatch.setenv("GAPMAP_STORE", str(store.root))
    args = ["export", name, "--format", "csv", "--table", "ward", "--out", str(out)]
    if extent.level != "england":
        args += [f"--{extent.level}", extent.code]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    text = next(out.glob("*.csv")).read_text()
    table = pd.read_csv(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith('"# '))))
    table = _group_names(table, text).rename(columns={"ward24cd": "group"})
    found = unrounded(table, _years(store, name))
    for r in table.to_dict("records"):
        members = inside.loc[inside["ward24cd"] == r["group"], "lsoa21cd"]
        shown = r.get("count")
        attacker.total(list(members), None if shown is None or not np.isfinite(shown) else float(shown), version)
        attacker.rebuilt(list(members), found, r["group"], version)
    return [("ward export", extent, *b) for b in found]


def _names_for(unit: str) -> dict:
    """Export field -> group-table name for an indicator in ``unit`` (written out here, not taken
    from geo.outputs.field_names)."""
    per = re.match(r"per ([0-9,]+) .* per year$", unit)
    v = f"rate_per_{per.group(1).replace(',', '')}" if per else "percent" if unit.startswith("%") else None
    assert v, unit
    return {"events_published": "count", v: "value", f"{v}_lower_95": "lower", f"{v}_upper_95": "upper",
            f"crude_{v}": "crude_rate", f"crude_{v}_lower_95": "crude_lower", f"crude_{v}_upper_95": "crude_upper",
            f"dsr_{v}": "dsr", f"dsr_{v}_lower_95": "dsr_lower", f"dsr_{v}_upper_95": "dsr_upper",
            f"mean_lsoa_{v}": "mean_value", f"lsoas_with_{v}": "lsoas_with_value", "count_suppressed": "suppressed"}


INTERNAL = {"count", "value", "lower", "upper", "crude_rate", "crude_lower", "dsr", "dsr_lower"}
FIGURE = re.compile(r"rate|percent|events|dsr")


def _group_names(table: pd.DataFrame, text: str) -> pd.DataFrame:
    """The ward CSV's fields in the group table's names (``count``, ``value``, ``crude_rate``...),
    from the unit its metadata states; every field holding a figure is one the attacker reads."""
    unit = next(line for line in text.splitlines() if line.startswith('"# unit: '))[len('"# unit: '):-1]
    names = _names_for(unit)
    assert not INTERNAL & set(table.columns)  # renamed, all
    figures = [c for c in table.columns if FIGURE.search(c) and c not in names]
    assert not figures, figures
    return table.rename(columns=names)


def _measure_names(numbers: pd.DataFrame, units: dict) -> pd.DataFrame:
    """The statement's numbers with each measure in the group table's names, by its indicator's
    unit (the XLSX's indicators sheet); every measure holding a figure is one the attacker reads."""
    out = numbers.copy()
    for code, rows in numbers.groupby("indicator"):
        names = _names_for(units[code])
        assert not INTERNAL & set(rows["measure"]), code
        figures = sorted({m for m in rows["measure"] if FIGURE.search(m) and m not in names})
        assert not figures, figures
        out.loc[rows.index, "measure"] = rows["measure"].map(lambda m: names.get(m, m))
    return out


def _years(store, name: str) -> float:
    """The years a rate is divided by (1 where Gapmap pooled every year, before issue 18)."""
    try:
        from geo.sources.indicator_definitions import definition_of, years_of_data
    except ImportError:
        return 1.0
    from geo.store.datasets import DatasetStore

    dataset = DatasetStore(store).get(name)
    counts = dataset.counts()
    return years_of_data(dataset.meta, counts, definition_of(dataset.meta, "age_band" in counts))[0]


def harvest_statement(store, name: str, icb: str, monkeypatch, attacker: Attacker, version: int, tmp_path):
    """The statement's files (CLI): numbers CSV and XLSX, the HTML tables and the deck's charts."""
    from pptx import Presentation

    from geo.cli import main

    out = tmp_path / f"statement-{name}-{version}"
    monkeypatch.setenv("GAPMAP_STORE", str(store.root))
    result = CliRunner().invoke(main, ["statement", "--icb", icb, "--no-maps", "--out", str(out)])
    assert result.exit_code == 0, result.output
    numbers = pd.read_csv(out / "statement_numbers.csv", comment="#")
    xlsx = pd.read_excel(out / "statement_numbers.xlsx", sheet_name="numbers")
    assert len(numbers) == len(xlsx)
    units = pd.read_excel(out / "statement_numbers.xlsx", sheet_name="indicators").set_index("metric")["unit"]
    mine = _measure_names(numbers[numbers["dataset"] == name], units.dropna().to_dict())
    bad = []
    lsoas = store.lsoas(icb=icb, geometry=False, columns=["lsoa21cd", "imd_quintile", "imd_quintile_in_icb",
                                                          "ward24cd", "lad24cd"])
    wide = mine.pivot_table(index=["table", "group"], columns="measure", values="value", aggfunc="first")
    years = _years(store, name)
    for (table, group), row in wide.iterrows():
        record = {"group": group, **{k: (None if pd.isna(v) else v) for k, v in row.items()}}
        if table in ("extent", "imd_quintile", "imd_quintile_local", "funnel", "age_band", "ethnic_group",
                     "extent_ethnic_basis"):
            bad += [(table, *b) for b in unrounded(pd.DataFrame([record]), years)]
        if record.get("count") is not None and not is_published(record["count"]):
            bad.append((table, group, "count", record["count"]))
        column = {"imd_quintile": "imd_quintile", "imd_quintile_local": "imd_quintile_in_icb"}.get(table)
        if table == "funnel":
            column = "ward24cd" if str(group).startswith("E05") else "lad24cd"
        if table == "extent":
            attacker.total(list(lsoas["lsoa21cd"]), record.get("count"), version)
        elif column:
            members = lsoas.loc[lsoas[column].astype(str) == str(group).split(".")[0], "lsoa21cd"]
            attacker.total(list(members), record.get("count"), version)
    # the deck's bar and line charts: every plotted value is one of the published figures (the funnel's
    # XY chart adds limit curves traced from the published average)
    from pptx.enum.chart import XL_CHART_TYPE

    prs = Presentation(str(out / "statement.pptx"))
    values = [v for slide in prs.slides for shape in slide.shapes if shape.has_chart
              and shape.chart.chart_type != XL_CHART_TYPE.XY_SCATTER
              for plot in shape.chart.plots for series in plot.series for v in series.values if v is not None]
    assert values
    published_values = set(np.round(numbers["value"].astype(float), 6))
    bad += [("deck chart", "", "value", v) for v in values if round(float(v), 6) not in published_values]
    # the HTML tables: every count column holds published counts only
    import lxml.html

    for page in out.glob("*.html"):
        for table in lxml.html.fromstring(page.read_text()).xpath("//table[@data-table]"):
            header = [th.text_content().strip() for th in table.xpath(".//thead//th")]
            if "Count" not in header:
                continue
            k = header.index("Count")
            for row in table.xpath(".//tbody/tr"):
                cell = row.findall("td")[k].text_content().strip().replace(",", "")
                if re.fullmatch(r"\d+(\.\d+)?", cell) and not is_published(float(cell)):
                    bad.append((f"html {page.name} {table.get('data-table')}", "", "count", float(cell)))
    return bad


# ---- the tests ----------------------------------------------------------------------------------
COUNTS = {"E01000001": 3, "E01000002": 12, "E01000003": 9, "E01000004": 11, "E01000005": 5, "E01000006": 6,
          "E01000007": 1, "E01000008": 8}


def _records(counts: dict[str, int], extra: tuple[str, int] | None = None) -> str:
    """Records aged 0-17 (UEC01's ages), one per event, dated in two financial years."""
    lines = ["id,lsoa,age,sex,ethnic_category,arrival_date"]
    n = 0
    for code, k in counts.items():
        k += extra[1] if extra and extra[0] == code else 0
        for j in range(k):
            n += 1
            lines.append(f"{n},{code},{j % 18},{1 + j % 2},{'AHMNZ'[j % 5]},{2023 + j % 2}-06-01")
    return "\n".join(lines) + "\n"


def _ingest(store, tmp_path, name, text):
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    ingest(path, IngestOptions(name=name, by=("age_band", "sex", "ethnic_group", "period"), measure="Admissions",
                               nhs_indicator="UEC01"), store)


def test_no_count_is_pinned_on_the_fixture_store(folder_fixture_store, tmp_path, monkeypatch):
    from geo.store.datasets import DatasetStore
    from geo.views import map_table

    store = folder_fixture_store
    codes = sorted(COUNTS)
    extents = [Extent(), Extent("icb", "E54000001"), Extent("icb", "E54000002"), Extent("lad", "E06000001"),
               Extent("lad", "E06000002")] + [Extent("ward", f"E0500000{i}") for i in range(1, 5)]
    attacker = Attacker(codes, versions=2)
    try:
        _ingest(store, tmp_path, "attack-small", _records(COUNTS))
        bad = harvest(store, "attack-small", extents, monkeypatch, attacker, 0, "E54000001", tmp_path)
        # the attacker adds one event to a hidden LSOA and asks again
        _ingest(store, tmp_path, "attack-small", _records(COUNTS, ("E01000001", 1)))
        map_table.clear_caches()
        bad += harvest(store, "attack-small", extents, monkeypatch, attacker, 1, "E54000001", tmp_path)
        for code in codes:  # what the attacker knows of the change
            diff = 1 if code == "E01000001" else 0
            attacker.between({attacker.var(code, 1): 1, attacker.var(code, 0): -1}, diff, diff)
        assert bad == [], bad[:10]
        pinned = attacker.pinned()
        assert pinned == [], [(attacker.codes[i % len(codes)], v) for i, v in pinned]
    finally:
        if "attack-small" in DatasetStore(store).names():
            DatasetStore(store).remove("attack-small")


def test_the_solver_pins_what_deterministic_rounding_gives_away():
    """The solver pins what the published figures give away (x = 12 shown 10, y = 7 hidden, and
    their sum given exactly, as a rate from raw counts gave it: 19 leaves only x = 12, y = 7), and
    nothing once the same total is published perturbed and rounded."""
    a = Attacker(["x", "y"])
    a.lsoa("x", 10)  # x in [8, 12]
    a.lsoa("y", None)  # y in [1, 7]
    a.total(["x", "y"], 20, bound=0)  # x + y in [18, 22]
    a.between({a.var("x"): 1, a.var("y"): 1}, 19, 19)  # an exact total: only x = 12, y = 7 fit
    assert sorted(a.pinned()) == [(a.var("x"), 12), (a.var("y"), 7)]
    b = Attacker(["x", "y"])
    b.lsoa("x", 10)
    b.lsoa("y", None)
    b.total(["x", "y"], 20)  # with the perturbation's bound, nothing is pinned
    assert b.pinned() == []


def test_rates_and_intervals_give_back_only_published_counts():
    """The inverters themselves: a rate from 612 events gives 612 back; from 610, 610."""
    from geo.rates.confidence_intervals import crude_rate, proportion
    from geo.rates.standardised_rates import dsr

    r = crude_rate([612.0], [148_403.0], 100_000)
    rows = pd.DataFrame([{"group": 1, "count": 610.0, "population": 148_403.0, "crude_rate": r["value"][0],
                          "crude_lower": r["lower"][0]}])
    assert [b[2] for b in unrounded(rows)] == pytest.approx([612.0, 612.0])
    r = crude_rate([610.0], [148_403.0], 100_000)
    rows = pd.DataFrame([{"group": 1, "count": 610.0, "population": 148_403.0, "crude_rate": r["value"][0],
                          "crude_lower": r["lower"][0]}])
    assert unrounded(rows) == []
    d = dsr([300.0, 312.0], [50_000.0, 60_000.0], [5000.0, 5500.0])
    assert dobson_total(d["value"], d["lower"], d["upper"]) == 612
    p = proportion([612.0], [900.0], 100)
    rows = pd.DataFrame([{"group": 1, "count": 610.0, "population": 900.0, "value": p["value"][0],
                          "lower": p["lower"][0], "kind": "proportion", "per": 100}])
    assert [round(b[2], 6) for b in unrounded(rows)] == [612.0, 612.0]


@pytest.mark.mirror
def test_no_count_is_pinned_in_luton(england_store, tmp_path, monkeypatch):
    """Luton (E06000032): 1-12 events per LSOA, asked for over Luton, BLMK and each Luton ward,
    by every grouping, through the CLI and the BLMK statement; then solved together."""
    from geo.store.datasets import DatasetStore

    store = england_store
    luton = store.lsoas(lad="E06000032", geometry=False, columns=["lsoa21cd", "ward24cd"])
    codes = sorted(luton["lsoa21cd"])
    rng = np.random.default_rng(19)
    counts = dict(zip(codes, rng.integers(1, 13, len(codes)).tolist()))
    wards = sorted(luton["ward24cd"].unique())
    extents = [Extent("lad", "E06000032")] + [Extent("ward", w) for w in wards[:6]]
    attacker = Attacker(codes)
    try:
        _ingest(store, tmp_path, "attack-luton", _records(counts))
        bad = harvest(store, "attack-luton", extents, monkeypatch, attacker, 0, None, tmp_path)
        assert bad == [], bad[:10]
        assert attacker.pinned() == []
    finally:
        if "attack-luton" in DatasetStore(store).names():
            DatasetStore(store).remove("attack-luton")
