"""The statement as a PowerPoint deck (python-pptx), with native charts presenters can restyle.

Slides: a title, the method, the list of indicators (those with no data attached say how to
attach it), then per indicator with data: rates by national IMD quintile (a bar chart with the
95% limits as error bars, a table of the numbers, the SII, RII, gap and ratio), by quintile within
the ICB, by ethnic group, by age band and sex, shares of activity (share-type indicators), the
trend by quintile (a line chart and the test of the change of the SII), the funnel plot (an XY
chart of wards and places with PHE's 95% and 99.8% limits), the hot-spot map (the slide image of
:mod:`geo.outputs.slides`) and the findings; then the targeting lists and the attribution. Every number
comes from :mod:`geo.views.statement` (and so from :func:`geo.views.analysis.by_group`), after disclosure
control; tables print them with :func:`geo.views.statement.fmt`.
"""
from __future__ import annotations

import copy
import math
import re
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.oxml.ns import qn
from pptx.util import Inches, Pt

from geo import ATTRIBUTION
from geo.outputs.cell_text import neutralise
from geo.views.statement import COMPARISON_METHOD, TREND_METHOD, Statement, fmt, value_columns

BLUE = RGBColor(0x00, 0x5E, 0xB8)
DARK = RGBColor(0x21, 0x2B, 0x32)
RED = RGBColor(0xD5, 0x28, 0x1B)
GREY = RGBColor(0x42, 0x55, 0x63)
COMPARED = {"higher": "higher", "lower": "lower", "similar": "similar", None: "-"}


PRINTED_NUMBER = re.compile(r"-|-?[0-9][0-9,]*(\.[0-9]+)?%?")  # fmt()'s numbers and its '-' for none


def _safe(value) -> str:
    """Text for the deck, neutralised (:func:`geo.outputs.cell_text.neutralise`): a name, period or
    label from an uploaded file that starts like a formula gets its apostrophe, in the slides'
    text and in the chart workbooks alike. Numbers as the statement prints them (-1.5, 1,234.0 or
    '-' for none) are not formulas and stay as they are."""
    text = str(value)
    return text if PRINTED_NUMBER.fullmatch(text) else neutralise(text)


def _blank(prs):
    return prs.slides.add_slide(prs.slide_layouts[6])


def _text(slide, left, top, width, height, text, size=14, bold=False, colour=DARK):
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    lines = text if isinstance(text, list) else [text]
    for i, line in enumerate(lines):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.text = _safe(line)
        p.font.size = Pt(size)
        p.font.bold = bold
        p.font.color.rgb = colour
    return box


def fitted_size(text: str, width_in: float, height_in: float, largest: float, smallest: float = 9) -> float:
    """The largest font size (points, from ``largest`` down to ``smallest``) at which ``text``,
    wrapped at the box's width, fits its height: measured with an average character width of 0.52 em
    (Arial-like; bold titles are wider, so it is cautious) and lines of 1.2 em."""
    size = largest
    while size > smallest:
        per_line = max(1, int(width_in * 72 / (size * 0.52)))
        lines = _wrapped_lines(text, per_line)
        if lines * size * 1.2 <= height_in * 72:
            break
        size -= 1
    return size


def _wrapped_lines(text: str, per_line: int) -> int:
    import textwrap

    return max(1, len(textwrap.wrap(text, per_line, break_long_words=True)))


def _header(slide, title, subtitle, synthetic):
    """A slide's title and subtitle, wrapped and sized to fit their boxes (never clipped): the font
    is made smaller until the wrapped text fits, and the boxes shrink text on overflow
    (PowerPoint's and LibreOffice's 'shrink text on overflow') should a font run wider."""
    from pptx.enum.text import MSO_AUTO_SIZE

    width = 9.1 if synthetic else 12.5  # clear of the SYNTHETIC DATA mark at the top right
    box = _text(slide, 0.4, 0.2, width, 0.75, title, fitted_size(title, width, 0.75, 26), True, BLUE)
    box.name = "title"
    box.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
    if subtitle:
        box = _text(slide, 0.4, 0.95, 12.5, 0.4, subtitle, fitted_size(subtitle, 12.5, 0.4, 13, 8), False, GREY)
        box.name = "subtitle"
        box.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
    if synthetic:
        _text(slide, 9.6, 0.05, 3.6, 0.35, "SYNTHETIC DATA", 14, True, RED)
    _text(slide, 0.4, 7.05, 12.5, 0.4, ATTRIBUTION, 7, False, GREY)


def _table(slide, left, top, width, header, rows, size=10, row_height=0.28, widths=None):
    shape = slide.shapes.add_table(len(rows) + 1, len(header), Inches(left), Inches(top), Inches(width),
                                   Inches(row_height * (len(rows) + 1)))
    table = shape.table
    for j, h in enumerate(header):
        cell = table.cell(0, j)
        cell.text = _safe(h)
        cell.text_frame.paragraphs[0].font.size = Pt(size)
        cell.text_frame.paragraphs[0].font.bold = True
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            cell = table.cell(i, j)
            cell.text = _safe(v)
            cell.text_frame.paragraphs[0].font.size = Pt(size)
    shape.name = "numbers"
    if widths:
        for j, w in enumerate(widths):
            table.columns[j].width = Inches(w)
    return table


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _error_bars(chart, plus, minus):
    """Custom error bars (the 95% limits) on the first series of a bar chart: native OOXML c:errBars."""
    ser = chart.plots[0].series[0]._element
    bars = etree.SubElement(ser, qn("c:errBars"))
    ser.remove(bars)
    etree.SubElement(bars, qn("c:errBarType")).set("val", "both")
    etree.SubElement(bars, qn("c:errValType")).set("val", "cust")
    etree.SubElement(bars, qn("c:noEndCap")).set("val", "0")
    for tag, values in (("c:plus", plus), ("c:minus", minus)):
        holder = etree.SubElement(bars, qn(tag))
        lit = etree.SubElement(holder, qn("c:numLit"))
        etree.SubElement(lit, qn("c:formatCode")).text = "General"
        etree.SubElement(lit, qn("c:ptCount")).set("val", str(len(values)))
        for i, v in enumerate(values):
            if v is None:
                continue
            pt = etree.SubElement(lit, qn("c:pt"))
            pt.set("idx", str(i))
            etree.SubElement(pt, qn("c:v")).text = repr(float(v))
    cat = ser.find(qn("c:cat"))
    cat.addprevious(bars)


def _bar_chart(slide, categories, values, lower, upper, title, left=0.4, top=1.4, width=6.4, height=5.4,
               benchmark=None):
    data = CategoryChartData()
    data.categories = [_safe(c) for c in categories]  # written into the chart's embedded workbook
    data.add_series(_safe(title), [_num(v) for v in values], number_format="#,##0.0")
    if benchmark is not None:
        data.add_series("ICB", [_num(benchmark)] * len(categories), number_format="#,##0.0")
    frame = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(left), Inches(top), Inches(width),
                                   Inches(height), data)
    frame.name = "chart"
    chart = frame.chart
    chart.has_title = True
    chart.chart_title.text_frame.text = _safe(title)
    chart.chart_title.text_frame.paragraphs[0].font.size = Pt(12)
    chart.has_legend = benchmark is not None
    if benchmark is not None:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
        chart.legend.font.size = Pt(10)
    chart.plots[0].series[0].format.fill.solid()
    chart.plots[0].series[0].format.fill.fore_color.rgb = BLUE
    if benchmark is not None:  # the ICB's rate as a line across the bars
        bench = chart.plots[0].series[1]
        bench.format.fill.background()
        _as_line(chart, 1)
    plus = [None if _num(u) is None or _num(v) is None else u - v for v, u in zip(values, upper)]
    minus = [None if _num(lo) is None or _num(v) is None else v - lo for v, lo in zip(values, lower)]
    _error_bars(chart, plus, minus)
    chart.value_axis.tick_labels.font.size = Pt(10)
    chart.category_axis.tick_labels.font.size = Pt(10)
    return chart


def _as_line(chart, index):
    """Turn series ``index`` of a bar chart into a line (a combined chart), for the ICB benchmark."""
    plot_area = chart._chartSpace.chart.plotArea
    bar = plot_area.find(qn("c:barChart"))
    ser = bar.findall(qn("c:ser"))[index]
    bar.remove(ser)
    line = etree.SubElement(plot_area, qn("c:lineChart"))
    plot_area.remove(line)
    etree.SubElement(line, qn("c:grouping")).set("val", "standard")
    etree.SubElement(line, qn("c:varyColors")).set("val", "0")
    for child in list(ser):
        if child.tag in (qn("c:invertIfNegative"), qn("c:spPr")):
            ser.remove(child)
    sppr = etree.fromstring(
        '<c:spPr xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:ln w="28575"><a:solidFill>'
        '<a:srgbClr val="D5281B"/></a:solidFill><a:prstDash val="dash"/></a:ln></c:spPr>')
    ser.insert(3, sppr)
    marker = etree.fromstring('<c:marker xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart">'
                              '<c:symbol val="none"/></c:marker>')
    ser.insert(4, marker)
    line.append(ser)
    etree.SubElement(line, qn("c:marker")).set("val", "1")
    for ax_id in bar.findall(qn("c:axId")):
        line.append(copy.deepcopy(ax_id))
    bar.addnext(line)


def _rate_rows(table, value, lower, upper, with_compared=True):
    rows = []
    for r in table.to_dict("records"):
        row = [str(r.get("name", r["group"])), fmt(r.get("count"), 0), fmt(r.get("population"), 0),
               fmt(r.get(value)), fmt(r.get(lower)), fmt(r.get(upper))]
        if with_compared:
            row.append(COMPARED.get(r.get("compared"), "-"))
        rows.append(row)
    return rows


RATE_HEADER = ["Group", "Count", "People", "Rate", "95% lower", "95% upper", "vs ICB"]


def _rate_slide(prs, section, table, title, subtitle, benchmark, note=None):
    slide = _blank(prs)
    _header(slide, title, subtitle, section.synthetic)
    value, lower, upper = value_columns(table)
    kind = str(table.attrs.get("headline") or section.headline).capitalize()
    if table.attrs.get("value_column") == "dsr":
        kind = "Age-standardised rate (DSR)"
    shown = table[table[value].notna()] if value in table else table.iloc[:0]
    if len(shown):
        _bar_chart(slide, [str(n) for n in shown["name"]], shown[value].tolist(), shown[lower].tolist(),
                   shown[upper].tolist(), f"{kind} ({section.unit}), 95% limits", benchmark=benchmark)
    else:
        _text(slide, 0.4, 3.0, 6.4, 1.0, "Nothing to chart: every group's count is hidden (1 to 7 events) or "
              "has no population.", 14, False, GREY)
    header = RATE_HEADER.copy()
    header[3] = "DSR" if table.attrs.get("value_column") == "dsr" else ("%" if section.is_proportion else "Rate")
    if section.is_proportion:
        header[2] = "Denominator"
    rows = _rate_rows(table, value, lower, upper, "compared" in table)
    if "compared" not in table:
        header = header[:-1]
    widths = [1.5, 0.7, 0.9, 0.8, 0.8, 0.8, 0.7][:len(header)]
    _table(slide, 7.0, 1.4, sum(widths), header, rows, size=8 if len(rows) > 8 else 9,
           row_height=0.22 if len(rows) > 8 else 0.3, widths=widths)
    lines = []
    if note:
        lines.append(note)
    lines.append(f"vs ICB: {COMPARISON_METHOD}")
    top = 1.5 + (0.25 if len(rows) > 8 else 0.36) * (len(rows) + 1)
    _text(slide, 7.0, min(top, 5.6), 6.0, 1.4, lines, 9, False, GREY)
    return slide


def _sii_text(section, sii, gap):
    if not sii:
        return "No SII: it needs a published value in every quintile (none hidden)."
    per = "percentage points" if section.is_proportion else section.unit
    text = (f"SII {fmt(sii['sii'])} {per} (95% CI {fmt(sii['sii_lower_95'])} to {fmt(sii['sii_upper_95'])}); "
            f"RII {fmt(sii['rii'], 2)} (95% CI {fmt(sii['rii_lower_95'], 2)} to {fmt(sii['rii_upper_95'], 2)}; "
            f"{sii.get('rii_method', 'PHE')}).")
    if gap:
        text += (f" Quintile 1 vs 5: gap {fmt(gap['gap'])} {per}, ratio {fmt(gap['ratio'], 2)}.")
    return text + " A positive SII means the most deprived are worse off."


def _trend_slide(prs, section, subtitle):
    slide = _blank(prs)
    _header(slide, f"{section.code}: trend by deprivation quintile", subtitle, section.synthetic)
    trend = section.trend
    value, lower, upper = value_columns(trend)
    periods = sorted(trend["period"].unique())
    data = CategoryChartData()
    data.categories = [_safe(p) for p in periods]  # period labels come from the file: the workbook gets text
    for q in range(1, 6):
        rows = trend[trend["group"] == q].set_index("period")
        data.add_series(f"Quintile {q}", [_num(rows[value].get(p)) if p in rows.index else None for p in periods],
                        number_format="#,##0.0")
    frame = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, Inches(0.4), Inches(1.4), Inches(6.4), Inches(5.4),
                                   data)
    frame.name = "chart"
    chart = frame.chart
    chart.has_title = True
    chart.chart_title.text_frame.text = f"{section.headline.capitalize()} ({section.unit}) by national IMD quintile"
    chart.chart_title.text_frame.paragraphs[0].font.size = Pt(12)
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.BOTTOM
    chart.legend.include_in_layout = False
    chart.legend.font.size = Pt(10)
    chart.value_axis.tick_labels.font.size = Pt(10)
    chart.category_axis.tick_labels.font.size = Pt(10)
    sii = section.trend_sii
    rows = [[str(r["period"]), fmt(r.get("sii")), fmt(r.get("sii_lower_95")), fmt(r.get("sii_upper_95"))]
            for r in sii.to_dict("records")]
    _table(slide, 7.0, 1.4, 6.0, ["Period", "SII", "95% lower", "95% upper"], rows)
    t = section.trend_test
    lines = []
    if t:
        verdict = f"{t['direction']} significantly" if t["significant"] else "did not change significantly"
        lines.append(f"From {t['first']} to {t['last']} the gap {verdict}: change in SII {fmt(t['change'])} "
                     f"(95% CI {fmt(t['change_lower'])} to {fmt(t['change_upper'])}), z = {fmt(t['z'], 2)}, "
                     f"p = {t['p']:.3f}.")
    lines.append(TREND_METHOD)
    _text(slide, 7.0, 1.6 + 0.28 * (len(rows) + 1), 6.0, 3.0, lines, 10, False, GREY)


def _funnel_slide(prs, section, subtitle, place):
    slide = _blank(prs)
    _header(slide, f"{section.code}: wards and places against the ICB (funnel plot)", subtitle, section.synthetic)
    points, limits = section.funnel_points, section.funnel_limits
    data = XyChartData()
    wards_only = points[points["kind"] == "ward"]
    series = data.add_series("Wards", number_format="#,##0.0")
    for r in wards_only[wards_only["value"].notna()].itertuples():
        series.add_data_point(float(r.population), float(r.value))
    top = float(wards_only["population"].max()) * 1.05
    for column, pop_column, label in (("lower_95", "population_lower_95", "95% lower limit"),
                                      ("upper_95", "population_upper_95", "95% upper limit"),
                                      ("lower_998", "population_lower_998", "99.8% lower limit"),
                                      ("upper_998", "population_upper_998", "99.8% upper limit")):
        series = data.add_series(label, number_format="#,##0.0")
        cap = float(max(wards_only["upper"].max(skipna=True), limits["baseline"].iloc[0]) * 1.15)
        keep = limits[(limits[pop_column] <= top) & limits[column].apply(math.isfinite) & (limits[column] <= cap)]
        for r in keep.sort_values(pop_column).itertuples():
            series.add_data_point(float(getattr(r, pop_column)), float(getattr(r, column)))
    series = data.add_series("ICB rate", number_format="#,##0.0")
    baseline = float(limits["baseline"].iloc[0])
    series.add_data_point(0.0, baseline)
    series.add_data_point(top, baseline)
    frame = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, Inches(0.4), Inches(1.4), Inches(8.2), Inches(5.5),
                                   data)
    frame.name = "chart"
    chart = frame.chart
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.RIGHT
    chart.legend.include_in_layout = False
    chart.legend.font.size = Pt(9)
    chart.has_title = True
    chart.chart_title.text_frame.text = (f"Percentage ({section.unit}) against denominator" if section.is_proportion
                                         else f"Crude rate ({section.unit}) against population")
    shown = wards_only["upper"].dropna()
    chart.value_axis.maximum_scale = float(max(shown.max() if len(shown) else baseline, baseline) * 1.15)
    chart.value_axis.minimum_scale = 0.0
    chart.category_axis.maximum_scale = top
    chart.category_axis.minimum_scale = 0.0
    chart.chart_title.text_frame.paragraphs[0].font.size = Pt(12)
    styles = [("4C6272", None), ("ED8B00", "dash"), ("ED8B00", "dash"), ("D5281B", "sysDot"),
              ("D5281B", "sysDot"), ("212B32", None)]
    for i, (plot_series, (colour, dash)) in enumerate(zip(chart.plots[0].series, styles)):
        if i < 1:
            plot_series.format.line.fill.background()
            plot_series.marker.style = 8  # circle
            plot_series.marker.size = 6
            plot_series.marker.format.fill.solid()
            plot_series.marker.format.fill.fore_color.rgb = RGBColor.from_string(colour)
        else:
            plot_series.marker.style = None
            plot_series.format.line.color.rgb = RGBColor.from_string(colour)
            plot_series.format.line.width = Pt(1.5)
            from pptx.enum.chart import XL_MARKER_STYLE
            from pptx.enum.dml import MSO_LINE_DASH_STYLE

            plot_series.marker.style = XL_MARKER_STYLE.NONE
            plot_series.smooth = False
            if dash == "dash":
                plot_series.format.line.dash_style = MSO_LINE_DASH_STYLE.DASH
            elif dash == "sysDot":
                plot_series.format.line.dash_style = MSO_LINE_DASH_STYLE.ROUND_DOT
    chart.value_axis.tick_labels.font.size = Pt(10)
    chart.category_axis.tick_labels.font.size = Pt(10)
    wards = points[points["kind"] == "ward"]
    counts = wards["significance"].value_counts()
    rows = [[level, str(int(counts.get(level, 0)))] for level in
            ("High (99.8%)", "High (95%)", "Not significant", "Low (95%)", "Low (99.8%)")]
    rows.append(["Suppressed (no rate)", str(int(wards["significance"].isna().sum()))])
    _table(slide, 8.8, 1.4, 4.2, ["Wards", "Number"], rows)
    places = points[points["kind"] == "place"]
    _table(slide, 8.8, 3.45, 4.2, ["Place", "Rate", "Funnel"],
           [[str(r.name)[:22], fmt(r.value), r.significance if isinstance(r.significance, str) else "suppressed"]
            for r in places.itertuples()],
           size=8, row_height=0.22)
    _text(slide, 8.8, 3.75 + 0.24 * len(places), 4.2, 2.0, [
        f"ICB {'percentage' if section.is_proportion else 'rate'} {fmt(baseline)} ({section.unit}).",
        ("Limits by PHE's funnel method for proportions (PHEindicatormethods phe_funnels, Wilson limits at each "
         "denominator); an area is significant when its percentage is outside the limits at its denominator."
         if section.is_proportion else
         "Limits by PHE's funnel method (PHEindicatormethods calculate_funnel_limits, exact Poisson, per year of "
         "data); an area is significant when the ICB rate is outside its own 95% (99.8%) limits.") +
        " Wards with hidden counts are not plotted; places are in the table."], 9, False, GREY)


def _findings_slide(prs, section, subtitle):
    slide = _blank(prs)
    _header(slide, f"{section.code}: what the numbers say", subtitle, section.synthetic)
    lines = [f"\u2022 {f['text']}" for f in section.findings[:9]] or ["No findings: too little data."]
    if len(section.findings) > 9:
        lines.append(f"({len(section.findings) - 9} more findings in the report and the tables.)")
    _text(slide, 0.4, 1.4, 12.5, 5.4, lines, 12 if len(lines) < 7 else 10)


def write(statement: Statement, path: Path) -> Path:
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    synthetic = statement.synthetic
    slide = _blank(prs)
    _text(slide, 0.8, 2.0, 11.7, 1.2, "Health inequalities statement", 40, True, BLUE)
    _text(slide, 0.8, 3.1, 11.7, 1.1, statement.place, 28, False, DARK)
    _text(slide, 0.8, 4.45, 11.7, 1.1, [
        "Information on health inequalities (National Health Service Act 2006, section 13SA): NHS England's "
        "indicators by deprivation and ethnicity, and by age and sex where available.",
        f"Made with Gapmap on {statement.created}."], 16, False, GREY)
    if synthetic:
        _text(slide, 0.8, 5.75, 11.7, 0.8, "SYNTHETIC DATA: the indicators with data in this deck are made-up "
              "records for a demonstration, not real activity.", 18, True, RED)
    _text(slide, 0.8, 7.0, 11.7, 0.4, ATTRIBUTION, 8, False, GREY)

    slide = _blank(prs)
    _header(slide, "Method", None, synthetic)
    _text(slide, 0.4, 1.2, 12.5, 5.8, [
        "Each indicator as its definition says (its slides name the definition and its source). Rates: events "
        "per year over the residents of the indicator's ages (and sex) in each group (ONS mid-2020 by single "
        "year of age; Census 2021 ethnic mix for ethnic groups); crude rates with PHE's Poisson limits (Byar's, "
        "exact under 10 events); directly standardised rates (ESP 2013 bands within the ages, Dobson limits) "
        "where the definition standardises, none from fewer than 10 events. Proportions: events over the "
        "denominator the data supplies, in %, with Wilson limits.",
        "Deprivation: national IMD 2025 quintiles of LSOAs (1 = most deprived) and quintiles within the ICB. Slope "
        "and relative index of inequality by PHE's method (PHEindicatormethods phe_sii, simulated 95% limits); a "
        "positive SII means the most deprived are worse off.",
        "Comparisons with the ICB: " + COMPARISON_METHOD,
        "Shares (DIA01, MEN05, LDA01): each group's share of the activity with Wilson 95% limits against its share "
        "of the population.",
        "Trends: " + TREND_METHOD,
        "Funnel plots: PHE's method (PHEindicatormethods calculate_funnel_limits / assign_funnel_significance): "
        "95% and 99.8% limits around the ICB rate.",
        "Hot spots: Getis-Ord Gi* of each LSOA's crude rate (queen contiguity, analytic z); confidence levels "
        "two-sided, as ArcGIS's Hot Spot Analysis: 90%, 95%, 99% where |z| >= 1.645, 1.960, 2.576.",
        "Disclosure control, cell by cell before anything is derived: " +
        (statement.with_data[0].disclosure if statement.with_data else
         "counts from 1 to 7 suppressed, others rounded to 5") +
        " Group totals and the age bands of DSRs are perturbed by a keyed whole-number error before rounding, so "
        "no difference of two published figures gives back a hidden or exact count.",
    ], 13)

    slide = _blank(prs)
    _header(slide, "The indicators", f"{len(statement.with_data)} with data, {len(statement.without_data)} with no "
            "data attached", synthetic)
    rows = [[s.code, s.wording[:48] + ("…" if len(s.wording) > 48 else ""),
             s.dataset + (" (SYNTHETIC)" if s.synthetic else "") if s.has_data else "no data attached"]
            for s in statement.sections]
    half = (len(rows) + 1) // 2
    for k, part in enumerate((rows[:half], rows[half:])):
        if part:
            _table(slide, 0.4 + k * 6.4, 1.3, 6.2, ["Metric", "Indicator", "Dataset"], part, size=7,
                   row_height=0.2, widths=[0.7, 3.5, 2.0])
    if statement.without_data:
        _text(slide, 0.4, 6.55, 12.5, 0.4,
              "To attach data: gapmap ingest FILE --name NAME --nhs-indicator CODE --by age_band,sex,ethnic_group,period",
              9, False, GREY)

    for section in statement.with_data:
        subtitle = f"{statement.place} | {section.code} {section.wording} | {section.measure}"
        q = section.quintiles
        value, _, _ = value_columns(q)
        slide = _rate_slide(prs, section, q, f"{section.code}: by deprivation ({q.attrs.get('grouping')})", subtitle,
                            section.total.get(value), note=_sii_text(section, section.sii, section.gap))
        if section.quintiles_local is not None:
            local = section.quintiles_local
            _rate_slide(prs, section, local, f"{section.code}: by deprivation within the ICB", subtitle,
                        section.total.get(value_columns(local)[0]),
                        note=_sii_text(section, section.sii_local, local.attrs.get("gap")))
        if section.ethnic is not None and len(section.ethnic):
            basis = [n for n in section.ethnic.attrs.get("notes", []) if n.startswith("Residents of each ethnic")]
            _rate_slide(prs, section, section.ethnic, f"{section.code}: by ethnic group", subtitle,
                        section.ethnic_total.get("value"),
                        note=f"{section.unit.capitalize()} of each group" + (f" ({basis[0]})" if basis else "") +
                             f"; compared with the ICB's value on the same basis, "
                             f"{fmt(section.ethnic_total.get('value'))}. Not standardised.")
        if section.age is not None and len(section.age):
            note = f"{section.headline.capitalize()} {section.unit}, each age band over its own residents."
            if section.sex is not None and "value" not in section.sex:
                note += " By sex (no population by sex, so shares of events with Wilson 95% limits): " + "; ".join(
                    f"{r['name']} {fmt(r.get('count'), 0)} events, {fmt(r.get('activity_share'))}% "
                    f"({fmt(r.get('activity_lower'))} to {fmt(r.get('activity_upper'))})"
                    for r in section.sex.to_dict("records")) + "."
            _rate_slide(prs, section, section.age, f"{section.code}: by age band", subtitle,
                        section.total.get("value"), note=note)
        if section.shares is not None:
            slide = _blank(prs)
            _header(slide, f"{section.code}: share of activity against share of population", subtitle,
                    section.synthetic)
            rows = [[r["grouping"], str(r["name"]), fmt(r.get("activity_share")), fmt(r.get("activity_lower")),
                     fmt(r.get("activity_upper")), fmt(r.get("population_share")), COMPARED.get(r.get("compared"))]
                    for r in section.shares.to_dict("records")]
            _table(slide, 0.4, 1.4, 12.5, ["Grouping", "Group", "% of activity", "95% lower", "95% upper",
                                           "% of population", "Activity share vs population share"], rows)
        if section.trend is not None:
            _trend_slide(prs, section, subtitle)
        if section.funnel_points is not None and section.funnel_limits is not None and \
                section.funnel_points["value"].notna().any():
            _funnel_slide(prs, section, subtitle, statement.place)
        if section.maps.get("hotspots"):
            slide = _blank(prs)
            _header(slide, f"{section.code}: hot and cold spots of {section.measure}", subtitle, section.synthetic)
            slide.shapes.add_picture(str(section.maps["hotspots"]), Inches(1.3), Inches(1.3), height=Inches(5.7))
        _findings_slide(prs, section, subtitle)

    targets = statement.targets
    if targets is not None:
        for group, g in targets.groupby("group", sort=False):
            slide = _blank(prs)
            _header(slide, "Where to act", f"Schools, GP practices and wards in {group}", synthetic)
            counts = g["kind"].value_counts()
            _text(slide, 0.4, 1.3, 12.5, 0.4, f"{int(counts.get('school', 0))} schools, "
                  f"{int(counts.get('gp_practice', 0))} GP practices, {int(counts.get('ward', 0))} wards; the full "
                  "list is in the report and the CSV.", 12)
            shown = g[g["kind"] != "ward"].head(16)
            rows = [[str(r["type"]), str(r["code"]), str(r["name"])[:45], str(r["ward"])[:30],
                     str(r["lsoa21cd"])] for r in shown.to_dict("records")]
            if rows:
                _table(slide, 0.4, 1.8, 12.5, ["Type", "Code", "Name", "Ward", "LSOA"], rows, size=9, row_height=0.27)

    slide = _blank(prs)
    _header(slide, "Sources and attribution", None, synthetic)
    _text(slide, 0.4, 1.3, 12.5, 5.5, [
        ATTRIBUTION,
        "Populations: ONS mid-2020 LSOA population estimates; Census 2021 ethnic group (ONS). Deprivation: MHCLG "
        "English Indices of Deprivation 2025. Indicators: NHS England's statement on information on health "
        "inequalities (BLMK ICB 2024/25 list).",
        "Methods: PHEindicatormethods (UK Health Security Agency), GPL-3: rates, DSR, SII/RII and funnel limits "
        "re-implemented in Gapmap and checked against its published test tables.",
        "Activity data: the datasets attached to each indicator (see 'The indicators')" +
        ("; SYNTHETIC DATA where marked: made-up records, not real activity." if synthetic else "."),
    ], 13)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prs.save(path)
    return path
