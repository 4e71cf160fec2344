"""Folium maps made from the store, served with the vendored Leaflet (no CDN).

``choropleth_map`` draws one indicator over the LSOAs of an extent with the classes of
:mod:`geo.classify` and a legend, and adds the layers a place team switches on and off: Gi* hot
and cold spots, local Moran clusters, bivariate classes, ward and place outlines, schools (in
clusters), GP practices and hospitals. Geometries are simplified as one coverage (shared borders
stay shared) and rounded to what the zoom needs. Every map carries the data attribution.
"""
from __future__ import annotations

import html
import json
import os

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.plugins import MarkerCluster

from geo import ATTRIBUTION, analysis
from geo.bivariate_classes import bivariate_classes
from geo.classify import NO_DATA, classify

STATIC = "/static/vendor"
LEAFLET_JS = [("leaflet", f"{STATIC}/leaflet/leaflet.js"), ("jquery", f"{STATIC}/jquery/jquery.min.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
CLUSTER_JS = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
CLUSTER_CSS = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
               ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
# ColorBrewer sequential ramps (colour-blind safe): purples for deprivation, teal-blues for activity
PURPLES = ["#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f", "#3f007d"]
TEALS = ["#f7fcf0", "#e0f3db", "#ccebc5", "#a8ddb5", "#7bccc4", "#4eb3d3", "#2b8cbe", "#08589e"]
NO_DATA_COLOUR = "#d9d9d9"
LISA_COLOURS = {"High-High": "#d7191c", "Low-Low": "#2c7bb6", "Low-High": "#abd9e9", "High-Low": "#fdae61"}
GI_COLOURS = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac"}
SCHOOL_PHASES = {"primary": ("Primary", "Middle deemed primary", "Nursery"),
                 "secondary": ("Secondary", "Middle deemed secondary", "All-through", "16 plus"),
                 "other": ()}
SIMPLIFY_DEGREES = {"ward": 0.00005, "lad": 0.0001, "icb": 0.0002, "england": 0.001}
ROUND_DEGREES = {"ward": 1e-5, "lad": 1e-5, "icb": 1e-5, "england": 1e-4}


def ramp(colours: list[str], n: int) -> list[str]:
    if n <= 1:
        return [colours[-1]]
    picks = np.linspace(0, len(colours) - 1, n).round().astype(int)
    return [colours[i] for i in picks]


def simplify(frame, level: str):
    """Simplify the polygons together so neighbours keep a shared border, then round."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    simplified = shapely.coverage_simplify(geoms, SIMPLIFY_DEGREES[level])
    frame = frame.copy()
    frame["geometry"] = shapely.set_precision(simplified, ROUND_DEGREES[level])
    return frame


def _use_local_assets(element) -> None:
    element.default_js = list(LEAFLET_JS)
    element.default_css = list(LEAFLET_CSS)


def _legend(title: str, rows: list[tuple[str, str]], note: str = "") -> Element:
    items = "".join(f'<li><span class="swatch" style="background:{c}"></span>{html.escape(label)}</li>'
                    for c, label in rows)
    return Element(f'<div class="gapmap-legend" role="region" aria-label="Legend"><strong>{html.escape(title)}'
                   f'</strong><ul>{items}</ul>{f"<small>{html.escape(note)}</small>" if note else ""}</div>')


def _geojson(frame, properties: list[str]) -> dict:
    keep = frame[[*properties, "geometry"]].copy()
    for column in properties:
        if keep[column].dtype.kind == "f":
            keep[column] = keep[column].round(3)
    return json.loads(keep.to_json(na="null", drop_id=True))


def _polygon_layer(frame, name: str, colour_column: str, tooltip_fields: list[str], aliases: list[str],
                   show: bool = True, weight: float = 0.4) -> folium.GeoJson:
    data = _geojson(frame, [colour_column, *tooltip_fields])
    return folium.GeoJson(
        data, name=name, show=show,
        style_function=lambda f, c=colour_column, w=weight: {
            "fillColor": f["properties"][c] or NO_DATA_COLOUR, "color": "#555555", "weight": w,
            "fillOpacity": 0.75, "dashArray": None if f["properties"][c] else "3 3"},
        tooltip=folium.GeoJsonTooltip(fields=tooltip_fields, aliases=aliases, sticky=True),
    )


def choropleth_map(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5,
                   layers: tuple[str, ...] = ("hotspots", "clusters", "bivariate", "wards", "schools", "gps",
                                              "hospitals"), focus: str | None = None) -> folium.Map:
    frame = analysis.indicator_values(store, indicator, extent, geometry=True)
    context = store.lsoas(geometry=False, columns=["lsoa21cd", "urban_rural", "ruc21nm"], **extent.filters())
    frame = frame.merge(context, on="lsoa21cd", how="left")
    level = extent.level
    frame = simplify(frame, level)
    is_deprivation = indicator.startswith("imd") or indicator.split("_")[0] in (
        "income", "employment", "education", "health", "crime", "barriers", "living")
    if indicator.endswith("decile") or indicator.endswith("quintile"):
        scheme = "imd_deciles" if indicator.endswith("decile") else "imd_quintiles"
    classes = classify(frame["value"], scheme, k)
    colours = ramp(PURPLES if is_deprivation else TEALS, len(classes.labels))
    if scheme in ("imd_deciles", "imd_quintiles"):
        colours = colours[::-1]  # 1 = most deprived gets the darkest
    frame["fill"] = [colours[c] if c >= 0 else None for c in classes.classes]
    frame["class_label"] = classes.label_of()
    frame["value_text"] = [("No data" if not np.isfinite(v) else f"{v:,.3g}") for v in frame["value"]]
    if "lower" in frame:
        frame["value_text"] = [t if t == "No data" else f"{t} ({lo:,.3g} to {hi:,.3g})"
                               for t, lo, hi in zip(frame["value_text"], frame["lower"], frame["upper"])]
    bounds = frame.total_bounds
    tiles = os.environ.get("GAPMAP_TILES", "").strip()  # e.g. an OpenStreetMap tile URL, when online
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, attribution_control=True)
    if tiles:
        folium.TileLayer(tiles, attr=os.environ.get("GAPMAP_TILES_ATTRIBUTION",
                                                   "&copy; OpenStreetMap contributors"), name="Basemap").add_to(m)
    _use_local_assets(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    tooltip = ["lsoa21nm", "lsoa21cd", "ward24nm", "value_text", "imd_decile", "imd_decile_in_icb", "class_label"]
    aliases = ["LSOA", "Code", "Ward", indicator, "IMD decile (England)", "IMD decile (ICB)", "Class"]
    extra = {}
    try:
        gi = analysis.local_statistic(store, indicator, extent, "gi-star")
        lm = analysis.local_statistic(store, indicator, extent, "local-moran")
        frame["hotspot"] = frame["lsoa21cd"].map(gi["spot"])
        frame["hot_fill"] = frame["lsoa21cd"].map(gi["bin"]).map(GI_COLOURS)
        frame["cluster"] = frame["lsoa21cd"].map(lm["cluster"])
        frame["cluster_fill"] = frame["cluster"].map(LISA_COLOURS)
        tooltip += ["cluster", "hotspot"]
        aliases += ["Local Moran cluster", "Gi* hot/cold spot"]
        extra["statistics"] = True
    except ValueError:
        extra["statistics"] = False
    _polygon_layer(frame, _title(store, indicator)[0], "fill", tooltip, aliases).add_to(m)
    if extra["statistics"] and "hotspots" in layers:
        _polygon_layer(frame, "Gi* hot and cold spots", "hot_fill", tooltip, aliases, show=False).add_to(m)
    if extra["statistics"] and "clusters" in layers:
        _polygon_layer(frame, "Local Moran clusters", "cluster_fill", tooltip, aliases, show=False).add_to(m)
    if "bivariate" in layers and not is_deprivation:
        dep = analysis.indicator_values(store, "imd_score", extent)["value"].to_numpy()
        b = bivariate_classes(dep, frame["value"].to_numpy())
        frame["bivariate"] = b.classes.to_numpy()
        frame["bivariate_fill"] = b.colour_of().to_numpy()
        _polygon_layer(frame, "Deprivation x activity (bivariate)", "bivariate_fill", tooltip + ["bivariate"],
                       aliases + ["Bivariate class (deprivation-activity)"], show=False).add_to(m)
        m.get_root().html.add_child(_bivariate_legend(b.colours, b.n, _title(store, indicator)[0]))
    deciles = ramp(PURPLES, 10)[::-1]  # decile 1 (most deprived) darkest
    for column, name in (("imd_decile", "IMD deciles (England)"), ("imd_decile_in_icb", "IMD deciles (within ICB)")):
        frame[f"{column}_fill"] = frame[column].map(lambda d: None if pd.isna(d) else deciles[int(d) - 1])
        _polygon_layer(frame, name, f"{column}_fill", tooltip, aliases, show=False).add_to(m)
    frame["rural_fill"] = frame["urban_rural"].map({"Urban": "#bdbdbd", "Rural": "#74c476"})
    _polygon_layer(frame, "Rural and urban (RUC 2021)", "rural_fill", tooltip + ["ruc21nm"],
                   aliases + ["Rural-urban class"], show=False).add_to(m)
    if "wards" in layers:
        wards = simplify(store.areas("ward", geometry=True, **extent.filters()), level)
        folium.GeoJson(_geojson(wards, ["ward24nm"]), name="Ward outlines",
                       style_function=lambda f: {"fill": False, "color": "#222222", "weight": 1.2},
                       tooltip=folium.GeoJsonTooltip(["ward24nm"], aliases=["Ward"])).add_to(m)
    if extent.level in ("icb", "lad"):
        outline = store.areas(extent.level, geometry=True)
        outline = outline[outline[f"{extent.level}24cd"] == extent.code]
        folium.GeoJson(_geojson(simplify(outline, level), [f"{extent.level}24nm"]), name="Place outline",
                       style_function=lambda f: {"fill": False, "color": "#000000", "weight": 3}).add_to(m)
    _add_points(store, extent, layers, m)
    rows = [(c, lab) for c, lab in zip(colours, classes.labels)] + [(NO_DATA_COLOUR, NO_DATA)]
    title, note = _title(store, indicator)
    m.get_root().html.add_child(_legend(title, rows, (note + " " if note else "") + ATTRIBUTION))
    m.get_root().html.add_child(Element(
        '<style>.gapmap-legend{position:absolute;bottom:48px;left:10px;z-index:1000;background:#fff;padding:8px;'
        'border:1px solid #768692;max-width:320px;font:14px/1.4 Arial,sans-serif}.gapmap-legend ul{list-style:none;'
        'margin:4px 0;padding:0}.gapmap-legend .swatch{display:inline-block;width:18px;height:12px;margin-right:6px;'
        'border:1px solid #555}.gapmap-legend small{display:block;color:#4c6272;font-size:11px}</style>'))
    if focus:
        _focus(store, frame, focus, m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.attrs_gapmap = {"lsoas": int(len(frame)), "classes": classes.labels, **extra}
    return m


def _add_points(store, extent, layers, m) -> None:
    filters = extent.filters()
    if "schools" in layers:
        schools = store.points("schools", icb=filters.get("icb"), lad=filters.get("lad"))
        if "ward" in filters:
            schools = schools[schools["lsoa21cd"].isin(set(store.lsoas(ward=filters["ward"], geometry=False,
                                                                       columns=["lsoa21cd"])["lsoa21cd"]))]
        for label, phases in SCHOOL_PHASES.items():
            chosen = schools[schools["phase"].isin(phases)] if phases else schools[
                ~schools["phase"].isin({p for ps in SCHOOL_PHASES.values() if ps for p in ps})]
            _school_layer(chosen, f"Schools: {label}", m)
    for kind, label, colour, wanted in (("gp_practices", "GP practices", "#007f3b", "gps"),
                                        ("hospitals", "Hospitals", "#da291c", "hospitals")):
        if wanted not in layers:
            continue
        points = store.points(kind, icb=filters.get("icb"), lad=filters.get("lad"))
        group = folium.FeatureGroup(name=label, show=False)
        for row in points.itertuples():
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=5, color=colour, fill=True,
                                fill_opacity=0.9, tooltip=html.escape(str(row.name))).add_to(group)
        group.add_to(m)


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
    else:
        name = f"{target['lsoa21nm'].iloc[0]} ({code})"
    minx, miny, maxx, maxy = target.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]], max_zoom=15)
    folium.GeoJson(json.loads(target[["geometry"]].to_json(drop_id=True)), name=f"Found: {name}",
                   style_function=lambda f: {"fill": False, "color": "#ffeb3b", "weight": 5}).add_to(m)


def _title(store, indicator: str) -> tuple[str, str]:
    """The legend title, and SYNTHETIC DATA for maps made from synthetic data."""
    from geo.datasets import DatasetError, DatasetStore
    from geo.schema import lsoa_columns

    described = lsoa_columns()
    if indicator in described:
        return described[indicator].split(":")[0] if ":" in described[indicator] else described[indicator], ""
    try:
        meta = DatasetStore(store).get(indicator).meta
    except DatasetError:
        return indicator, ""
    title = f"{meta.get('measure', indicator)} per {analysis.RATE_PER:,} residents"
    return title, ("SYNTHETIC DATA: made-up records, not real activity." if meta.get("synthetic") else "")


def _school_layer(schools, name: str, m) -> None:
    """Clustered school markers with pupils and free school meals in the popup."""
    cluster = MarkerCluster(name=name, show=False)
    cluster.default_js = list(CLUSTER_JS)
    cluster.default_css = list(CLUSTER_CSS)
    for row in schools.itertuples():
        popup = (f"<b>{html.escape(str(row.name))}</b><br>{html.escape(str(row.phase))}<br>"
                 f"Pupils: {'' if row.pupils != row.pupils else int(row.pupils)}<br>"
                 f"Free school meals: {'' if row.fsm_percent != row.fsm_percent else row.fsm_percent}%")
        folium.CircleMarker([row.geometry.y, row.geometry.x], radius=5, color="#005eb8", fill=True,
                            fill_opacity=0.9, popup=folium.Popup(popup, max_width=250),
                            tooltip=html.escape(str(row.name))).add_to(cluster)
    cluster.add_to(m)


def _bivariate_legend(colours: dict[str, str], n: int, activity: str) -> Element:
    """The n x n grid with labelled axes: deprivation up, activity to the right."""
    cells = "".join(
        f'<span style="background:{colours[f"{d}-{a}"]}" title="{d}-{a}"></span>'
        for d in range(n, 0, -1) for a in range(1, n + 1))
    return Element(
        f'<div class="gapmap-bivariate" role="img" aria-label="Bivariate legend: deprivation against '
        f'{html.escape(activity)}"><div class="grid" style="grid-template-columns:repeat({n},18px)">{cells}</div>'
        f'<div class="y">deprived &rarr;</div><div class="x">more {html.escape(activity)} &rarr;</div></div>'
        '<style>.gapmap-bivariate{position:absolute;bottom:48px;right:10px;z-index:1000;background:#fff;'
        'padding:8px 8px 8px 28px;border:1px solid #768692;font:12px Arial,sans-serif;max-width:200px}'
        '.gapmap-bivariate .grid{display:grid;gap:1px}.gapmap-bivariate .grid span{width:18px;height:18px}'
        '.gapmap-bivariate .y{position:absolute;left:16px;bottom:36px;transform:rotate(-90deg);'
        'transform-origin:left bottom;white-space:nowrap}.gapmap-bivariate .x{margin-top:4px}</style>')
