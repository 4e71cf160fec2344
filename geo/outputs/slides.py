"""Slide-ready map images drawn on the server with matplotlib (no browser).

A slide has a title, a subtitle (place, indicator, period), the map in the same classes and
colours as the web map, its legend (for bivariate maps the 3x3 grid with labelled axes), a scale
bar, the place and ward outlines with labels, the attribution, and "SYNTHETIC DATA" across maps
made from synthetic data. Formats: ``png`` (1920 x 1080), ``print`` (PNG at 300 dpi, 13.33 x 7.5
inches) and ``svg``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from geo.errors import InvalidValue
from geo.views import analysis
from geo import ATTRIBUTION  # noqa: E402
from geo.views import analysis
from geo.outputs.exports import export_table, file_name  # noqa: E402
from geo.outputs.palettes import (GI_COLOURS, LISA_COLOURS, NO_DATA_COLOUR, NOT_SIGNIFICANT, PURPLES, TEALS,  # noqa: E402
                          is_deprivation, ramp)

VIEWS = ("indicator", "hotspots", "clusters", "bivariate", "deciles-local")
FORMATS = {"png": (19.2, 10.8, 100), "print": (13.333, 7.5, 300), "svg": (13.333, 7.5, 72)}
NO_DATA = NO_DATA_COLOUR


def _colours(frame, view: str, indicator: str, store, extent):
    from geo.stats.getis_ord import BIN_LABELS

    if view == "indicator":
        labels = [lab for lab in frame.attrs["labels"]]
        palette = ramp(PURPLES if is_deprivation(indicator) else TEALS, len(labels))
        fill = [palette[c] if c >= 0 else NO_DATA for c in frame["class"]]
        return fill, list(zip(palette, labels)), None
    if view in ("hotspots", "clusters") and "gi_bin" not in frame:
        raise InvalidValue(f"no {view} for {indicator!r}: {frame.attrs.get('statistics', 'statistics not computed')}")
    if view == "hotspots":
        fill = [GI_COLOURS.get(b, NOT_SIGNIFICANT if b == 0 else NO_DATA) if b is not None else NO_DATA
            for b in frame["gi_bin"].astype(object).where(frame["gi_bin"].notna() & frame["value"].notna(), None)]
        rows = [(GI_COLOURS[b], BIN_LABELS[b]) for b in (3, 2, 1)] + [(NOT_SIGNIFICANT, BIN_LABELS[0])] + [
            (GI_COLOURS[b], BIN_LABELS[b]) for b in (-1, -2, -3)]
        return fill, rows, None
    if view == "clusters":
        fill = [LISA_COLOURS.get(c, NOT_SIGNIFICANT) if has else NO_DATA
                for c, has in zip(frame["lisa_cluster"], frame["value"].notna())]
        return fill, [(c, lab) for lab, c in LISA_COLOURS.items()] + [(NOT_SIGNIFICANT, "Not significant")], None
    if view == "bivariate":
        b = frame.attrs.get("bivariate")  # from the map table
        if b is None:
            raise InvalidValue(f"no bivariate classes for {indicator!r}: "
                             + frame.attrs.get("bivariate_note", "it is itself a deprivation measure"))
        fill = [b.colours.get(c, NO_DATA) if isinstance(c, str) else NO_DATA for c in frame["bivariate_class"]]
        return fill, [], b
    deciles = ramp(PURPLES, 10)[::-1]
    column = "imd_decile_in_lad" if extent.level == "lad" else "imd_decile_in_icb"
    fill = [NO_DATA if d is None or d is np.nan or d != d else deciles[int(d) - 1]
            for d in frame[column].astype(object).where(frame[column].notna(), None)]
    where = "place" if extent.level == "lad" else "ICB"
    rows = [(deciles[i], f"Decile {i + 1}" + (f" (most deprived in the {where})" if i == 0 else "")) for i in range(10)]
    return fill, rows, None


def _scale_bar(ax, frame_bng) -> None:
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
    ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.015, label, ha="center", va="bottom", fontsize=11)


def _place_name(store, extent: analysis.Extent) -> str:
    if extent.level == "england":
        return "England"
    if extent.level == "ward":
        return str(store.lsoas(ward=extent.code, geometry=False, columns=["ward24nm"])["ward24nm"].iloc[0])
    areas = store.areas(extent.level)
    return str(areas.loc[areas[f"{extent.level}24cd"] == extent.code, f"{extent.level}24nm"].iloc[0])


def plain_text(text: str) -> str:
    """Text drawn as written: matplotlib reads ``$...$`` as mathematics (and fails on bad TeX), so
    every ``$`` is escaped."""
    return str(text).replace("\\$", "$").replace("$", "\\$")


def render(store, indicator: str, extent: analysis.Extent, view: str = "indicator", fmt: str = "png",
           out_dir: Path = Path("."), title: str | None = None) -> Path:
    if view not in VIEWS:
        raise InvalidValue(f"view must be one of {', '.join(VIEWS)}")
    if fmt not in FORMATS:
        raise InvalidValue(f"format must be one of {', '.join(FORMATS)}")
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
    fig = plt.figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_axes([0.02, 0.08, 0.66, 0.76])
    frame_bng.plot(ax=ax, color=fill, edgecolor="#ffffff", linewidth=0.2)
    filters = extent.filters()
    if extent.level in ("icb", "lad"):
        wards = store.areas("ward", geometry=True, **filters).to_crs(27700)
        wards.boundary.plot(ax=ax, color="#4c6272", linewidth=0.5)
        outline = store.areas(extent.level, geometry=True)
        outline = outline[outline[f"{extent.level}24cd"] == extent.code].to_crs(27700)
        outline.boundary.plot(ax=ax, color="#000000", linewidth=1.6)
        if extent.level == "icb":
            places = store.areas("lad", geometry=True, icb=extent.code).to_crs(27700)
            places.boundary.plot(ax=ax, color="#000000", linewidth=1.0)
            labels = places
            name_column = "lad24nm"
        else:
            labels = wards
            name_column = "ward24nm"
        for _, row in labels.iterrows():
            point = row.geometry.representative_point()
            ax.annotate(row[name_column], (point.x, point.y), ha="center", fontsize=9 if extent.level == "icb" else 6,
                        color="#212b32", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.6, "lw": 0})
    minx, miny, maxx, maxy = frame_bng.total_bounds
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax, frame_bng)
    from geo.store.schema import lsoa_columns

    described = lsoa_columns().get(indicator, "")
    label = meta.get("measure") or (described.split(":")[0].split(" (")[0] if described else indicator)
    if indicator == "acute_morbidity_indicator":
        label = "emergency admissions (acute morbidity ratio)"
    label = plain_text(label)
    title = plain_text(title) if title else title
    place = plain_text(_place_name(store, extent))
    view_words = {"indicator": label, "hotspots": f"Hot and cold spots (Getis-Ord Gi*) of {label}",
                  "clusters": f"Local Moran clusters of {label}", "bivariate": f"Deprivation and {label}",
                  "deciles-local": "IMD 2025 deciles within the " + ("place" if extent.level == "lad" else "ICB")}
    fig.text(0.02, 0.94, title or view_words[view], fontsize=26, weight="bold", color="#005eb8")
    period = meta.get("period")
    fig.text(0.02, 0.895, f"{place} | {label}" + (f" | {period[0]} to {period[1]}" if period else ""),
             fontsize=15, color="#425563")
    legend_ax = fig.add_axes([0.70, 0.15, 0.28, 0.65])
    legend_ax.set_axis_off()
    if bivariate is not None:
        n = bivariate.n
        for d in range(1, n + 1):
            for a in range(1, n + 1):
                legend_ax.add_patch(Rectangle((0.2 + (a - 1) * 0.15, 0.3 + (d - 1) * 0.15), 0.15, 0.15,
                                              color=bivariate.colours[f"{d}-{a}"]))
        legend_ax.annotate("", xy=(0.2 + n * 0.15, 0.26), xytext=(0.2, 0.26),
                           arrowprops={"arrowstyle": "->", "lw": 1.5})
        legend_ax.text(0.2, 0.2, f"more {label} \u2192", fontsize=12)
        legend_ax.text(0.13, 0.3, "more deprived \u2192", fontsize=12, rotation=90, va="bottom")
        legend_ax.set_xlim(0, 1)
        legend_ax.set_ylim(0, 1)
    else:
        handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in rows + [(NO_DATA, "No data")]]
        legend_ax.legend(handles=handles, loc="upper left", fontsize=12, frameon=False,
                         title={"hotspots": "Gi* hot and cold spots", "clusters": "Local Moran clusters",
                                "deciles-local": "IMD 2025 decile"}.get(view, label[:40]), title_fontsize=13)
    if view in ("hotspots", "clusters") and meta.get("method"):  # the test used (issue 9)
        fig.text(0.02, 0.06, "Method: " + meta["method"], fontsize=8, color="#425563", wrap=True)
    fig.text(0.02, 0.02, ATTRIBUTION + (" " + meta.get("disclosure", "") if meta.get("synthetic") is not None else ""),
             fontsize=8, color="#425563", wrap=True)
    if meta.get("synthetic"):
        fig.text(0.35, 0.5, "SYNTHETIC DATA", fontsize=60, color="#d5281b", alpha=0.25, rotation=20,
                 ha="center", va="center", weight="bold")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "svg" if fmt == "svg" else "png"
    path = out_dir / file_name(f"{indicator}_{view}{'_print' if fmt == 'print' else ''}", extent, suffix)
    fig.savefig(path, dpi=dpi, format=suffix)
    plt.close(fig)
    return path
