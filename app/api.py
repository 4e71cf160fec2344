"""The JSON API: indicators, places, statistics and map layers, described by /api/openapi.json."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, jsonify, request

from app import params
from geo import ATTRIBUTION

bp = Blueprint("api", __name__)


def _json_from_memory(what: str, make) -> Response:
    """The JSON of ``make()``, encoded once per store version as the user sees it
    (:func:`geo.views.catalogue.cached`: a new build, dataset or sharing is seen at once). Warm
    requests are answered before Flask runs, by :mod:`app.light_responses`."""
    from geo.views import catalogue

    body = catalogue.cached(params.store(), what, lambda: current_app.json.dumps(make(), separators=(",", ":")).encode("utf-8") + b"\n")
    # private: the answer is the user's view of the datasets; revalidated by its ETag (app.light_responses)
    return Response(body, mimetype="application/json", headers={"Cache-Control": "private, no-cache"})


@bp.get("/indicators")
def indicators():
    return _json_from_memory("api/indicators", lambda: [{"id": i, "label": label}
                                                        for i, label in params.indicator_choices()])


@bp.get("/nhs-indicators")
def nhs_indicators():
    from geo.sources.nhs_indicators import with_datasets
    from geo.views import catalogue

    return _json_from_memory("api/nhs-indicators",
                             lambda: with_datasets(catalogue.dataset_metas(params.store())).to_dict("records"))


@bp.get("/places")
def places():
    extent = params.extent()
    store = params.store()
    if extent.level != "icb":
        abort(400, description="places are listed for an icb")
    from geo.views.extent_areas import places_of_icb

    def make():
        frame = places_of_icb(store, extent.code)  # offered: at least half of its LSOAs are in the ICB
        return [{"lad24cd": r["lad24cd"], "lad24nm": r["lad24nm"], "lsoas": int(r["lsoas"]),
                 "lsoas_in_icb": int(r["lsoas_in_icb"]), "offered": bool(r["offered"])}
                for r in frame.to_dict("records")]

    return _json_from_memory(f"api/places/{extent.code}", make)


GEOJSON_CACHE = None  # set below: the England layer is 20 MB and 5 s to make, so it is made once


def _geojson_cache():
    global GEOJSON_CACHE
    if GEOJSON_CACHE is None:
        from geo.views.map_table import BoundedCache

        GEOJSON_CACHE = BoundedCache(max_entries=16, max_bytes=128 << 20, name="GeoJSON layers")
    return GEOJSON_CACHE


@bp.get("/lsoas.geojson")
def lsoa_layer():
    """The LSOAs with the map table's values (disclosure applied), simplified for the zoom; cached
    per store build, dataset version, indicator and extent."""
    import gzip

    from geo.outputs import exports
    from geo.views import map_table

    extent = params.extent()
    indicator = params.indicator()
    store = map_table.pinned(params.store())
    key = (store.identity, store.build_id(), map_table.dataset_version(store, indicator), indicator, extent.level,
           extent.code)

    def make():
        table = map_table.map_table(store, indicator, extent)
        frame = map_table.with_geometry(table, store, extent, simplified=True)
        keep = [c for c in ("lsoa21cd", "lsoa21nm", "ward24nm", "lad24nm", "value", "lower", "upper", "count",
                            "population", "suppressed", "imd_decile", "imd_decile_in_icb") if c in frame]
        meta = {k: v for k, v in table.meta.items() if k != "classification"}
        text = exports.to_geojson(frame[keep + ["geometry"]], meta, decimals=frame.attrs.get("decimals", 6))
        text = text.replace('{"type":"FeatureCollection",', '{"type":"FeatureCollection","attribution":'
                            + json.dumps(ATTRIBUTION) + ",", 1)
        plain = text.encode("utf-8")
        return plain, gzip.compress(plain, compresslevel=6)

    from app.compression import versioned_response  # revalidated by its version (ETag), made once

    return versioned_response(key, lambda: _geojson_cache().get(key, make, lambda v: len(v[0]) + len(v[1])),
                              "application/geo+json", {"Cache-Control": "private, max-age=300", "Vary": "Cookie"})


@bp.get("/statistics")
def statistics():
    from geo.views import map_table

    extent = params.extent()
    indicator = params.indicator()
    stat = request.args.get("stat", "local-moran")
    if stat not in ("local-moran", "gi-star", "bivariate", "moran"):
        abort(400, description="stat must be local-moran, gi-star, bivariate or moran")
    try:
        permutations = int(request.args.get("permutations", map_table.PERMUTATIONS))
        seed = int(request.args.get("seed", map_table.SEED))
    except ValueError:
        abort(400, description="permutations and seed must be whole numbers")
    if not 99 <= permutations <= 99_999:
        abort(400, description="permutations must be between 99 and 99,999")
    if not 0 <= seed < 2 ** 32:
        abort(400, description="seed must be between 0 and 4294967295")
    store = params.store()
    result = map_table.statistic(store, indicator, extent, stat, permutations, seed)
    if stat == "moran":
        return Response(json.dumps({**result, "attribution": ATTRIBUTION}, default=str), mimetype="application/json")
    rows, method = result
    body = {"method": method, "attribution": ATTRIBUTION, "rows": map_table.json_rows(rows.reset_index())}
    return Response(json.dumps(body, default=str), mimetype="application/json")


@bp.get("/groups")
def groups():
    """A dataset's published group table (the statement's, the panel's and `gapmap analyse
    --stat by-group`'s: :func:`geo.views.map_table.group_table`) as JSON: rows and attrs."""
    from geo.views import map_table
    from geo.views.group_statistics import GROUPS

    extent = params.extent()
    indicator = params.indicator()
    grouping = request.args.get("group", "imd_quintile")
    if grouping not in GROUPS:
        abort(400, description=f"group must be one of {', '.join(GROUPS)}")
    table = map_table.group_table(params.store(), indicator, extent, grouping)
    attrs = {k: v for k, v in table.attrs.items()}
    body = {"attrs": attrs, "attribution": ATTRIBUTION, "rows": map_table.json_rows(table)}
    return Response(json.dumps(body, default=str), mimetype="application/json")


@bp.get("/export.<fmt>")
def export(fmt):
    import tempfile
    from pathlib import Path

    from geo.outputs import exports
    from geo.views import map_table

    if fmt not in exports.FORMATS + ("html",):
        abort(404, description=f"exports are {', '.join(exports.FORMATS + ('html',))}")
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    name = exports.file_name(indicator, extent, fmt)
    with map_table.work_slot():  # a file of every LSOA polygon: heavy work, a slot at a time
        if fmt == "html":
            from app.map_layers import offline_page

            return Response(offline_page(params.store(), indicator, extent, scheme, k), mimetype="text/html",
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        frame, meta = exports.export_table(params.store(), indicator, extent, scheme, k,
                                           geometry=exports.GEOMETRY_OF.get(fmt, True))
        if fmt == "geojson":
            return Response(exports.to_geojson(frame, meta), mimetype="application/geo+json",
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        if fmt == "csv":
            return Response(exports.to_csv(frame, meta), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        with tempfile.TemporaryDirectory(prefix="gapmap-export-") as tmp:  # nothing left in /tmp afterwards
            data = Path(exports.write(frame, meta, fmt, tmp, indicator, extent)).read_bytes()
    return Response(data, mimetype="application/geopackage+sqlite3",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/openapi.json")
def openapi():
    extent_params = [{"name": lvl, "in": "query", "schema": {"type": "string"},
                      "description": f"{lvl.upper()} code (one of icb, lad, ward; default BLMK ICB)"}
                     for lvl in ("icb", "lad", "ward")]
    indicator_param = {"name": "indicator", "in": "query", "schema": {"type": "string", "default": "imd_score"}}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Gapmap API", "version": "0.1.0",
                 "description": "Health inequality maps for England by LSOA. " + ATTRIBUTION},
        "paths": {
            "/api/indicators": {"get": {"summary": "Indicators that can be mapped",
                                        "responses": {"200": {"description": "id and label of each indicator"}}}},
            "/api/nhs-indicators": {"get": {"summary": "NHS England statement indicators and attached datasets",
                                            "responses": {"200": {"description": "domain, metric, wording, datasets"}}}},
            "/api/export.{format}": {"get": {"summary": "The map's LSOA attributes as geojson, gpkg or csv, with "
                                                        "metadata and disclosure control",
                                             "parameters": [{"name": "format", "in": "path", "required": True,
                                                             "schema": {"type": "string",
                                                                        "enum": ["geojson", "gpkg", "csv"]}}]
                                             + extent_params + [indicator_param],
                                             "responses": {"200": {"description": "the file"}}}},
            "/api/places": {"get": {"summary": "Places (local authorities) of an ICB", "parameters": extent_params,
                                    "responses": {"200": {"description": "places with LSOAs in the ICB: lsoas (all "
                                                                         "of its LSOAs), lsoas_in_icb, and offered (at "
                                                                         "least half of them in the ICB)"},
                                                  "404": {"description": "unknown ICB"}}}},
            "/api/lsoas.geojson": {"get": {"summary": "LSOA polygons with an indicator's values (RFC 7946)",
                                           "parameters": extent_params + [indicator_param],
                                           "responses": {"200": {"description": "GeoJSON FeatureCollection"},
                                                         "404": {"description": "unknown place or indicator"}}}},
            "/api/groups": {"get": {"summary": "A dataset's published group table: counts after disclosure control, "
                                               "the indicator's figure by quintile, ward, place, ethnic group, age "
                                               "band or sex, SII and gap",
                                    "parameters": extent_params + [indicator_param,
                                                                   {"name": "group", "in": "query",
                                                                    "schema": {"type": "string"}}],
                                    "responses": {"200": {"description": "rows (group, count, population, value, "
                                                                         "lower, upper, ...) and attrs (definition, "
                                                                         "unit, sii, gap, notes, disclosure)"},
                                                  "400": {"description": "a bad parameter, or not an activity "
                                                                         "dataset, with a message"},
                                                  "404": {"description": "unknown place or indicator"}}}},
            "/api/statistics": {"get": {"summary": "Local Moran, Gi*, bivariate local Moran or global Moran",
                                        "parameters": extent_params + [indicator_param,
                                                                       {"name": "stat", "in": "query",
                                                                        "schema": {"type": "string"}},
                                                                       {"name": "permutations", "in": "query",
                                                                        "schema": {"type": "integer"}},
                                                                       {"name": "seed", "in": "query",
                                                                        "schema": {"type": "integer"}}],
                                        "responses": {"200": {"description": "per-LSOA results and the method"},
                                                      "400": {"description": "a bad parameter, with a message "
                                                                             "(permutations are capped by the "
                                                                             "number of LSOAs: 999 on England)"},
                                                      "503": {"description": "busy with other heavy work: "
                                                                             "try again (Retry-After)"}}}},
        },
    }
    return jsonify(doc)
