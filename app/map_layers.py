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
from geo.geojson_text import geometries_as_json as _geometries_as_json
from geo.palettes import (GI_COLOURS, LISA_COLOURS, NO_DATA_COLOUR, NOT_SIGNIFICANT, PURPLES, RURAL_COLOURS,
                          TEALS, ramp)
from geo.getis_ord import BIN_LABELS
from geo.local_statistics import NO_DATA as LISA_NO_DATA

STATIC = "/static/vendor"
LEAFLET_JS = [("leaflet", f"{STATIC}/leaflet/leaflet.js"), ("jquery", f"{STATIC}/jquery/jquery.min.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC}/leaflet/leaflet.css")]
CLUSTER_JS = [("markerclusterjs", f"{STATIC}/leaflet.markercluster/leaflet.markercluster.js")]
CLUSTER_CSS = [("markerclustercss", f"{STATIC}/leaflet.markercluster/MarkerCluster.css"),
               ("markerclusterdefaultcss", f"{STATIC}/leaflet.markercluster/MarkerCluster.Default.css")]
# ColorBrewer sequential ramps (colour-blind safe): purples for deprivation, teal-blues for activity
TOOLTIP = (("n", "lsoa21nm", "LSOA"), ("c", "lsoa21cd", "Code"), ("w", "ward24nm", "Ward"),
           ("v", "value_text", "Value"), ("d", "imd_decile", "IMD decile (England)"),
           ("di", "imd_decile_in_icb", "IMD decile (ICB)"), ("k", "class_label", "Class"),
           ("cl", "cluster", "Local Moran cluster"), ("h", "hotspot", "Gi* hot/cold spot"),
           ("b", "bivariate", "Bivariate class (deprivation-activity)"), ("r", "urban_rural", "Urban or rural"))
SCHOOL_PHASES = {"primary": ("Primary", "Middle deemed primary", "Nursery"),
                 "secondary": ("Secondary", "Middle deemed secondary", "All-through", "16 plus"),
                 "other": ()}
SIMPLIFY_DEGREES = {"ward": 0.00005, "lad": 0.0001, "icb": 0.0002, "england": 0.003}
DECIMALS = {"ward": 5, "lad": 5, "icb": 4, "england": 3}  # ~1 m to ~100 m: under a pixel at the zoom each opens at


def simplify(frame, level: str):
    """Simplify the polygons together so neighbours keep a shared border. Coordinates are rounded
    when written (:func:`feature_collection`), alike for shared vertices, so borders stay shared."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    frame = frame.copy()
    frame["geometry"] = shapely.coverage_simplify(geoms, SIMPLIFY_DEGREES[level])
    frame.attrs["decimals"] = DECIMALS[level]
    return frame


class RawText(Element):
    """Text put in the page as it is (no template: map data can be megabytes)."""

    def __init__(self, text: str):
        super().__init__("")
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


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
    element.default_js = list(LEAFLET_JS)
    element.default_css = list(LEAFLET_CSS)


def _geojson(frame, properties: list[str]) -> dict:
    return json.loads(feature_collection(frame, {p: frame[p].astype(object).where(frame[p].notna(), None).tolist()
                                                 for p in properties}))


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
    if "count" in frame:  # an activity dataset: what the map shows passes disclosure control
        from geo.datasets import DatasetStore
        from geo.disclosure import Rule, suppressed

        rule = Rule.from_meta(DatasetStore(store).get(indicator).meta)
        hide = suppressed(frame["count"].to_numpy(dtype=float), rule)
        frame.loc[hide, ["value", "lower", "upper"]] = np.nan
        frame.loc[hide, "fill"] = None
        frame.loc[hide, "class_label"] = f"suppressed ({rule.suppress_from} to {rule.suppress_to} events)"
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
    title, note = _title(store, indicator)
    if note:  # SYNTHETIC DATA stays in view whatever the colouring (the bivariate legend has no note)
        m.get_root().html.add_child(Element(
            f'<div class="gapmap-synthetic" role="note" style="position:absolute;top:10px;left:50%;'
            f'transform:translateX(-50%);z-index:1001;background:#d5281b;color:#fff;padding:4px 10px;'
            f'font:bold 14px Arial,sans-serif">{html.escape(note)}</div>'))
    views = [("main", title, "fill", [(c, lab) for c, lab in zip(colours, classes.labels)])]
    try:
        gi = analysis.local_statistic(store, indicator, extent, "gi-star")
        lm = analysis.local_statistic(store, indicator, extent, "local-moran")
        frame["hotspot"] = frame["lsoa21cd"].map(gi["spot"])
        frame["hot_fill"] = frame["lsoa21cd"].map(gi["bin"]).map({**GI_COLOURS, 0: NOT_SIGNIFICANT})
        frame["cluster"] = frame["lsoa21cd"].map(lm["cluster"])
        frame["cluster_fill"] = frame["cluster"].map(LISA_COLOURS).where(frame["cluster"] != LISA_NO_DATA,
                                                                          None)
        frame.loc[frame["cluster"] == "Not significant", "cluster_fill"] = NOT_SIGNIFICANT
        if "hotspots" in layers:
            views.append(("hot", "Gi* hot and cold spots", "hot_fill",
                          [(GI_COLOURS[b], BIN_LABELS[b]) for b in (3, 2, 1)] + [(NOT_SIGNIFICANT, BIN_LABELS[0])]
                          + [(GI_COLOURS[b], BIN_LABELS[b]) for b in (-1, -2, -3)]))
        if "clusters" in layers:
            views.append(("lisa", "Local Moran clusters", "cluster_fill",
                          [(c, lab) for lab, c in LISA_COLOURS.items()] + [(NOT_SIGNIFICANT, "Not significant")]))
    except ValueError:
        pass
    bivariate_legend = None
    if "bivariate" in layers and not is_deprivation:
        dep = analysis.indicator_values(store, "imd_score", extent)["value"].to_numpy()
        b = bivariate_classes(dep, frame["value"].to_numpy())
        frame["bivariate"] = b.classes.to_numpy()
        frame["bivariate_fill"] = b.colour_of().to_numpy()
        views.append(("bivariate", "Deprivation x activity (bivariate)", "bivariate_fill", None))
        bivariate_legend = _bivariate_legend(b.colours, b.n, title)
    deciles = ramp(PURPLES, 10)[::-1]  # decile 1 (most deprived) darkest
    decile_rows = [(deciles[i], f"Decile {i + 1}" + (" (most deprived)" if i == 0 else " (least deprived)"
                                                     if i == 9 else "")) for i in range(10)]
    for column, key, name in (("imd_decile", "dec", "IMD deciles (England)"),
                              ("imd_decile_in_icb", "decicb", "IMD deciles (within ICB)")):
        frame[f"{column}_fill"] = frame[column].map(lambda d: None if pd.isna(d) else deciles[int(d) - 1])
        views.append((key, name, f"{column}_fill", decile_rows))
    frame["rural_fill"] = frame["urban_rural"].map(RURAL_COLOURS)
    views.append(("rural", "Rural and urban (RUC 2021)", "rural_fill", [(c, lab) for lab, c in RURAL_COLOURS.items()]))
    _lsoa_layer(m, frame, views, indicator, (note + " " if note else "") + ATTRIBUTION, bivariate_legend)
    if "wards" in layers:
        if extent.level == "ward":
            wards = store.areas("ward", geometry=True)
            wards = simplify(wards[wards["ward24cd"] == extent.code], level)
        else:
            from geo.extent_areas import outlines  # clipped to the extent's own LSOAs

            wards = simplify(outlines(store, "ward", **extent.filters()), level)
        folium.GeoJson(_geojson(wards, ["ward24nm"]), name="Ward outlines",
                       style_function=lambda f: {"fill": False, "color": "#222222", "weight": 1.2},
                       tooltip=folium.GeoJsonTooltip(["ward24nm"], aliases=["Ward"])).add_to(m)
    if extent.level in ("icb", "lad"):
        outline = store.areas(extent.level, geometry=True)
        outline = outline[outline[f"{extent.level}24cd"] == extent.code]
        folium.GeoJson(_geojson(simplify(outline, level), [f"{extent.level}24nm"]), name="Place outline",
                       style_function=lambda f: {"fill": False, "color": "#000000", "weight": 3}).add_to(m)
    _add_points(store, extent, layers, m)
    if focus:
        _focus(store, frame, focus, m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _add_points(store, extent, layers, m) -> None:
    """Schools (clustered, by phase), GP practices and hospitals, sent as compact arrays and drawn
    by a few lines of script rather than one block of code per marker."""
    filters = extent.filters()
    groups = []
    if "schools" in layers:
        schools = store.points("schools", icb=filters.get("icb"), lad=filters.get("lad"))
        if "ward" in filters:
            schools = schools[schools["lsoa21cd"].isin(set(store.lsoas(ward=filters["ward"], geometry=False,
                                                                       columns=["lsoa21cd"])["lsoa21cd"]))]
        for label, phases in SCHOOL_PHASES.items():
            chosen = schools[schools["phase"].isin(phases)] if phases else schools[
                ~schools["phase"].isin({p for ps in SCHOOL_PHASES.values() if ps for p in ps})]
            cluster = MarkerCluster(name=f"Schools: {label}", show=False)
            cluster.default_js = list(CLUSTER_JS)
            cluster.default_css = list(CLUSTER_CSS)
            cluster.add_to(m)
            rows = [[round(r.geometry.y, 5), round(r.geometry.x, 5), str(r.name), str(r.phase),
                     None if pd.isna(r.pupils) else int(r.pupils),
                     None if pd.isna(r.fsm_percent) else float(r.fsm_percent)] for r in chosen.itertuples()]
            groups.append((cluster.get_name(), "#005eb8", rows, True))
    for kind, label, colour, wanted in (("gp_practices", "GP practices", "#007f3b", "gps"),
                                        ("hospitals", "Hospitals", "#da291c", "hospitals")):
        if wanted not in layers:
            continue
        points = store.points(kind, icb=filters.get("icb"), lad=filters.get("lad"))
        if "ward" in filters:
            points = points[points["lsoa21cd"].isin(set(store.lsoas(ward=filters["ward"], geometry=False,
                                                                     columns=["lsoa21cd"])["lsoa21cd"]))]
        group = folium.FeatureGroup(name=label, show=False)
        group.add_to(m)
        rows = [[round(r.geometry.y, 5), round(r.geometry.x, 5), str(r.name)] for r in points.itertuples()]
        groups.append((group.get_name(), colour, rows, False))
    script = "".join(
        "(function(){var rows=%s;rows.forEach(function(r){var mk=L.circleMarker([r[0],r[1]],{radius:5,color:'%s',"
        "fillOpacity:0.9});var e=function(t){return String(t).replace(/</g,'&lt;');};mk.bindTooltip(e(r[2]));%s"
        "mk.addTo(%s);});})();" % (
            json.dumps(rows, separators=(",", ":")), colour,
            "mk.bindPopup('<b>'+e(r[2])+'</b><br>'+e(r[3])+'<br>Pupils: '+(r[4]===null?'not known':r[4])+"
            "'<br>Free school meals: '+(r[5]===null?'not known':r[5]+'%'));" if popup else "", name)
        for name, colour, rows, popup in groups)
    m.get_root().script.add_child(RawText(_after_map(script)))


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
    # its own pane above the LSOAs (which are added once the page has loaded, so would cover it)
    folium.map.CustomPane("gapmap-found", z_index=450, pointer_events=False).add_to(m)
    folium.GeoJson(json.loads(target[["geometry"]].to_json(drop_id=True)), name=f"Found: {name}",
                   style_function=lambda f: {"fill": False, "color": "#ffeb3b", "weight": 5},
                   pane="gapmap-found").add_to(m)


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


def _bivariate_legend(colours: dict[str, str], n: int, activity: str) -> Element:
    """The n x n grid with labelled axes: deprivation up, activity to the right."""
    cells = "".join(
        f'<span style="background:{colours[f"{d}-{a}"]}" title="{d}-{a}"></span>'
        for d in range(n, 0, -1) for a in range(1, n + 1))
    return Element(
        f'<div class="gapmap-bivariate" role="img" aria-label="Bivariate legend: deprivation against '
        f'{html.escape(activity)}"><div class="grid" style="grid-template-columns:repeat({n},18px)">{cells}</div>'
        f'<div class="y">more deprived &rarr;</div><div class="x">more {html.escape(activity)} &rarr;</div></div>'
        '<style>.gapmap-bivariate{position:absolute;bottom:48px;right:10px;z-index:1000;background:#fff;'
        'padding:8px 8px 8px 28px;border:1px solid #768692;font:12px Arial,sans-serif;max-width:200px}'
        '.gapmap-bivariate .grid{display:grid;gap:1px}.gapmap-bivariate .grid span{width:18px;height:18px}'
        '.gapmap-bivariate .y{position:absolute;left:16px;bottom:30px;transform:rotate(-90deg);font-size:11px;'
        'transform-origin:left bottom;white-space:nowrap}.gapmap-bivariate .x{margin-top:4px}</style>')


def _lsoa_layer(m, frame, views, indicator: str, note: str, bivariate_legend) -> None:
    """One GeoJSON of the LSOAs for every colouring: a 'Colour by' control restyles it, so the
    geometry is sent once whatever the number of views."""
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
    palettes = []
    for i, (_, _, column, _) in enumerate(views):
        values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
        colours_here = sorted({v for v in values if isinstance(v, str)})
        index = {c: j for j, c in enumerate(colours_here)}
        props[f"f{i}"] = [index.get(v) if isinstance(v, str) else None for v in values]
        palettes.append(colours_here)
    # columnar: one list per property and one of geometries, rebuilt into features by the page
    geometries = _geometries_as_json(np.asarray(frame.geometry.values, dtype=object), frame.attrs.get("decimals", 5),
                                     delta=True)
    data = ('{"columns":' + json.dumps(props, separators=(",", ":")) + ',"rings":[' +
            ",".join(g[len('{"q":'):-1] for g in geometries) + "]}")
    labels = {short: label for short, column, label in TOOLTIP}
    labels["v"] = indicator if indicator else "Value"
    legends = []
    for i, (key, name, _, rows) in enumerate(views):
        if rows is None:
            continue
        items = "".join(f'<li><span class="swatch" style="background:{c}"></span>{html.escape(lab)}</li>'
                        for c, lab in rows + [(NO_DATA_COLOUR, NO_DATA)])
        legends.append(f'<div class="gapmap-legend" data-view="{i}" {"hidden" if i else ""} role="region" '
                       f'aria-label="Legend: {html.escape(name)}"><strong>{html.escape(name)}</strong>'
                       f'<ul>{items}</ul><small>{html.escape(note)}</small></div>')
    controls = "".join(
        f'<label><input type="radio" name="gapmap-view" value="{i}" {"checked" if i == 0 else ""}> '
        f'{html.escape(name)}</label>' for i, (_, name, _, _) in enumerate(views))
    bivariate_index = next((i for i, v in enumerate(views) if v[0] == "bivariate"), -1)
    m.get_root().html.add_child(Element("".join(legends) + (
        f'<div data-view="{bivariate_index}" hidden>{bivariate_legend.render()}</div>' if bivariate_legend else "")))
    m.get_root().html.add_child(Element(LEGEND_CSS))
    script = """
(function () {
  var map = %(map)s;
  var packed = %(data)s;
  var scale = %(scale)s;
  var keys = Object.keys(packed.columns);
  var data = {type: 'FeatureCollection', features: packed.rings.map(function (parts, n) {
    var properties = {};
    keys.forEach(function (k) { properties[k] = packed.columns[k][n]; });
    // rings come delta-encoded in integers: decode them
    return {type: 'Feature', properties: properties, geometry: {type: 'MultiPolygon',
      coordinates: parts.map(function (part) { return part.map(function (ring) {
        var out = [], x = 0, y = 0;
        for (var i = 0; i < ring.length; i += 2) { x += ring[i]; y += ring[i + 1]; out.push([x / scale, y / scale]); }
        return out; }); })}};
  })};
  var labels = %(labels)s;
  var palettes = %(palettes)s;
  var view = 0;
  function style(f) {
    var i = f.properties['f' + view];
    var c = (i === null || i === undefined) ? null : palettes[view][i];
    return {fillColor: c || '%(nodata)s', color: '#555555', weight: %(stroke)s, fillOpacity: 0.75,
            dashArray: c ? null : '3 3'};
  }
  function tip(p) {
    var rows = [];
    for (var k in labels) { if (p[k] !== null && p[k] !== undefined) {
      rows.push('<tr><th>' + labels[k] + '</th><td>' + String(p[k]).replace(/</g, '&lt;') + '</td></tr>'); } }
    return '<table>' + rows.join('') + '</table>';
  }
  var layer = L.geoJSON(data, {style: style, renderer: %(renderer)s, onEachFeature: function (f, l) {
    l.bindTooltip(function () { return tip(f.properties); }, {sticky: true}); }}).addTo(map);
  window.gapmapLsoas = layer;
  var control = L.control({position: 'topleft'});
  control.onAdd = function () {
    var div = L.DomUtil.create('div', 'gapmap-views leaflet-bar');
    div.innerHTML = '<fieldset><legend>Colour the LSOAs by</legend>' + %(controls)s + '</fieldset>';
    L.DomEvent.disableClickPropagation(div);
    div.addEventListener('change', function (e) {
      view = parseInt(e.target.value, 10);
      layer.setStyle(style);
      document.querySelectorAll('[data-view]').forEach(function (el) {
        el.hidden = parseInt(el.getAttribute('data-view'), 10) !== view; });
    });
    return div;
  };
  control.addTo(map);
})();
""" % {"map": m.get_name(), "data": data, "scale": 10 ** frame.attrs.get("decimals", 5),
       "renderer": "L.canvas()" if compact else "undefined", "stroke": 0 if compact else 0.4, "labels": json.dumps(labels),
       "nodata": NO_DATA_COLOUR, "controls": json.dumps(controls), "palettes": json.dumps(palettes)}
    m.get_root().script.add_child(RawText(_after_map(script)))


LEGEND_CSS = (
    '<style>.gapmap-legend{position:absolute;bottom:48px;left:10px;z-index:1000;background:#fff;padding:8px;'
    'border:1px solid #768692;max-width:320px;font:14px/1.4 Arial,sans-serif}.gapmap-legend ul{list-style:none;'
    'margin:4px 0;padding:0}.gapmap-legend .swatch{display:inline-block;width:18px;height:12px;margin-right:6px;'
    'border:1px solid #555}.gapmap-legend small{display:block;color:#4c6272;font-size:11px}'
    '.gapmap-views{background:#fff;padding:6px 8px;font:14px Arial,sans-serif}.gapmap-views fieldset{border:0;'
    'margin:0;padding:0}.gapmap-views legend{font-weight:bold}.gapmap-views label{display:block}'
    '[hidden]{display:none!important}</style>')


def _after_map(script: str) -> str:
    """Run once the page's own script (which creates the map and its layers) has run."""
    return "window.addEventListener('load', function () {\n" + script + "\n});\n"


def offline_page(store, indicator: str, extent: analysis.Extent, scheme: str = "quantiles", k: int = 5) -> str:
    """The map with every script and style sheet from static/ put inline: one HTML file that opens
    with no network (a laptop in a meeting room)."""
    import re

    from geo.settings import PROJECT_ROOT

    static = PROJECT_ROOT / "static"
    page = choropleth_map(store, indicator, extent, scheme, k).get_root().render()

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
