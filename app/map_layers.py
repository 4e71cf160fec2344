"""Folium maps made from the store, served with the vendored Leaflet (no CDN).

``choropleth_map`` draws one indicator over the LSOAs of an extent with the classes of
:mod:`geo.stats.classify` and a legend, and adds the layers a place team switches on and off: Gi* hot
and cold spots, local Moran clusters, bivariate classes, ward and place outlines, schools (in
clusters), GP practices and hospitals. Geometries are simplified as one coverage (shared borders
stay shared) and rounded to what the zoom needs. Every map carries the data attribution.
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import folium
import numpy as np
import pandas as pd
from branca.element import Element
from folium.plugins import MarkerCluster

from geo.views import analysis
from geo.views.map_table import BoundedCache
from geo import ATTRIBUTION
from geo.stats.classify import NO_DATA, classify
from geo.views.map_geometry import simplify
from geo.views.school_kinds import KINDS, school_kind
from geo.outputs.geojson_text import geometries_as_json as _geometries_as_json
from geo.outputs.palettes import (GI_SHADES, LISA_COLOURS, NO_DATA_COLOUR, NOT_SIGNIFICANT, PURPLES, RURAL_COLOURS,
                          TEALS, gi_legend_rows, ramp)
from geo.stats.getis_ord import TWO_SIDED_LEVELS
from geo.stats.local_statistics import NO_DATA as LISA_NO_DATA

STATIC = "/static/vendor"
# no jQuery: nothing on a Gapmap map uses it (Folium lists it by default), and it was 30 KB of every first view
LEAFLET_JS = [("leaflet", f"{STATIC}/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
GAPMAP_JS = [("gapmap_canvas_js", "/static/js/gapmap-canvas.js"), ("gapmap_map_js", "/static/js/gapmap-map.js")]
GAPMAP_CSS = [("gapmap_map_css", "/static/css/map.css")]
# Leaflet.markercluster needs the map's maxZoom (there is no tile layer to give one); zoom in quarter
# steps so fitBounds fills the frame rather than stopping at the whole zoom level below
MAP_OPTIONS = {"max_zoom": 18, "zoom_snap": 0.25, "zoom_delta": 0.5}
FAVICON = ('data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 16 16%22%3E'
           '%3Crect width=%2216%22 height=%2216%22 rx=%223%22 fill=%22%23005eb8%22/%3E%3Cpath d=%22M3 12V4l5 5 5-5v8%22 '
           'stroke=%22white%22 stroke-width=%222%22 fill=%22none%22/%3E%3C/svg%3E')
CLUSTER_JS = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
CLUSTER_CSS = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
               ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
# ColorBrewer sequential ramps (colour-blind safe): purples for deprivation, teal-blues for activity
TOOLTIP = (("n", "lsoa21nm", "LSOA"), ("c", "lsoa21cd", "Code"), ("w", "ward24nm", "Ward"),
           ("v", "value_text", "Value"), ("d", "imd_decile", "IMD decile (England)"),
           ("di", "imd_decile_in_icb", "IMD decile (ICB)"), ("k", "class_label", "Class"),
           ("cl", "cluster", "Local Moran cluster"), ("h", "hotspot", "Gi* hot/cold spot"),
           ("b", "bivariate", "Bivariate class (deprivation-activity)"), ("r", "urban_rural", "Urban or rural"))
# each point layer's symbol and colour (static/js/gapmap-map.js draws them, the legend lists them):
# schools by kind (geo/views/school_kinds.py), NHS palette colours, white-edged so they show on every fill
POINT_SYMBOLS = {"schools-primary": ("circle", "#005eb8"), "schools-secondary": ("square", "#7c2855"),
                 "schools-special": ("diamond", "#ed8b00"), "schools-other": ("triangle", "#425563"),
                 "gps": ("cross", "#007f3b"), "hospitals": ("hospital", "#da291c"), "practice-values": ("cross", None)}
# schools cluster until street zoom, then each school is drawn on its own
UNCLUSTER_ZOOM = 15

def feature_collection(frame, properties: dict[str, list]) -> str:
    """GeoJSON text of ``frame``'s geometries with the given property lists, built in bulk."""
    geometries = _geometries_as_json(np.asarray(frame.geometry.values, dtype=object), frame.attrs.get("decimals", 5))
    names = list(properties)
    columns = [properties[n] for n in names]
    features = []
    for i, geometry in enumerate(geometries):
        props = json.dumps({n: c[i] for n, c in zip(names, columns)}, separators=(",", ":"))
        features.append('{"type":"Feature","properties":' + props + ',"geometry":' + geometry + "}")
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def _use_local_assets(element) -> None:
    element.default_js = list(LEAFLET_JS) + (GAPMAP_JS if isinstance(element, folium.Map) else [])
    element.default_css = list(LEAFLET_CSS) + (GAPMAP_CSS if isinstance(element, folium.Map) else [])


def _geojson(frame, properties: list[str]) -> dict:
    return json.loads(feature_collection(frame, {p: frame[p].astype(object).where(frame[p].notna(), None).tolist()
                                                 for p in properties}))


def choropleth_map(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5,
                   layers: tuple[str, ...] = ("hotspots", "clusters", "bivariate", "wards", "schools", "gps",
                                              "hospitals"), focus: str | None = None) -> folium.Map:
    """The map of ``indicator`` on ``extent``: the LSOA layer with every "Colour by" view, the
    outlines and point layers asked for in ``layers``, zoomed to ``focus`` when given. Every number
    comes from the map table (:func:`geo.views.map_table.map_table`: disclosure applied there)."""
    from geo.views import map_table as map_tables

    table = map_tables.map_table(store, indicator, extent, scheme, k)  # disclosure applied there, once
    frame = map_tables.with_geometry(table, store, extent, simplified=True)
    is_deprivation = indicator.startswith("imd") or indicator.split("_")[0] in (
        "income", "employment", "education", "health", "crime", "barriers", "living")
    colours = ramp(PURPLES if is_deprivation else TEALS, len(table.classes.labels))
    if table.scheme in ("imd_deciles", "imd_quintiles"):
        colours = colours[::-1]  # 1 = most deprived gets the darkest
    frame["fill"] = [colours[c] if c >= 0 else None for c in frame["class"]]
    frame["value_text"] = _value_text(frame)
    m, title, note = _base_map(store, indicator, extent, table, frame.total_bounds)
    views, bivariate_legend = _views(frame, table, title, colours, layers, is_deprivation)
    rings_key = _rings_key(store, extent, frame)
    _lsoa_layer(m, frame, views, indicator, (note + " " if note else "") + ATTRIBUTION, bivariate_legend,
                rings_key)
    _add_outlines(store, extent, layers, m)
    _add_points(store, extent, layers, m)
    _add_practice_values(store, indicator, extent, m)
    if focus:
        _focus(store, frame, focus, m)
    _finish(m)
    return m


def _value_text(frame) -> list[str]:
    """Each LSOA's value as the tooltip shows it: with its interval, "No data", or "Suppressed"."""
    text = [("No data" if not np.isfinite(v) else _figure(v)) for v in frame["value"]]
    if "lower" in frame:
        text = [t if t == "No data" else f"{t} ({_figure(lo)} to {_figure(hi)})"
                for t, lo, hi in zip(text, frame["lower"], frame["upper"])]
    if "suppressed" in frame:
        text = ["Suppressed (small count)" if hidden else t for t, hidden in zip(text, frame["suppressed"].to_numpy(bool))]
    return text


def _figure(v: float) -> str:
    """A value as the tooltip writes it: three significant figures, whole numbers from 1,000 up
    (12,345 rather than 1.23e+04)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}"


def _base_map(store, indicator: str, extent: analysis.Extent, table, bounds) -> tuple[folium.Map, str, str]:
    """The empty map on the vendored assets (a basemap only where GAPMAP_TILES is set), fitted to
    ``bounds``, with its page title and any SYNTHETIC DATA banner; returns it, the legend title and
    the note (synthetic label, classification note) the legend carries."""
    tiles = os.environ.get("GAPMAP_TILES", "").strip()  # e.g. an OpenStreetMap tile URL, when online
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, attribution_control=True)
    m.options.update(MAP_OPTIONS)
    if tiles:
        folium.TileLayer(tiles, attr=os.environ.get("GAPMAP_TILES_ATTRIBUTION",
                                                   "&copy; OpenStreetMap contributors"), name="Basemap").add_to(m)
    _use_local_assets(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(8, 8))
    title, note = _title(store, indicator, table.meta)
    if note:  # SYNTHETIC DATA stays in view whatever the colouring (the bivariate legend has no note)
        m.get_root().html.add_child(Element(f'<div class="gapmap-synthetic" role="note">{html.escape(note)}</div>'))
    if table.classes.note:
        note = (note + " " if note else "") + table.classes.note + "."
    _head(m, store, title, extent)
    return m, title, note


GI_LEVELS = TWO_SIDED_LEVELS[0].upper() + TWO_SIDED_LEVELS[1:] + "."  # the hot-spot legend says how it grades


def _views(frame, table, title: str, colours: list[str], layers, is_deprivation: bool):
    """The "Colour the LSOAs by" views: (key, name, fill column, legend rows) each, their fill
    columns added to ``frame``; and the bivariate legend when that view is offered."""
    views = [("main", title, "fill", [(c, lab) for c, lab in zip(colours, table.classes.labels)])]
    has_value = frame["value"].notna()
    if "gi_bin" in frame:
        frame["hotspot"] = frame["gi_spot"].where(has_value, None)
        frame["hot_fill"] = frame["gi_bin"].map(GI_SHADES).where(has_value, None)
        frame["cluster"] = frame["lisa_cluster"].where(has_value, None)
        frame["cluster_fill"] = frame["cluster"].map(LISA_COLOURS).where(frame["cluster"] != LISA_NO_DATA, None)
        frame.loc[frame["cluster"] == "Not significant", "cluster_fill"] = NOT_SIGNIFICANT
        if "hotspots" in layers:
            views.append(("hot", "Gi* hot and cold spots", "hot_fill", gi_legend_rows()))
        if "clusters" in layers:
            views.append(("lisa", "Local Moran clusters", "cluster_fill",
                          [(c, lab) for lab, c in LISA_COLOURS.items()] + [(NOT_SIGNIFICANT, "Not significant")]))
    if "gi_eb_bin" in frame and "hotspots" in layers:  # the hot spots of what the smoothed view shows
        frame["hot_eb_fill"] = frame["gi_eb_bin"].map(GI_SHADES)
        views.append(("hot_eb", "Gi* hot and cold spots of the smoothed (EB-standardised) rate", "hot_eb_fill",
                      gi_legend_rows()))
    for column, key, name, least in (("smoothed", "smoothed", "Smoothed rate (spatial empirical Bayes)", 5),
                                     ("ward_value", "ward", "Ward figure (published ward totals)", 2)):
        if column in frame and frame[column].notna().sum() >= least and frame[column].nunique() > 1:
            classes = classify(frame[column], "quantiles", len(colours))
            shades = ramp(TEALS, len(classes.labels))
            frame[f"{key}_fill"] = [shades[c] if c >= 0 else None for c in classes.classes]
            views.append((key, name, f"{key}_fill", list(zip(shades, classes.labels))))
    bivariate_legend = None
    if "bivariate" in layers and not is_deprivation and table.bivariate is not None:
        b = table.bivariate
        frame["bivariate"] = frame["bivariate_class"]
        frame["bivariate_fill"] = frame["bivariate_class"].map(b.colours)
        views.append(("bivariate", "Deprivation x activity (bivariate)", "bivariate_fill", None))
        bivariate_legend = _bivariate_legend(b, title)
    deciles = ramp(PURPLES, 10)[::-1]  # decile 1 (most deprived) darkest
    decile_rows = [(deciles[i], f"Decile {i + 1}" + (" (most deprived)" if i == 0 else " (least deprived)"
                                                     if i == 9 else "")) for i in range(10)]
    for column, key, name in (("imd_decile", "dec", "IMD deciles (England)"),
                              ("imd_decile_in_icb", "decicb", "IMD deciles (within ICB)")):
        frame[f"{column}_fill"] = frame[column].map(lambda d: None if pd.isna(d) else deciles[int(d) - 1])
        views.append((key, name, f"{column}_fill", decile_rows))
    frame["rural_fill"] = frame["urban_rural"].map(RURAL_COLOURS)
    views.append(("rural", "Rural and urban (RUC 2021)", "rural_fill", [(c, lab) for lab, c in RURAL_COLOURS.items()]))
    return views, bivariate_legend


def _add_outlines(store, extent: analysis.Extent, layers, m) -> None:
    """Ward outlines (clipped to the extent's own LSOAs) and the place or ICB outline."""
    level = extent.level
    if "wards" in layers:
        if level == "ward":
            wards = store.areas("ward", geometry=True)
            wards = simplify(wards[wards["ward24cd"] == extent.code], level)
        else:
            from geo.views.extent_areas import outlines  # clipped to the extent's own LSOAs

            wards = simplify(outlines(store, "ward", **extent.filters()), level)
        folium.GeoJson(_geojson(wards, ["ward24nm"]), name="Ward outlines",
                       style_function=lambda f: {"fill": False, "color": "#222222", "weight": 1.2},
                       tooltip=folium.GeoJsonTooltip(["ward24nm"], aliases=["Ward"])).add_to(m)
    if level in ("icb", "lad"):
        outline = store.areas(level, geometry=True)
        outline = outline[outline[f"{level}24cd"] == extent.code]
        folium.GeoJson(_geojson(simplify(outline, level), [f"{level}24nm"]), name="Place outline",
                       style_function=lambda f: {"fill": False, "color": "#000000", "weight": 3}).add_to(m)


def _add_points(store, extent, layers, m) -> None:
    """Schools (clustered, by phase), GP practices and hospitals, sent as compact arrays in the
    page's data and drawn by static/js/gapmap-map.js."""
    filters = extent.filters()
    groups = page_data(m).setdefault("points", [])
    if "schools" in layers:
        schools = store.points("schools", icb=filters.get("icb"), lad=filters.get("lad"))
        if "ward" in filters:
            schools = schools[schools["lsoa21cd"].isin(set(store.lsoas(ward=filters["ward"], geometry=False,
                                                                       columns=["lsoa21cd"])["lsoa21cd"]))]
        kinds = school_kind(schools)
        for kind, legend in KINDS.items():
            chosen = schools[kinds == kind]
            name = f"Schools: {kind}"
            cluster = MarkerCluster(name=name, show=False, disable_clustering_at_zoom=UNCLUSTER_ZOOM)
            cluster.default_js = list(CLUSTER_JS)
            cluster.default_css = list(CLUSTER_CSS)
            cluster.add_to(m)
            rows = [[round(r.geometry.y, 5), round(r.geometry.x, 5), str(r.name), _school_type(r),
                     None if pd.isna(r.pupils) else int(r.pupils),
                     None if pd.isna(r.fsm_percent) else float(r.fsm_percent)] for r in chosen.itertuples()]
            symbol, colour = POINT_SYMBOLS[f"schools-{kind}"]
            groups.append({"layer": cluster.get_name(), "name": name, "legend": legend, "symbol": symbol,
                           "colour": colour, "rows": rows, "popup": True, "clustered": True})
    for kind, label, wanted in (("gp_practices", "GP practices", "gps"), ("hospitals", "Hospitals", "hospitals")):
        if wanted not in layers:
            continue
        points = store.points(kind, icb=filters.get("icb"), lad=filters.get("lad"))
        if "ward" in filters:
            points = points[points["lsoa21cd"].isin(set(store.lsoas(ward=filters["ward"], geometry=False,
                                                                     columns=["lsoa21cd"])["lsoa21cd"]))]
        group = folium.FeatureGroup(name=label, show=False)
        group.add_to(m)
        rows = [[round(r.geometry.y, 5), round(r.geometry.x, 5), str(r.name)] for r in points.itertuples()]
        symbol, colour = POINT_SYMBOLS[wanted]
        groups.append({"layer": group.get_name(), "name": label, "legend": label, "symbol": symbol, "colour": colour,
                       "rows": rows, "popup": False})


def _school_type(school) -> str:
    """What a school's popup says it is: its GIAS type and, where GIAS gives one, its phase."""
    kind = "" if pd.isna(school.establishment_type) else str(school.establishment_type)
    phase = "" if pd.isna(school.phase) or school.phase == "Not applicable" else str(school.phase)
    return ", ".join(p for p in (kind, phase.lower() if kind else phase) if p) or "Type not known"


def _add_practice_values(store, indicator: str, extent, m) -> None:
    """A practice-level dataset's GP practices as points coloured by their published value (five
    quantile classes, the map's teal ramp; grey where the count is hidden), shown at once."""
    from geo.views import map_table as map_tables

    points = map_tables.practice_points(store, indicator, extent)
    if points is None or not len(points):
        return
    values = points["value"]
    shown = values.dropna()
    colours = ramp(TEALS, 5)
    if len(shown) >= 5 and shown.nunique() > 1:
        classes = classify(values, "quantiles", 5)
        fill = [colours[c] if c >= 0 else NO_DATA_COLOUR for c in classes.classes]
        legend = classes.labels
    else:
        fill = [colours[-1] if v == v else NO_DATA_COLOUR for v in values]
        legend = []
    unit = points.attrs.get("unit", "")
    group = folium.FeatureGroup(name="GP practices: this indicator", show=True)
    group.add_to(m)
    rows = [[round(p.y, 5), round(p.x, 5),
             f"{name} ({code}): " + ("hidden (1 to 7)" if hidden or v != v else f"{v:,.1f} {unit}"), colour]
            for p, name, code, v, hidden, colour in zip(points.geometry, points["practice_name"],
                                                         points["practice_code"], values, points["suppressed"],
                                                         fill)]
    page_data(m).setdefault("points", []).append({
        "layer": group.get_name(), "name": "GP practices: this indicator", "colour": colours[-1], "rows": rows,
        "legend": "GP practices, coloured by this indicator", "symbol": POINT_SYMBOLS["practice-values"][0],
        "popup": False, "row_colours": True, "classes": list(zip(legend, colours[:len(legend)])),
        "not_located": points.attrs.get("not_located", 0)})


def _focus(store, frame, code: str, m) -> None:
    """Zoom to an LSOA or ward found by search, outlined in yellow."""
    target = frame[frame["lsoa21cd"] == code]
    name = code
    if target.empty:
        target = frame[frame["ward24cd"] == code]
        if target.empty:
            return
        target = target.dissolve()
        name = str(frame.loc[frame["ward24cd"] == code, "ward24nm"].iloc[0])
        detail = f"Ward {code}"
    else:
        name = f"{target['lsoa21nm'].iloc[0]} ({code})"
        detail = f"LSOA {code}: {target['value_text'].iloc[0]}" if "value_text" in target else f"LSOA {code}"
    minx, miny, maxx, maxy = target.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]], max_zoom=15)
    page_data(m)["focus"] = [[miny, minx], [maxy, maxx]]  # the page keeps this view, not the whole place
    # named on the map (static/js/gapmap-map.js puts a label on it, or on the search's pin)
    point = target.geometry.iloc[0].representative_point() if len(target) == 1 else target.union_all().representative_point()
    page_data(m)["found"] = {"name": name.split(" (")[0] if detail.startswith("LSOA") else name, "detail": detail,
                             "at": [round(point.y, 5), round(point.x, 5)]}
    # its own pane above the LSOAs (which are added once the page has loaded, so would cover it)
    folium.map.CustomPane("gapmap-found", z_index=450, pointer_events=False).add_to(m)
    folium.GeoJson(json.loads(target[["geometry"]].to_json(drop_id=True)), name=f"Found: {name}",
                   style_function=lambda f: {"fill": False, "color": "#ffeb3b", "weight": 5},
                   pane="gapmap-found").add_to(m)


def _head(m, store, title: str, extent: analysis.Extent) -> None:
    """The page's title (the offline file and the browser tab name the map) and its icon."""
    place = "England"
    if extent.level != "england":
        areas = store.areas(extent.level)
        named = areas.loc[areas[f"{extent.level}24cd"] == extent.code, f"{extent.level}24nm"]
        place = str(named.iloc[0]) if len(named) else extent.code
    m.get_root().header.add_child(Element(f"<title>{html.escape(title)}: {html.escape(place)} (Gapmap)</title>"
                                          f'<link rel="icon" href="{FAVICON}">'), name="gapmap_head")


def _title(store, indicator: str, meta: dict | None = None) -> tuple[str, str]:
    """The legend title, and SYNTHETIC DATA for maps made from synthetic data. ``meta``: the map
    table's metadata (the dataset as read for this request)."""
    from geo.store.datasets import DatasetError, DatasetStore
    from geo.store.schema import lsoa_columns

    described = lsoa_columns()
    if indicator in described:
        return described[indicator].split(":")[0] if ":" in described[indicator] else described[indicator], ""
    if meta is None or "measure" not in meta:
        try:
            meta = DatasetStore(store).get(indicator).meta
        except DatasetError:
            return indicator, ""
    title = f"{meta.get('measure') or indicator} {dataset_unit(meta)}"
    return title, ("SYNTHETIC DATA: made-up records, not real activity." if meta.get("synthetic") else "")


def dataset_unit(meta: dict) -> str:
    """The unit of a dataset's LSOA values, from its definition ('per 100,000 residents aged 0-17
    per year', '% of births with a recorded gestation')."""
    from geo.sources.indicator_definitions import definition_of

    if isinstance(meta.get("unit"), str) and meta["unit"].startswith(("per ", "%")):  # the map table's meta
        return meta["unit"]
    return definition_of(meta, False).unit


def _bivariate_legend(b, activity: str) -> dict:
    """What the bivariate legend macro draws: the n x n grid, deprivation up, activity to the right,
    with each class's range of both measures (the IMD 2025 score's and the activity's tercile breaks
    when n is 3) beside its row and under its column."""
    return {"colours": dict(b.colours), "n": b.n, "activity": activity,
            "deprivation_labels": list(b.deprivation_labels), "activity_labels": list(b.activity_labels)}


CODE_PATTERN = re.compile(r"^([A-Z]\d{2})(\d{6})$")  # E01012345: the LSOA 2021 codes


def _packed_codes(codes: list):
    """LSOA codes that all share one prefix (E01) as that prefix and the differences between their
    numbers (the codes are sorted, so mostly 1): a tenth of the bytes. The page rebuilds them
    (``decodeCodes``). The codes as they are when they do not fit."""
    matches = [CODE_PATTERN.match(c) if isinstance(c, str) else None for c in codes]
    if not matches or not all(matches) or len({m.group(1) for m in matches}) != 1:
        return None
    numbers = np.array([int(m.group(2)) for m in matches], dtype=np.int64)
    return {"prefix": matches[0].group(1), "digits": 6, "q": np.diff(numbers, prepend=0).tolist()}


def _rings(frame, key) -> str:
    """The LSOAs' rings as the page's JSON (delta-encoded, in the frame's order), kept per store
    build, extent and precision: the same simplified coverage serves every indicator's map."""
    codes = frame["lsoa21cd"].to_numpy(dtype=object)

    def compute():
        geometries = _geometries_as_json(np.asarray(frame.geometry.values, dtype=object),
                                         frame.attrs.get("decimals", 5), delta=True)
        return codes, ",".join(g[len('{"q":'):-1] for g in geometries)

    if key is None:
        return compute()[1]
    held = RINGS.get(key, compute, lambda v: len(v[1]) + 64 * len(v[0]))
    return held[1] if np.array_equal(held[0], codes) else compute()[1]


def warm_england(store) -> None:
    """Make England's simplified polygons and their rings (about a second) before the first England
    map is asked for: `gapmap serve` calls this in the background as it starts."""
    from geo.views import map_table as map_tables

    store = map_tables.pinned(store)
    extent = analysis.Extent("england")
    geometry = map_tables.lsoa_geometry(store, extent)
    _rings(geometry, _rings_key(store, extent, geometry))


def _rings_key(store, extent, frame) -> tuple:
    return store.identity, store.build_id(), extent.level, extent.code, frame.attrs.get("decimals", 5)


def _lsoa_layer(m, frame, views, indicator: str, note: str, bivariate_legend, rings_key=None) -> None:
    """One GeoJSON of the LSOAs for every colouring: a 'Colour by' control restyles it, so the
    geometry is sent once whatever the number of views. The columns, rings and views go in the
    page's data (JSON); static/js/gapmap-map.js draws them, the legends are the macros of
    app/templates/macros/legend.html."""
    props = {}
    compact = len(frame) > 5000  # England-sized maps: the tooltip keeps code, value and decile
    for short, column, _ in TOOLTIP:
        if compact and short not in ("c", "v", "d"):
            continue
        if column in frame:
            values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
            if column.startswith("imd_"):
                values = [None if v is None else int(v) for v in values]
            props[short] = [None if v is None else v if isinstance(v, (int, float)) else str(v) for v in values]
    view_data = []
    for i, (key, name, column, rows) in enumerate(views):
        values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
        colours_here = sorted({v for v in values if isinstance(v, str)})
        index = {c: j for j, c in enumerate(colours_here)}
        props[f"f{i}"] = [index.get(v) if isinstance(v, str) else None for v in values]
        if rows is None:  # the bivariate classes: the legend is the grid
            label_of = {c: f"Deprivation {k.split('-')[0]}, activity {k.split('-')[1]} (of {bivariate_legend['n']})"
                        for k, c in bivariate_legend["colours"].items()}
        else:
            label_of = {c: lab for c, lab in rows}
        view_data.append({"key": key, "name": name, "palette": colours_here,
                          "labels": [label_of.get(c, "") for c in colours_here],
                          "rows": rows, "bivariate": bivariate_legend if rows is None else None,
                          "method": GI_LEVELS if key in ("hot", "hot_eb") else None})
    # columnar: one list per property and one of geometries, rebuilt into features by the page
    codes = _packed_codes(props["c"]) if compact and "c" in props else None
    if codes is not None:
        del props["c"]  # sent as a prefix and differences instead
    packed = RawJson('{"columns":' + json.dumps(props, separators=(",", ":")) +
                     (',"codes":' + json.dumps(codes, separators=(",", ":")) if codes else "") + ',"rings":[' +
                     _rings(frame, rings_key) + "]}")
    labels = {short: label for short, column, label in TOOLTIP}
    labels["v"] = views[0][1] if views else "Value"  # the indicator's readable name, not its column
    data = page_data(m)
    data.update({"map": m.get_name(), "packed": packed, "scale": 10 ** frame.attrs.get("decimals", 5),
                 "compact": compact, "stroke": 0.8 if compact else 0.4, "labels": labels, "nodata": NO_DATA_COLOUR,
                 "nodataLabel": NO_DATA, "title": labels["v"],
                 "views": [{k: v[k] for k in ("key", "name", "palette", "labels")} for v in view_data]})
    m.get_root().html.add_child(Element(_templates().get_template("map_frame.html").render(
        views=view_data, note=note, no_data_colour=NO_DATA_COLOUR, no_data_label=NO_DATA,
        page_title=f"Map: {labels['v']}")))


OVERLAY_KEYS = {"Ward outlines": "wards", "Place outline": "outline", "Schools: primary": "schools-primary",
                "Schools: secondary": "schools-secondary", "Schools: special": "schools-special",
                "Schools: other": "schools-other",
                "GP practices": "gps", "Hospitals": "hospitals", "Basemap": "basemap"}


def _finish(m) -> None:
    """The layer control (only when there are layers to switch) and the page's list of them, each
    with the key the address uses (``layers=wards,gps``)."""
    overlays = []
    for child in m._children.values():
        if isinstance(child, folium.map.Layer) and child.control:
            name = child.layer_name
            key = OVERLAY_KEYS.get(name) or ("found" if name.startswith("Found:") else
                                             "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split()))
            overlays.append({"key": key, "name": name, "layer": child.get_name()})
    page_data(m)["overlays"] = overlays
    page_data(m).setdefault("points", [])
    if overlays:
        folium.LayerControl(collapsed=False).add_to(m)


def _templates():
    """The app's Jinja templates, also without a Flask app (the CLI's offline export)."""
    global _TEMPLATES
    if _TEMPLATES is None:
        import jinja2

        _TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                                        autoescape=True, trim_blocks=False)
    return _TEMPLATES


_TEMPLATES = None


RINGS = BoundedCache(max_entries=8, max_bytes=96 << 20, name="map rings")  # England's are ~3 MB


class RawJson:
    """JSON text already written (the rings: megabytes, built in bulk), put in the page as it is."""

    def __init__(self, text: str):
        self.text = text


class PageData(Element):
    """The map page's data: ``<script type="application/json" id="gapmap-data">``, read by
    static/js/gapmap-map.js. Filled while the map is built, written when the page is rendered."""

    def __init__(self):
        super().__init__("")
        self.data: dict = {}

    def render(self, **kwargs) -> str:
        parts, raw = [], {}
        for key, value in self.data.items():
            if isinstance(value, RawJson):
                raw[key] = value.text
        text = json.dumps({k: (None if k in raw else v) for k, v in self.data.items()}, separators=(",", ":"))
        for key, value in raw.items():
            text = text.replace(json.dumps(key) + ":null", json.dumps(key) + ":" + value, 1)
        # nothing in the data may close the script element
        text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
        parts.append('<script type="application/json" id="gapmap-data">' + text + "</script>")
        return "".join(parts)


def page_data(m) -> dict:
    """The dict that becomes the page's JSON data (one per map)."""
    root = m.get_root()
    element = root.html._children.get("gapmap_page_data")
    if element is None:
        element = PageData()
        root.html.add_child(element, name="gapmap_page_data")
    return element.data


def render_page(m) -> str:
    """The whole HTML page of a map, in English, zoomable by its reader."""
    page = m.get_root().render()
    page = page.replace("<html>", '<html lang="en-GB">', 1)
    # Folium's viewport forbids zooming the page, which keeps people with low vision out (WCAG 1.4.4)
    page = re.sub(r'<meta name="viewport"[^>]*/>', '<meta name="viewport" content="width=device-width, '
                  'initial-scale=1.0" />', page, count=1)
    return page


def offline_page(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5) -> str:
    """The map with every script and style sheet from static/ put inline: one HTML file that opens
    with no network (a laptop in a meeting room)."""
    from geo.settings import PROJECT_ROOT

    static = PROJECT_ROOT / "static"
    page = render_page(choropleth_map(store, indicator, extent, scheme, k))

    def script(match):
        code = (static / match.group(1)).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return "<script>" + code + "</script>"

    def style(match):
        return "<style>" + (static / match.group(1)).read_text(encoding="utf-8") + "</style>"

    page = re.sub(r'<script src="/static/([^"]+)"></script>', script, page)
    page = re.sub(r'<link rel="stylesheet" href="/static/([^"]+)"\s*/?>', style, page)
    if "/static/" in page:
        raise ValueError("the offline page still refers to /static/")
    return page
