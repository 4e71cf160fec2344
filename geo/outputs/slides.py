"""Slide-ready map images drawn on the server with matplotlib (no browser).

A slide has a title, a subtitle (place, indicator, period), the map in the same classes and
colours as the web map, its legend (for bivariate maps the 3x3 grid with labelled axes), a scale
bar, the place and ward outlines with labels, the attribution, and "SYNTHETIC DATA" across maps
made from synthetic data. Formats: ``png`` (1920 x 1080), ``print`` (PNG at 300 dpi, 13.33 x 7.5
inches) and ``svg``.

Drawn for a projector: every size is given for the 1920 x 1080 slide and scaled with the figure's
width, so the print and SVG forms look the same. Text is at least 14 px on the 1920 x 1080 slide
(ward and place labels included; where labels would overlap, the smaller areas' labels are left
out), the legend stands next to the map, and every text lies inside the slide.
:func:`figure` returns the matplotlib figure and its parts (for tests); :func:`render` saves it.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from geo import ATTRIBUTION  # noqa: E402
from geo.errors import InvalidValue  # noqa: E402
from geo.outputs.exports import file_name  # noqa: E402
from geo.views import analysis  # noqa: E402
from geo.outputs.palettes import (GI_SHADES, LISA_COLOURS, NO_DATA_COLOUR, NOT_SIGNIFICANT, PURPLES, TEALS,  # noqa: E402
                          gi_legend_rows, is_deprivation, ramp)

VIEWS = ("indicator", "hotspots", "smoothed-hotspots", "clusters", "bivariate", "deciles-local")
FORMATS = {"png": (19.2, 10.8, 100), "print": (13.333, 7.5, 300), "svg": (13.333, 7.5, 72)}
NO_DATA = NO_DATA_COLOUR
SLIDE_WIDTH_IN = 19.2  # sizes below are for the 1920 x 1080 slide at 100 dpi, scaled for the others
LABEL_PT = 11  # ward and place labels: 15 px on the 1920 x 1080 slide
MIN_TEXT_PX = 14


def deprivation_itself(indicator: str) -> str:
    """Why a deprivation measure has no bivariate view, in words (the bivariate classes set
    deprivation, the IMD 2025 score, against an indicator)."""
    if indicator.startswith("imd"):
        return (f"the bivariate view sets deprivation against an indicator; {indicator} is the deprivation measure "
                "itself: choose an activity indicator, or --view deciles-local")
    return (f"the bivariate view sets deprivation (the IMD 2025 score) against an indicator; {indicator} is itself a "
            "measure of deprivation (a domain of the IMD): choose an activity indicator, or --view indicator")


def _colours(frame, view: str, indicator: str, store, extent):
    if view == "indicator":
        labels = [lab for lab in frame.attrs["labels"]]
        palette = ramp(PURPLES if is_deprivation(indicator) else TEALS, len(labels))
        fill = [palette[c] if c >= 0 else NO_DATA for c in frame["class"]]
        return fill, list(zip(palette, labels)), None
    if view in ("hotspots", "clusters") and "gi_bin" not in frame:
        raise InvalidValue(f"no {view} for {indicator!r}: "
                           + (frame.attrs.get("statistics") or "the statistics were not computed for this map"))
    if view == "smoothed-hotspots" and "gi_eb_bin" not in frame:
        raise InvalidValue(f"no smoothed hot spots for {indicator!r}: they are computed for datasets of rates "
                           f"only (Gi* of the Empirical Bayes standardised rates), not proportions or LSOA columns")
    if view in ("hotspots", "smoothed-hotspots"):  # the smoothed view's: Gi* of the EB-standardised rates
        bins = frame["gi_eb_bin"] if view == "smoothed-hotspots" else frame["gi_bin"].where(frame["value"].notna())
        fill = [GI_SHADES.get(int(b), NO_DATA) if np.isfinite(b) else NO_DATA for b in bins.to_numpy(float)]
        return fill, gi_legend_rows(), None
    if view == "clusters":
        fill = [LISA_COLOURS.get(c, NOT_SIGNIFICANT) if has else NO_DATA
                for c, has in zip(frame["lisa_cluster"], frame["value"].notna())]
        return fill, [(c, lab) for lab, c in LISA_COLOURS.items()] + [(NOT_SIGNIFICANT, "Not significant")], None
    if view == "bivariate":
        b = frame.attrs.get("bivariate")  # from the map table
        if b is None:  # every reason in words: the map table's note, or why it had none
            raise InvalidValue(f"no bivariate classes for {indicator!r}: " + (
                frame.attrs.get("bivariate_note") or (deprivation_itself(indicator) if is_deprivation(indicator)
                                                      else "the map table computed no bivariate classes")))
        fill = [b.colours.get(c, NO_DATA) if isinstance(c, str) else NO_DATA for c in frame["bivariate_class"]]
        return fill, [], b
    deciles = ramp(PURPLES, 10)[::-1]
    column = "imd_decile_in_lad" if extent.level == "lad" else "imd_decile_in_icb"
    fill = [NO_DATA if d is None or d is np.nan or d != d else deciles[int(d) - 1]
            for d in frame[column].astype(object).where(frame[column].notna(), None)]
    where = "place" if extent.level == "lad" else "ICB"
    rows = [(deciles[i], f"Decile {i + 1}" + (f" (most deprived in the {where})" if i == 0 else
                                               f" (least deprived in the {where})" if i == 9 else ""))
            for i in range(10)]
    return fill, rows, None


def _scale_bar(ax, frame_bng, scale: float) -> None:
    minx, miny, maxx, maxy = frame_bng.total_bounds
    span = maxx - minx
    length = 10 ** np.floor(np.log10(span / 4))
    for factor in (5, 2, 1):
        if length * factor <= span / 4:
            length *= factor
            break
    x0, y0 = minx + span * 0.03, miny + (maxy - miny) * 0.03
    ax.add_patch(Rectangle((x0, y0), length, (maxy - miny) * 0.008, color="#212b32"))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.015, label, ha="center", va="bottom", fontsize=13 * scale)


def _place_name(store, extent: analysis.Extent) -> str:
    if extent.level == "england":
        return "England"
    if extent.level == "ward":
        return str(store.lsoas(ward=extent.code, geometry=False, columns=["ward24nm"])["ward24nm"].iloc[0])
    areas = store.areas(extent.level)
    return str(areas.loc[areas[f"{extent.level}24cd"] == extent.code, f"{extent.level}24nm"].iloc[0])


def measure_title(store, indicator: str, meta: dict) -> str:
    """What the map measures, in words, for its title: the dataset's measure; where the dataset was
    ingested without one (its measure is then its name, a slug such as ``ae-2024``), the NHS
    indicator it reports or its definition ('Crude rate per 100,000 residents aged 0-17 per
    year'); for an LSOA column, its description. Never the slug itself while words exist."""
    measure = str(meta.get("measure") or "").strip()
    if measure and measure != indicator:
        return measure
    if meta.get("unit"):  # a dataset named only by its slug
        from geo.store.datasets import DatasetStore

        code = (DatasetStore(store).get(indicator).meta or {}).get("nhs_indicator")
        if code:
            from geo.sources.nhs_indicators import catalogue

            rows = catalogue()
            wording = rows.loc[rows["metric"] == code, "indicator"]
            if len(wording):
                return f"{code}: {wording.iloc[0]}"
        described = str(meta.get("indicator_definition") or "").split(", 95% limits")[0].split("; ")[0]
        return described[:1].upper() + described[1:] if described else f"{indicator} ({meta['unit']})"
    from geo.store.schema import lsoa_columns

    described = lsoa_columns().get(indicator, "")
    if indicator == "acute_morbidity_indicator":
        return "emergency admissions (acute morbidity ratio)"
    return described.split(":")[0].split(" (")[0] if described else indicator


def plain_text(text: str) -> str:
    """Text drawn as written: matplotlib reads ``$...$`` as mathematics (and fails on bad TeX), so
    every ``$`` is escaped."""
    return str(text).replace("\\$", "$").replace("$", "\\$")


@dataclass
class SlideParts:
    """The parts of a slide figure that tests and callers look at."""
    map_ax: object = None
    legend_ax: object = None
    title: object = None
    subtitle: object = None
    attribution: object = None
    labels: list = field(default_factory=list)  # ward or place names drawn on the map
    dropped_labels: list = field(default_factory=list)  # names left out where they would overlap
    legend_texts: list = field(default_factory=list)


def _within(inner, outer) -> bool:
    return outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1


def _fit(fig, text, smallest: float) -> None:
    """Make ``text`` smaller, down to ``smallest`` points, until it lies inside the slide."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.shrunk(0.99, 0.99)
    while text.get_fontsize() > smallest and not _within(text.get_window_extent(renderer), page):
        text.set_fontsize(max(smallest, text.get_fontsize() * 0.95))


def _wrap_to_fit(fig, text, smallest: float, max_lines: int = 2, multi_line_pt: float | None = None) -> None:
    """Fit ``text`` inside the slide without losing a word: on one line, smaller down to
    ``smallest`` points; else broken at spaces into up to ``max_lines`` lines (from
    ``multi_line_pt`` points, so that they keep clear of what is below), smaller down to
    ``smallest``; and smaller still if even that is too wide, so that a long title is never clipped."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox.shrunk(0.99, 0.99)
    words = " ".join(text.get_text().split())
    largest = text.get_fontsize()
    for lines in range(1, max_lines + 1):
        text.set_text(words if lines == 1 else
                      textwrap.fill(words, math.ceil(len(words) / lines) + 1, break_long_words=False))
        text.set_fontsize(largest if lines == 1 else min(largest, multi_line_pt or largest))
        _fit(fig, text, smallest)
        if _within(text.get_window_extent(renderer), page):
            return
    while not _within(text.get_window_extent(renderer), page) and text.get_fontsize() > 4:
        text.set_fontsize(text.get_fontsize() * 0.92)


def _place_labels(fig, ax, labels, name_column: str, scale: float, parts: SlideParts) -> None:
    """Names at each area's representative point, biggest areas first; a name that would overlap
    one already placed, or stick out of the map, is left out."""
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    placed = []
    order = labels.assign(_area=labels.geometry.area).sort_values("_area", ascending=False)
    for _, row in order.iterrows():
        point = row.geometry.representative_point()
        text = ax.annotate(row[name_column], (point.x, point.y), ha="center", va="center",
                           fontsize=LABEL_PT * scale, color="#212b32",
                           bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.75, "lw": 0})
        extent = text.get_window_extent(renderer).expanded(1.05, 1.1)
        if not _within(extent, box) or any(extent.overlaps(other) for other in placed):
            text.remove()
            parts.dropped_labels.append(row[name_column])
            continue
        placed.append(extent)
        parts.labels.append(text)


def _bivariate_legend(legend_ax, bivariate, label: str, scale: float, parts: SlideParts) -> None:
    """The n x n grid, deprivation up and activity to the right, its axis titles and "No data",
    all inside the legend's box (which keeps a square aspect)."""
    n = bivariate.n
    cell = 0.5 / n
    x0, y0 = 0.3, 0.38
    for d in range(1, n + 1):
        for a in range(1, n + 1):
            legend_ax.add_patch(Rectangle((x0 + (a - 1) * cell, y0 + (d - 1) * cell), cell, cell,
                                          color=bivariate.colours[f"{d}-{a}"]))
    legend_ax.annotate("", xy=(x0 + n * cell, y0 - 0.04), xytext=(x0, y0 - 0.04),
                       arrowprops={"arrowstyle": "->", "lw": 2 * scale})
    legend_ax.annotate("", xy=(x0 - 0.04, y0 + n * cell), xytext=(x0 - 0.04, y0),
                       arrowprops={"arrowstyle": "->", "lw": 2 * scale})
    words = textwrap.fill(f"more {label}", 24)
    parts.legend_texts.append(legend_ax.text(x0, y0 - 0.08, words, fontsize=15 * scale, va="top"))
    parts.legend_texts.append(legend_ax.text(x0 - 0.08, y0, "more deprived", fontsize=15 * scale, rotation=90,
                                             va="bottom", ha="right"))
    parts.legend_texts.append(legend_ax.text(0.02, 0.98, textwrap.fill(f"Deprivation (IMD 2025 score) and {label}",
                                                                      30), fontsize=16 * scale,
                                             weight="bold", va="top"))
    legend_ax.add_patch(Rectangle((x0, 0.04), cell * 0.6, cell * 0.4, facecolor=NO_DATA, edgecolor="#555555"))
    parts.legend_texts.append(legend_ax.text(x0 + cell * 0.75, 0.04 + cell * 0.2, "No data", fontsize=15 * scale,
                                             va="center"))
    legend_ax.set_xlim(0, 1)
    legend_ax.set_ylim(0, 1)


def figure(store, indicator: str, extent: analysis.Extent, view: str = "indicator", fmt: str = "png",
           title: str | None = None):
    """The slide as a matplotlib figure, and its :class:`SlideParts`."""
    from geo.views.extent_areas import outlines

    if view not in VIEWS:
        raise InvalidValue(f"view must be one of {', '.join(VIEWS)}")
    if fmt not in FORMATS:
        raise InvalidValue(f"format must be one of {', '.join(FORMATS)}")
    if view == "bivariate" and is_deprivation(indicator) and indicator in analysis.numeric_columns(store):
        raise InvalidValue(f"no bivariate classes for {indicator!r}: {deprivation_itself(indicator)}")
    if title is not None:
        from geo.ingest.pipeline import IngestError, check_label

        try:
            check_label(title, "the title")
        except IngestError as exc:
            raise InvalidValue(str(exc)) from None
    from geo.views.map_table import map_table, with_geometry

    table = map_table(store, indicator, extent)  # the numbers every view shows, disclosure applied
    frame, meta = with_geometry(table, store, extent, simplified=False), table.meta
    frame.attrs.update({"labels": table.classes.labels, "bivariate": table.bivariate,
                        "bivariate_note": meta.get("bivariate", ""), "statistics": meta.get("statistics", "")})
    fill, rows, bivariate = _colours(frame, view, indicator, store, extent)
    frame_bng = frame.to_crs(27700)
    width, height, dpi = FORMATS[fmt]
    scale = width / SLIDE_WIDTH_IN
    fig = plt.figure(figsize=(width, height), dpi=dpi)
    parts = SlideParts()
    # the map fills the height between the subtitle and the attribution; its width follows the
    # area's shape, and the legend stands just right of it
    minx, miny, maxx, maxy = frame_bng.total_bounds
    note = ATTRIBUTION + (" " + meta.get("disclosure", "") if meta.get("synthetic") is not None else "")
    if view in ("hotspots", "clusters") and meta.get("method"):  # the test used (issue 9)
        note = "Method: " + meta["method"] + "\n" + note
    if view == "smoothed-hotspots" and meta.get("eb_statistics"):
        note = "Method: " + meta["eb_statistics"] + "\n" + note
    parts.attribution = fig.text(0.02, 0.015, "\n".join(textwrap.fill(part, 200) for part in note.split("\n")), fontsize=10 * scale, color="#425563",
                                 va="bottom")
    # the map and legend stand above the attribution and method lines, however many they are
    fig.canvas.draw()
    bottom = max(0.09, parts.attribution.get_window_extent(fig.canvas.get_renderer()).y1 / fig.bbox.height + 0.015)
    top, left, widest = 0.85, 0.02, 0.64
    aspect = (maxx - minx) / max(maxy - miny, 1.0)
    map_w = min(widest, (top - bottom) * height * aspect / width)
    map_h = map_w * width / aspect / height
    ax = fig.add_axes([left, bottom + (top - bottom - map_h) / 2, map_w, map_h])
    parts.map_ax = ax
    frame_bng.plot(ax=ax, color=fill, edgecolor="#ffffff", linewidth=0.2 * scale)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if extent.level in ("icb", "lad"):
        filters = extent.filters()
        wards = outlines(store, "ward", **filters).to_crs(27700)  # clipped to the extent's own LSOAs
        wards.boundary.plot(ax=ax, color="#4c6272", linewidth=0.6 * scale)
        outline = store.areas(extent.level, geometry=True)
        outline = outline[outline[f"{extent.level}24cd"] == extent.code].to_crs(27700)
        outline.boundary.plot(ax=ax, color="#000000", linewidth=1.8 * scale)
        if extent.level == "icb":
            places = outlines(store, "lad", **filters).to_crs(27700)
            places.boundary.plot(ax=ax, color="#000000", linewidth=1.1 * scale)
            whole = store.areas("lad").set_index("lad24cd")["lsoas"]
            part = places["lsoas"] < places["lad24cd"].map(whole)  # e.g. Buckinghamshire's 4 LSOAs in BLMK
            places["lad24nm"] = places["lad24nm"].where(~part, places["lad24nm"] + " (part)")
            labels, name_column = places, "lad24nm"
        else:
            labels, name_column = wards, "ward24nm"
        _place_labels(fig, ax, labels, name_column, scale, parts)
    _scale_bar(ax, frame_bng, scale)
    label = plain_text(measure_title(store, indicator, meta))
    title = plain_text(title) if title else title
    place = plain_text(_place_name(store, extent))
    view_words = {"indicator": label[:1].upper() + label[1:],
                  "hotspots": f"Hot and cold spots (Getis-Ord Gi*) of {label}",
                  "smoothed-hotspots": f"Hot and cold spots (Gi*) of the smoothed rate of {label}",
                  "clusters": f"Local Moran clusters of {label}", "bivariate": f"Deprivation and {label}",
                  "deciles-local": "IMD 2025 deciles within the " + ("place" if extent.level == "lad" else "ICB")}
    heading = title or view_words[view]
    parts.title = fig.text(0.02, 0.945, heading, fontsize=30 * scale, weight="bold", color="#005eb8", va="center",
                           linespacing=1.05)
    _wrap_to_fit(fig, parts.title, 18 * scale, multi_line_pt=24 * scale)
    period = meta.get("period")
    what = {"indicator": "LSOAs in 5 quantile classes", "hotspots": "LSOAs by Gi* confidence",
            "smoothed-hotspots": "LSOAs by Gi* confidence of the EB-standardised rate",
            "clusters": "LSOAs by local Moran cluster", "bivariate": "LSOAs in 3 x 3 classes",
            "deciles-local": "LSOAs ranked by IMD 2025 score"}[view]
    parts.subtitle = fig.text(0.02, 0.885, " | ".join([place, what] + ([f"{period[0]} to {period[1]}"] if period else [])),
                              fontsize=18 * scale, color="#425563", va="center")
    _wrap_to_fit(fig, parts.subtitle, 14 * scale, max_lines=1)
    legend_left = left + map_w + 0.02
    legend_w = min(0.32, 0.98 - legend_left)
    if bivariate is not None:  # a square box, so the grid's cells stay square
        side = min(legend_w * width, 0.6 * height)
        legend_ax = fig.add_axes([legend_left, 0.2, side / width, side / height])
        _bivariate_legend(legend_ax, bivariate, label, scale, parts)
    else:
        legend_ax = fig.add_axes([legend_left, bottom, legend_w, top - bottom])
        handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in rows + [(NO_DATA, "No data")]]
        legend_title = {"hotspots": "Gi* hot and cold spots", "smoothed-hotspots": "Gi* of the smoothed rate",
                        "clusters": "Local Moran clusters",
                        "deciles-local": "IMD 2025 decile"}.get(view, textwrap.fill(label[:1].upper() + label[1:], 28))
        legend = legend_ax.legend(handles=handles, loc="center left", fontsize=15 * scale, frameon=False,
                                  title=legend_title, title_fontsize=16 * scale, alignment="left",
                                  handlelength=1.6, handleheight=1.1, borderaxespad=0)
        parts.legend_texts.extend([legend.get_title(), *legend.get_texts()])
    legend_ax.set_axis_off()
    parts.legend_ax = legend_ax
    if meta.get("synthetic"):  # across the map, as large as fits in the slide
        mark = fig.text(left + max(map_w / 2, 0.2), 0.5, "SYNTHETIC DATA", fontsize=60 * scale, color="#d5281b",
                        alpha=0.25, rotation=20, ha="center", va="center", weight="bold")
        _fit(fig, mark, 20 * scale)
    return fig, parts


class FileExists(InvalidValue):
    """The file a command would write is already there (it is not replaced without ``--force``)."""


def refuse_to_replace(path: Path, option: str = "--force") -> None:
    """Raise :class:`FileExists` naming ``path`` and the option that replaces it."""
    if Path(path).exists():
        raise FileExists(f"{path} already exists: nothing was written. Add {option} to replace it, or choose "
                         f"another folder with --out.")


def slide_path(indicator: str, extent: analysis.Extent, view: str, fmt: str, out_dir: Path) -> Path:
    suffix = "svg" if fmt == "svg" else "png"
    return Path(out_dir) / file_name(f"{indicator}_{view}{'_print' if fmt == 'print' else ''}", extent, suffix)


def render(store, indicator: str, extent: analysis.Extent, view: str = "indicator", fmt: str = "png",
           out_dir: Path = Path("."), title: str | None = None, replace: bool = False) -> Path:
    """Draw the slide and save it in ``out_dir`` under a name that says what it shows; a file of
    that name is replaced only with ``replace`` (else :class:`FileExists`, before any drawing)."""
    path = slide_path(indicator, extent, view, fmt, out_dir)
    if not replace:
        refuse_to_replace(path)
    fig, _ = figure(store, indicator, extent, view, fmt, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix[1:]
    fig.savefig(path, dpi=FORMATS[fmt][2], format=suffix)
    plt.close(fig)
    return path
