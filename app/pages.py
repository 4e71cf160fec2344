"""HTML pages: the home page (choose ICB, place, indicator) and the map page."""
from __future__ import annotations

import gzip
import json

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from app import params
from geo.views.extent_areas import places_of_icb
from geo.store.schema import lsoa_columns

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    store = params.store()
    icbs = store.areas("icb").sort_values("icb24nm")
    icb = params.icb_code(request.args.get("icb", "E54000024"))
    places = places_of_icb(store, icb) if icb in set(icbs["icb24cd"]) else None
    offered = places[places["offered"]].to_dict("records") if places is not None else []
    partial = places[~places["offered"]].to_dict("records") if places is not None else []
    indicators = params.indicator_choices()
    return render_template("home.html", icbs=icbs.to_dict("records"), icb=icb, places=offered, partial=partial,
                           indicators=indicators)


def place_heading(store, extent) -> tuple[str, str]:
    """(name, what it is) for a page heading: names, not codes."""
    if extent.level == "england":
        return "England", ""
    if extent.level == "ward":
        row = store.lsoas(ward=extent.code, geometry=False, columns=["ward24nm", "lad24nm"]).iloc[0]
        return str(row["ward24nm"]), f"ward in {row['lad24nm']}, {extent.code}"
    areas = store.areas(extent.level)
    row = areas[areas[f"{extent.level}24cd"] == extent.code].iloc[0]
    if extent.level == "icb":
        nhs = row.get("icb24cdh")
        name = str(row["icb24nm"]).replace("Integrated Care Board", "ICB")
        return name, f"ICB {extent.code}" + (f", NHS code {nhs}" if isinstance(nhs, str) else "")
    return str(row["lad24nm"]), f"local authority {extent.code}"


def value_unit(store, indicator: str) -> str:
    """What a value of the indicator is, in a few words (for the top wards and tables)."""
    from geo.store.datasets import DatasetStore

    if indicator in DatasetStore(store).names():
        from app.map_layers import dataset_unit

        return dataset_unit(DatasetStore(store).get(indicator).meta)
    described = lsoa_columns().get(indicator, "")
    for ending, unit in (("_score", "score"), ("_decile", "decile"), ("_quintile", "quintile")):
        if indicator.endswith(ending):
            return unit
    if "ratio" in described and "100" in described:
        return "ratio, 100 = England"
    if "per_1_000" in described:
        return "per 1,000 at risk"
    return "value"


@bp.get("/map")
def map_page():
    """The map page, sent at once: its heading, controls, the map frame (a request of its own) and
    the side panel's place, which static/js/map-page.js fills from :func:`map_panel` while the map
    loads. ``panel=inline`` puts the panel in the page instead (for readers without scripts)."""
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    params.focus()
    store = params.store()
    question, points = params.targeting(indicator)
    label, place, place_note, unit, synthetic = HEADING_CACHE.get(
        (store.identity, store.version_key(), extent.level, extent.code, indicator),
        lambda: _heading(store, extent, indicator), lambda v: 1024)
    panel_url = url_for("pages.map_panel") + "?" + _panel_query(extent, indicator, question, points)
    panel_html = (_panel_html(store, extent, indicator, unit, question, points)
                  if request.args.get("panel") == "inline" else None)
    inline = request.args.to_dict()
    inline["panel"] = "inline"
    return render_template("map.html", extent=extent, indicator=indicator, label=label, scheme=scheme, k=k,
                           query=request.query_string.decode(), place=place, place_note=place_note, unit=unit,
                           panel_url=panel_url, panel_html=panel_html, inline_url=url_for("pages.map_page", **inline),
                           synthetic=synthetic, frame_assets=_frame_assets(extent))


def _frame_assets(extent) -> list[str]:
    """The static files (under static/) the map frame of ``extent`` loads, for the page to preload."""
    from app.map_layers import CLUSTER_CSS, CLUSTER_JS, GAPMAP_CSS, GAPMAP_JS, LEAFLET_CSS, LEAFLET_JS

    assets = LEAFLET_JS + GAPMAP_JS + LEAFLET_CSS + GAPMAP_CSS
    if extent.level != "england":  # England's map has no school clusters
        assets = assets + CLUSTER_JS + CLUSTER_CSS
    return [path.removeprefix("/static/") for _, path in assets]


def _heading(store, extent, indicator: str) -> tuple:
    """What the page says above its map: (indicator's name, place, what the place is, unit, the
    SYNTHETIC DATA note or None); read from the store once per build and dataset version."""
    label = dict(params.indicator_choices()).get(indicator, indicator)
    place, place_note = place_heading(store, extent)
    return (label, place, place_note, value_unit(store, indicator),
            SYNTHETIC_NOTE if _is_synthetic(store, indicator) else None)


@bp.get("/map/panel")
def map_panel():
    """The side panel of a map page, as an HTML fragment (``text/html``), computed once per store
    build and dataset version (:data:`PANEL_CACHE`) and revalidated by its ETag (that version)."""
    extent = params.extent()
    indicator = params.indicator()
    question, points = params.targeting(indicator)
    store = params.store()
    etag = _panel_etag(store, extent, indicator, question, points)
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Accept-Encoding, Cookie"}
    if etag in request.if_none_match:
        response = Response(status=304, headers=headers)
    else:
        response = Response(_panel_html(store, extent, indicator, value_unit(store, indicator), question, points),
                            mimetype="text/html", headers=headers)
    response.set_etag(etag)
    return response


def _panel_query(extent, indicator: str, question: str | None = None, points=None) -> str:
    """The query that names a panel: the place, the indicator and the targeting question and point
    types when they are not the default (not the colouring: the panel does not depend on it), so
    every view of one map shares one cached panel."""
    from urllib.parse import urlencode

    from geo.views import targeting

    place = {"extent": "england"} if extent.level == "england" else {extent.level: extent.code}
    query = [*place.items(), ("indicator", indicator)]
    if question and question != targeting.default_question(indicator):
        query.append(("where", question))
    if points and tuple(points) != targeting.DEFAULT_POINTS:
        query += [("points", p) for p in points]
    return urlencode(query)


def _panel_key(store, extent, indicator: str, question: str, points) -> tuple:
    return (store.identity, store.version_key(), extent.level, extent.code, indicator, question, tuple(points))


def _panel_etag(store, extent, indicator: str, question: str, points) -> str:
    import hashlib

    return hashlib.sha1(repr(_panel_key(store, extent, indicator, question, points)).encode()).hexdigest()[:20]


def _panel_html(store, extent, indicator: str, unit: str, question: str, points) -> str:
    """The panel fragment (app/templates/map_panel.html) of one place, indicator and targeting question."""
    from geo.views import targeting

    panel = PANEL_CACHE.get(_panel_key(store, extent, indicator, question, points),
                            lambda: _panel(extent, indicator, question, points),
                            lambda p: len(json.dumps(p, default=str)))
    return render_template("map_panel.html", panel=panel, unit=unit, extent=extent, indicator=indicator,
                           query=_panel_query(extent, indicator, question, points),
                           where="" if question == targeting.default_question(indicator) else question,
                           default_question=targeting.default_question(indicator),
                           point_types=[(key, words) for key, (_, words) in targeting.POINT_TYPES.items()],
                           chosen_points=points)


def _make_panel_cache():
    from geo.views.map_table import BoundedCache

    return BoundedCache(max_entries=64, max_bytes=32 << 20, name="side panels")


PANEL_CACHE = _make_panel_cache()  # bounded, and identical cold requests computed once
HEADING_CACHE = _make_panel_cache()  # the pages' headings: a few hundred bytes each, so 64 of them


PANEL_TARGETS = 25  # rows of the targeting list the panel shows; the CSV has them all


def _panel(extent, indicator, question: str | None = None, points=None) -> dict:
    """The side panel, from the map table and its group totals (disclosure applied there), with the
    targeting engine's answer to ``question`` (default: the indicator's, :func:`targeting.default_question`)."""
    from geo.views import map_table, target_groups
    from geo.views import targeting

    question = question or targeting.default_question(indicator)
    points = points or targeting.DEFAULT_POINTS
    store = map_table.pinned(params.store())
    try:
        ctx = target_groups.context(store, extent)  # the area's LSOAs and statistics, read once for the panel
        targets = targeting.lsoa_targets(store, indicator, extent, ctx)
    except ValueError as exc:  # e.g. a GP practice dataset
        return {"error": str(exc)}
    map_table.after_maps()  # the map beside this panel first (it shares the statistics just read)
    panel = {"summary": targeting.summary(targets),
             "quintiles": targeting.by_quintile(targets, store, indicator, extent).to_dict("records"),
             }
    ward_table = None
    if "count" in targets:  # a dataset: wards ranked by their own published figure
        try:
            ward_table = map_table.group_table(store, indicator, extent, "ward24cd")
        except ValueError:
            ward_table = None
    panel["wards"] = targeting.top_wards(targets, ward_table=ward_table).to_dict("records")
    try:
        listed = targeting.answer(store, extent, question, points, ctx=ctx)
    except ValueError as exc:  # e.g. a question naming a dataset with no statistics
        panel["targets_error"] = str(exc)
    else:
        panel["targets"] = map_table.json_rows(listed.head(PANEL_TARGETS))
        panel["targets_total"] = int(len(listed))
        panel["targets_question"] = listed.attrs["question"]
        panel["targets_points"] = ", ".join(listed.attrs["points"])
        panel["targets_notes"] = listed.attrs["notes"]
        panel["targets_lsoas"] = listed.attrs["lsoas"]
    if "count" in targets:  # an activity dataset
        try:
            from geo.store.datasets import DatasetStore

            practice_level = DatasetStore(store).get(indicator).meta.get("level") == "practice"
            table = map_table.group_table(store, indicator, extent,
                                          "practice_imd_quintile" if practice_level else "imd_quintile")
            panel["group_by"] = table.attrs.get("grouping")
            panel["by_quintile"] = table.to_dict("records")
            panel["sii"] = table.attrs.get("sii")
            panel["group_note"] = table.attrs.get("note")
            panel["group_unit"] = table.attrs.get("unit")
            panel["sii_unit"] = ("percentage points" if str(table.attrs.get("unit", "")).startswith("%")
                                 else table.attrs.get("unit"))
            panel["group_headline"] = table.attrs.get("headline")
            from app.charts import rate_by_quintile

            panel["chart"] = rate_by_quintile(
                panel["by_quintile"], "value", "lower", "upper",
                f"{str(table.attrs.get('headline')).capitalize()} ({table.attrs.get('unit')}) by IMD quintile, "
                f"with 95% intervals")
            panel["synthetic"] = table.attrs.get("synthetic")
        except ValueError as exc:
            panel["by_quintile_error"] = str(exc)
        try:
            ethnic = map_table.group_table(store, indicator, extent, "ethnic_group")
            panel["by_ethnic_group"] = ethnic.to_dict("records")
            panel["ethnic_unit"] = ethnic.attrs.get("unit")
        except ValueError as exc:  # e.g. no ethnic group breakdown in this dataset: the panel says so
            panel["by_ethnic_group_error"] = str(exc)
    return panel


@bp.get("/targeting.csv")
def targeting_csv():
    """The map's targeting list in full (the same question as the map's list: ``?where=`` and
    ``?points=``, see :func:`app.params.targeting`), written by :mod:`geo.outputs.targeting_file`."""
    from geo.outputs.targeting_file import csv_text
    from geo.views import targeting
    from geo.views.map_table import pinned

    extent = params.extent()
    indicator = params.indicator()
    question, points = params.targeting(indicator)
    store = pinned(params.store())
    try:
        table = targeting.answer(store, extent, question, points)
    except ValueError as exc:
        abort(400, description=str(exc))
    name = f"gapmap_targeting_{extent.level}_{extent.code}_{indicator}.csv"
    return Response(csv_text(table), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


SYNTHETIC_NOTE = "SYNTHETIC DATA: made-up records, not real activity."


def _is_synthetic(store, indicator: str) -> bool:
    from geo.views.analysis import is_synthetic

    return is_synthetic(store, indicator)


@bp.get("/search")
def search():
    from geo.views import search as searching

    store = params.store()
    query = request.args.get("q", "").strip()[:100]
    indicator = request.args.get("indicator", "imd_score")
    results = searching.find(store, query)
    links = []
    for r in results:
        focus = r.get("lsoa21cd") if r["kind"] in ("postcode", "school") else r["code"]
        links.append({**r, "url": url_for("pages.map_page", lad=r["lad"], indicator=indicator, focus=focus,
                                          pin=r.get("pin"))})
    if len(links) == 1:
        return redirect(links[0]["url"])
    coverage = searching.postcode_coverage(store) if not links and searching.postcode_key(query) else None
    key = searching.postcode_key(query)
    return render_template("search.html", query=query, results=links, indicator=indicator, coverage=coverage,
                           postcode=f"{key[:-3]} {key[-3:]}" if key else None)


@bp.get("/map/frame")
def map_frame():
    from geo.views import map_table

    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    store = map_table.pinned(params.store())
    focus = params.focus()
    if focus:  # only codes on this map: unknown ones would each fill the cache with a copy of the map
        frame = map_table.map_table(store, indicator, extent, scheme, k).frame
        if focus not in set(frame["lsoa21cd"]) and focus not in set(frame["ward24cd"]):
            abort(400, description=f"focus {focus!r} is not an LSOA or ward on this map")
    pin = params.pin()
    key = (store.identity, store.version_key(), indicator, extent.level, extent.code, scheme, k, focus, pin)
    from app.compression import versioned_response

    return versioned_response(key, lambda: MAP_CACHE.get(
        key, lambda: _render_map(store, indicator, extent, scheme, k, focus, pin), lambda v: len(v[0]) + len(v[1])),
        "text/html", {"Cache-Control": "private, max-age=300", "Vary": "Cookie"})


def _make_map_cache():
    from geo.views.map_table import BoundedCache

    return BoundedCache(max_entries=64, max_bytes=128 << 20, name="map pages")  # the England page is ~4.5 MB with its gzip copy


MAP_CACHE = _make_map_cache()


def _render_map(store, indicator: str, extent, scheme: str, k: int, focus: str | None,
                pin: str | None = None) -> tuple[bytes, bytes]:
    """The rendered map, as UTF-8 bytes and gzip-compressed, made once per store, datasets and view."""
    from app.map_layers import choropleth_map, render_page
    from geo.views.map_table import drawing_map

    with drawing_map():  # side panels wait with their tables until the map is drawn
        if extent.level == "england":  # all of England: the LSOA views only, no ward outlines or points
            m = choropleth_map(store, indicator, extent, scheme, k, layers=("hotspots", "clusters"), focus=focus)
        else:
            m = choropleth_map(store, indicator, extent, scheme, k, focus=focus)
        if pin:
            _add_pin(m, store, pin)
        from flask import current_app

        from app.compression import versioned

        plain = versioned(render_page(m), current_app.extensions["gapmap_static"]).encode("utf-8")
        return plain, gzip.compress(plain, compresslevel=6)


def _add_pin(m, store, pin: str) -> None:
    """A marker, above the LSOAs, on the postcode or school a search found."""
    import folium

    from app.map_layers import page_data
    from geo.views.search import pin as locate

    place = locate(store, pin)
    if place is None:
        return
    # Leaflet's own pin (its image is vendored); markers sit in a pane above every polygon
    folium.Marker([place["lat"], place["lon"]], alt=place["label"]).add_to(m)
    found = page_data(m).setdefault("found", {"name": place["label"], "detail": None, "at": None})
    found["pin"] = {"label": place["label"], "at": [place["lat"], place["lon"]]}  # named on the map there


@bp.get("/indicators")
def indicators():
    from geo.store.datasets import DatasetStore
    from geo.sources.nhs_indicators import with_datasets

    table = with_datasets(DatasetStore(params.store()).list())
    return render_template("indicators.html", rows=table.to_dict("records"))
