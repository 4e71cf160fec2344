"""Writes a :class:`geo.views.statement.Statement`: the web report (``index.html`` and a page per
indicator with data), the PowerPoint deck, and every number as CSV and XLSX (with the targeting
list). The same templates serve the ``/statement`` pages of the web service.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from geo import ATTRIBUTION
from geo.outputs.cell_text import neutralise_frame
from geo.settings import PROJECT_ROOT
from geo.views.statement import (COMPARISON_METHOD, HOW_TO_ATTACH, TREND_METHOD, Section, Statement, fmt, numbers,
                                 value_columns)

TEMPLATES = PROJECT_ROOT / "app" / "templates"
CSS = PROJECT_ROOT / "static" / "css" / "statement.css"
METHOD = ("Each indicator is computed as its definition says (shown with it): rates are events per year over the "
          "residents of the indicator's ages and sex in each group (ONS mid-2020 by single year of age; Census "
          "2021 ethnic mix for ethnic groups), with PHE's Poisson limits (Byar's, exact under 10) and directly "
          "standardised rates (ESP 2013 bands within the ages, Dobson) where the definition standardises; "
          "proportions are events over the denominator the data supplies, in %, with Wilson limits. SII (linear "
          "fit) and RII (log-linear fit for rates, logit for proportions) by PHE's method (positive SII: the most "
          "deprived are worse off). " + COMPARISON_METHOD + " " + TREND_METHOD + " Funnel plots by PHE's method "
          "(PHEindicatormethods: Poisson for rates, Wilson for proportions). Disclosure control comes first, cell "
          "by cell: counts from 1 to 7 are hidden, every other count is perturbed and rounded to 5, and every "
          "figure is computed from those published counts, so none gives back a hidden or exact count.")


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _pct(v, top) -> str:
    if not _ok(v) or not _ok(top) or top <= 0:
        return "0"
    return f"{max(0.0, min(100.0, v / top * 100)):.1f}"


def rates_view(table: pd.DataFrame | None, label: str, value: str | None = None) -> dict | None:
    """A by-group table as the report's rate table shows it."""
    if table is None or not len(table):
        return None
    value, lower, upper = value_columns(table)
    rows = table.to_dict("records")
    tops = [r[upper] for r in rows if _ok(r.get(upper))]
    return {"rows": rows, "value": value, "lower": lower, "upper": upper, "top": max(tops) * 1.05 if tops else 1,
            "label": label, "headline": str(table.attrs.get("headline") or "value"),
            "grouping": str(table.attrs.get("grouping") or "")}


def sii_text(sii: dict | None, gap: dict | None, unit: str = "per 100,000 residents per year") -> str:
    if not sii:
        return "No SII: it needs a published value in every quintile (none hidden)."
    unit = "percentage points" if unit.startswith("%") else unit
    text = (f"Slope index of inequality {fmt(sii['sii'])} {unit} (95% CI {fmt(sii['sii_lower_95'])} to "
            f"{fmt(sii['sii_upper_95'])}); relative index {fmt(sii['rii'], 2)} (95% CI {fmt(sii['rii_lower_95'], 2)} "
            f"to {fmt(sii['rii_upper_95'], 2)}, {sii.get('rii_method', 'PHE')}).")
    if gap:
        text += f" Quintile 1 against 5: gap {fmt(gap['gap'])} {unit}, ratio {fmt(gap['ratio'], 2)}."
    return text + " A positive SII means the most deprived are worse off."


def trend_rows(section: Section) -> list[dict]:
    if section.trend is None:
        return []
    value, lower, upper = value_columns(section.trend)
    out = []
    sii = section.trend_sii.set_index("period") if section.trend_sii is not None else None
    for period, g in section.trend.groupby("period", sort=True):
        by_q = g.set_index("group")
        values = [f"{fmt(by_q.at[q, value])} ({fmt(by_q.at[q, lower])} to {fmt(by_q.at[q, upper])})"
                  if q in by_q.index else "-" for q in range(1, 6)]
        s = sii.loc[period] if sii is not None and period in sii.index else None
        out.append({"period": period, "values": values,
                    "sii": "-" if s is None or "sii" not in s or not _ok(s["sii"]) else
                    f"{fmt(s['sii'])} ({fmt(s['sii_lower_95'])} to {fmt(s['sii_upper_95'])})"})
    return out


def funnel_svg(section: Section, place: str) -> str | None:
    """The funnel plot as an SVG image (matplotlib) for the web report."""
    points, limits = section.funnel_points, section.funnel_limits
    if points is None or limits is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5), dpi=72)
    top = float(points["population"].max()) * 1.05
    for column, pop_column, style, label in (("lower_95", "population_lower_95", "--", "95% limits"),
                                             ("upper_95", "population_upper_95", "--", None),
                                             ("lower_998", "population_lower_998", ":", "99.8% limits"),
                                             ("upper_998", "population_upper_998", ":", None)):
        keep = limits[(limits[pop_column] <= top)].sort_values(pop_column)
        ax.plot(keep[pop_column], keep[column], style, color="#ed8b00" if "95" in column and "998" not in column
                else "#d5281b", label=label)
    ax.axhline(float(limits["baseline"].iloc[0]), color="#212b32", lw=1, label=f"{place} rate")
    for kind, colour, size in (("ward", "#4c6272", 18), ("place", "#005eb8", 50)):
        p = points[(points["kind"] == kind) & points["value"].notna()]
        ax.scatter(p["population"], p["value"], s=size, color=colour, label=f"{kind}s", zorder=3)
    ax.set_xlabel("Denominator" if section.is_proportion else "Population (residents of the indicator's ages)")
    ax.set_ylabel(("Percentage" if section.is_proportion else "Crude rate") + f" ({section.unit})")
    ax.set_xlim(0, top)
    shown = pd.concat([points["upper"], points["value"], limits["baseline"]]).dropna()
    if len(shown):  # the axis fitted to the data, not to the funnel's ends near 0 population
        ax.set_ylim(0, float(shown.max()) * 1.15)
    ax.legend(fontsize=8, frameon=False)
    if section.synthetic:
        ax.text(0.5, 0.5, "SYNTHETIC DATA", transform=ax.transAxes, fontsize=36, color="#d5281b", alpha=0.2,
                ha="center", va="center", rotation=15)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.globals.update(fmt=fmt, pct=_pct, ok=_ok, attribution=ATTRIBUTION, method=METHOD, nan=float("nan"),
                       attach_command=attach_command())
    return env


def page_context(statement: Statement, section: Section | None, link, map_src=None, downloads=()) -> dict:
    context = {"st": statement, "link": link, "downloads": list(downloads),
               "sii_text": lambda s, g: sii_text(s, g, section.unit if section else "per 100,000 residents per year")}
    if section is None:
        groups = []
        if statement.targets is not None:
            for group, g in statement.targets.groupby("group", sort=False):
                groups.append((group, g.to_dict("records")))
        context["targets_by_group"] = groups
        return context
    context.update({"s": section, "map_src": map_src, "trend_rows": trend_rows(section),
                    "funnel_svg": funnel_svg(section, statement.place),
                    "views": {"quintiles": rates_view(section.quintiles, "imd_quintile"),
                              "quintiles_local": rates_view(section.quintiles_local, "imd_quintile_local"),
                              "ethnic": rates_view(section.ethnic, "ethnic_group"),
                              "age": rates_view(section.age, "age_band")}})
    return context


def write_report(statement: Statement, out_dir: Path) -> Path:
    env = environment()
    css = CSS.read_text(encoding="utf-8")
    files = {"index": "index.html", **{s.slug: f"{s.slug}.html" for s in statement.with_data}}
    link = files.get
    downloads = [("Deck (PowerPoint)", "statement.pptx"), ("Numbers (XLSX)", "statement_numbers.xlsx"),
                 ("Numbers (CSV)", "statement_numbers.csv")]
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(env.get_template("statement/index.html").render(
        css_inline=css, **page_context(statement, None, link, downloads=downloads)), encoding="utf-8")
    for s in statement.with_data:
        src = None
        if s.maps.get("hotspots"):
            src = Path(s.maps["hotspots"]).resolve().relative_to(out_dir.resolve()).as_posix() \
                if Path(s.maps["hotspots"]).resolve().is_relative_to(out_dir.resolve()) else str(s.maps["hotspots"])
        (out_dir / files[s.slug]).write_text(env.get_template("statement/indicator.html").render(
            css_inline=css, **page_context(statement, s, link, src, downloads)), encoding="utf-8")
    return index


NUMBERS_COLUMNS = {
    "indicator": "The NHS statement metric (ELR01 ... MAT01); its unit is on the indicators sheet",
    "dataset": "The dataset attached to the metric that the number comes from",
    "table": "Which table of the statement: extent (the ICB or place as a whole), imd_quintile, "
             "imd_quintile_local, ethnic_group, age_band, sex, shares, funnel, trend, sii, sii_local, gap, "
             "trend_test, trend_sii",
    "group": "The row of that table: a quintile (1 = most deprived), an ethnic group, an age band, a ward or "
             "place code, a period",
    "name": "The group's name", "measure": "What the number is (each measure is described below)",
    "value": "The number", "synthetic": "True where the dataset is SYNTHETIC (made-up records)"}
MEASURES = {  # the statement's own measures; those in an indicator's unit are named by geo.outputs.field_names
    "events_published": "Events after disclosure control (counts 1 to 7 hidden, others perturbed and rounded to 5)",
    "population": "The denominator: residents of the indicator's ages in the group, or the supplied denominator",
    "person_years": "Residents x years of data: the person-years the rate divides by",
    "activity_share": "The group's share of the events, %", "activity_lower": "Its lower 95% limit (Wilson)",
    "activity_upper": "Its upper 95% limit (Wilson)", "population_share": "The group's share of the population, %",
    "lower_998": "Funnel plot: lower 99.8% limit at the area's population",
    "upper_998": "Funnel plot: upper 99.8% limit at the area's population",
    "sii": "Slope index of inequality (PHE; positive: the most deprived are worse off), in the indicator's unit",
    "sii_lower_95": "Its lower 95% limit", "sii_upper_95": "Its upper 95% limit",
    "rii": "Relative index of inequality", "rii_lower_95": "Its lower 95% limit", "rii_upper_95": "Its upper 95% limit",
    "gap": "Quintile 1 minus quintile 5, in the indicator's unit", "ratio": "Quintile 1 over quintile 5",
    "most_deprived": "Quintile 1's value", "least_deprived": "Quintile 5's value",
    "change": "Change of the SII from the first to the last period", "change_lower": "Its lower 95% limit",
    "change_upper": "Its upper 95% limit", "sii_first": "SII in the first period", "sii_last": "SII in the last period",
    "z": "z statistic of the change", "p": "Two-sided p-value of the change"}


def named_numbers(statement: Statement) -> pd.DataFrame:
    """:func:`geo.views.statement.numbers` with each measure named as the exports name it
    (:mod:`geo.outputs.field_names`): ``count`` -> ``events_published``, the headline ``value`` ->
    ``rate_per_100000`` or ``percent`` by the indicator's unit, ``crude_rate`` ->
    ``crude_rate_per_100000``..."""
    from geo.outputs import field_names

    frame = numbers(statement)
    units = {s.code: s.unit for s in statement.with_data}
    named = frame["measure"].copy()
    for code, rows in frame.groupby("indicator", sort=False):
        names = field_names.export_names(rows["measure"].unique(), code, {"unit": units.get(code)})
        named[rows.index] = rows["measure"].map(names)
    frame["measure"] = named
    return frame


def numbers_dictionary(statement: Statement, frame: pd.DataFrame) -> pd.DataFrame:
    """The data dictionary of the numbers: each column, then each measure the table holds."""
    from geo.outputs import field_names

    described = dict(MEASURES)
    by_name: dict[str, list] = {}
    for s in statement.with_data:
        by_name.setdefault(field_names.value_name(s.code, {"unit": s.unit}), []).append(s)
    for v, sections in by_name.items():
        units = sorted({s.unit for s in sections})
        heads = sorted({s.headline for s in sections})
        unit = units[0] if len(units) == 1 else "each indicator's unit: see the indicators sheet"
        described.update({
            v: f"The headline figure: {' or '.join(heads)} ({unit})", f"{v}_lower_95": "Its lower 95% limit",
            f"{v}_upper_95": "Its upper 95% limit", f"crude_{v}": f"Crude rate ({unit})",
            f"crude_{v}_lower_95": "Its lower 95% limit (Byar's; exact under 10)",
            f"crude_{v}_upper_95": "Its upper 95% limit", f"dsr_{v}": f"Directly standardised rate ({unit})",
            f"dsr_{v}_lower_95": "Its lower 95% limit (Dobson)", f"dsr_{v}_upper_95": "Its upper 95% limit (Dobson)",
            f"proportion_{v}": f"Proportion ({unit})", f"proportion_{v}_lower_95": "Its lower 95% limit (Wilson)",
            f"proportion_{v}_upper_95": "Its upper 95% limit (Wilson)"})
    rows = [{"field": k, "kind": "column", "description": t} for k, t in NUMBERS_COLUMNS.items()]
    rows += [{"field": m, "kind": "measure", "description": described.get(m, "")} for m in frame["measure"].unique()]
    return pd.DataFrame(rows, columns=["field", "kind", "description"])


def write_tables(statement: Statement, out_dir: Path) -> tuple[Path, Path]:
    """Every number as CSV (with its data dictionary and the attribution as trailing comment lines)
    and XLSX (sheets: numbers, fields, targets, indicators, about)."""
    frame = named_numbers(statement)
    fields = numbers_dictionary(statement, frame)
    csv_path = out_dir / "statement_numbers.csv"
    text = neutralise_frame(frame).to_csv(index=False)
    note = "# " + ATTRIBUTION + (" SYNTHETIC DATA where marked." if statement.synthetic else "")
    dictionary = "".join(f"# {r.kind} {r.field}: {r.description}\n" for r in fields.itertuples())
    csv_path.write_text(text + dictionary + note + "\n", encoding="utf-8")
    xlsx_path = out_dir / "statement_numbers.xlsx"
    indicators = pd.DataFrame([{"metric": s.code, "domain": s.domain, "indicator": s.wording,
                                "dataset": s.dataset or "no data attached", "unit": s.unit if s.has_data else "",
                                "headline": s.headline if s.has_data else "",
                                "synthetic": s.synthetic, "notes": " ".join(s.notes)} for s in statement.sections])
    about = pd.DataFrame({"about": [f"Health inequalities statement: {statement.place}", statement.created, METHOD,
                                    ATTRIBUTION] + (["SYNTHETIC DATA where marked: made-up records."]
                                                    if statement.synthetic else []) +
                          ([f"To attach data to an indicator with none: {attach_command()}"]
                           if statement.without_data else [])})
    with pd.ExcelWriter(xlsx_path, engine="openpyxl") as writer:
        neutralise_frame(frame).to_excel(writer, sheet_name="numbers", index=False)
        neutralise_frame(fields).to_excel(writer, sheet_name="fields", index=False)
        if statement.targets is not None:
            neutralise_frame(statement.targets).to_excel(writer, sheet_name="targets", index=False)
        neutralise_frame(indicators).to_excel(writer, sheet_name="indicators", index=False)
        neutralise_frame(about).to_excel(writer, sheet_name="about", index=False)
    return csv_path, xlsx_path


def attach_command() -> str:
    """How to attach data to an indicator, said once for all of them (CODE: the metric)."""
    return HOW_TO_ATTACH.format(code="CODE") + "; CODE is the indicator's metric (ELR01 ... MAT01)"


def write_all(statement: Statement, out_dir: Path) -> dict[str, Path]:
    from geo.outputs import statement_deck, targeting_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"report": write_report(statement, out_dir),
             "deck": statement_deck.write(statement, out_dir / "statement.pptx")}
    paths["csv"], paths["xlsx"] = write_tables(statement, out_dir)
    if statement.targets is not None:
        targets = out_dir / "statement_targets.csv"
        targets.write_text(targeting_file.csv_text(statement.targets), encoding="utf-8")
        paths["targets"] = targets
    return paths


def draw_maps(statement: Statement, store, maps_dir: Path, replace: bool = False) -> None:
    """The hot-spot map of each indicator with data, as a slide image in ``maps_dir`` (the deck and
    the report show it); an indicator whose map cannot be drawn gets a note saying why. A map
    already there is replaced only with ``replace``."""
    from geo.errors import GapmapError
    from geo.outputs import slides

    for section in statement.with_data:
        # the hot spots the statement targets by: the smoothed view's for a rare indicator (statement_targets)
        smoothed = f"smoothed-hotspots:{section.code}" in statement.targets_groups
        view = "smoothed-hotspots" if smoothed else "hotspots"
        if not replace:
            slides.refuse_to_replace(slides.slide_path(section.dataset, statement.extent, view, "png", maps_dir))
        try:
            section.maps["hotspots"] = slides.render(
                store, section.dataset, statement.extent, view, "png", maps_dir, replace=True,
                title=f"{section.code}: hot and cold spots of " + ("the smoothed rate of " if smoothed else "")
                      + f"{section.measure}")
        except (ValueError, GapmapError) as exc:
            section.notes.append(f"No hot-spot map: {exc}")


WRITES = ("index.html", "statement.pptx", "statement_numbers.csv", "statement_numbers.xlsx", "statement_targets.csv")


def refuse_to_replace_statement(out_dir: Path) -> None:
    """Stop (:class:`geo.outputs.slides.FileExists`) when ``out_dir`` already holds a statement:
    its files are replaced only with ``--force``."""
    from geo.outputs.slides import FileExists

    found = [name for name in WRITES if (Path(out_dir) / name).exists()]
    if found:
        raise FileExists(f"{Path(out_dir)} already holds a statement ({', '.join(found)}): nothing was written. Add "
                         f"--force to replace it, or choose another folder with --out.")


PLAIN = (  # what a library's warning means for the reader, in words
    ("Not enough unique values in array to form", "Some indicators have too many equal values (such as zeros) to "
                                                  "form every class asked for: fewer classes are shown, as their "
                                                  "notes and legends say."),
    ("Mean of empty slice", "A statistic had no published values to work on in some area: it is shown as no data."),
    ("invalid value encountered", "A statistic had no published values to work on in some area: it is shown as no "
                                  "data."),
    ("divide by zero", "A statistic divided by an area with no population or no published values: it is shown as "
                       "no data."),
)


def plain_notes(caught) -> list[str]:
    """Warnings raised while the statement was made (``warnings.catch_warnings(record=True)``), as
    plain notes: each once, in words, with no file, line or library name."""
    notes = []
    for w in caught:
        message = str(w.message)
        note = next((words for start, words in PLAIN if start in message),
                    f"While making the statement a calculation reported: {message.split(chr(10))[0]}")
        if note not in notes:
            notes.append(note)
    return notes
