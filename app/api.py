"""The JSON API: indicators, places, statistics and map layers, described by /api/openapi.json."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, jsonify, request

from app import params
from geo import ATTRIBUTION, analysis

bp = Blueprint("api", __name__)


@bp.get("/indicators")
def indicators():
    from app.pages import _indicator_choices

    return jsonify([{"id": i, "label": label} for i, label in _indicator_choices()])


@bp.get("/nhs-indicators")
def nhs_indicators():
    from geo.datasets import DatasetStore
    from geo.nhs_indicators import with_datasets

    return jsonify(with_datasets(DatasetStore(params.store()).list()).to_dict("records"))


@bp.get("/places")
def places():
    extent = params.extent()
    store = params.store()
    if extent.level != "icb":
        abort(400, description="places are listed for an icb")
    from geo.extent_areas import places_of_icb

    frame = places_of_icb(store, extent.code)  # offered: at least half of its LSOAs are in the ICB
    return jsonify([{"lad24cd": r["lad24cd"], "lad24nm": r["lad24nm"], "lsoas": int(r["lsoas"]),
                     "lsoas_in_icb": int(r["lsoas_in_icb"]), "offered": bool(r["offered"])}
                    for r in frame.to_dict("records")])


@bp.get("/lsoas.geojson")
def lsoa_layer():
    extent = params.extent()
    indicator = params.indicator()
    frame = analysis.indicator_values(params.store(), indicator, extent, geometry=True)
    from app.map_layers import simplify

    frame = simplify(frame, extent.level)
    keep = [c for c in ("lsoa21cd", "lsoa21nm", "ward24nm", "lad24nm", "value", "lower", "upper", "imd_decile",
                        "imd_decile_in_icb") if c in frame]
    payload = json.loads(frame[keep + ["geometry"]].to_json(na="null", drop_id=True))
    payload["attribution"] = ATTRIBUTION
    return Response(json.dumps(payload, separators=(",", ":")), mimetype="application/geo+json")


@bp.get("/statistics")
def statistics():
    extent = params.extent()
    indicator = params.indicator()
    stat = request.args.get("stat", "local-moran")
    if stat not in ("local-moran", "gi-star", "bivariate", "moran"):
        abort(400, description="stat must be local-moran, gi-star, bivariate or moran")
    try:
        permutations = int(request.args.get("permutations", 999))
        seed = int(request.args.get("seed", 12345))
    except ValueError:
        abort(400, description="permutations and seed must be whole numbers")
    if not 99 <= permutations <= 99_999:
        abort(400, description="permutations must be between 99 and 99,999")
    store = params.store()
    try:
        if stat == "moran":
            return jsonify(analysis.global_moran(store, indicator, extent, permutations, seed))
        frame = analysis.local_statistic(store, indicator, extent, stat, permutations=permutations, seed=seed)
    except (analysis.AnalysisError, ValueError) as exc:
        abort(400, description=str(exc))
    body = {"method": {k: v for k, v in frame.attrs.items()}, "attribution": ATTRIBUTION,
            "rows": json.loads(frame.reset_index().to_json(orient="records"))}
    return Response(json.dumps(body, default=str), mimetype="application/json")


@bp.get("/export.<fmt>")
def export(fmt):
    import tempfile

    from flask import send_file

    from geo import exports

    if fmt not in exports.FORMATS + ("html",):
        abort(404, description=f"exports are {', '.join(exports.FORMATS + ('html',))}")
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    if fmt == "html":
        from app.map_layers import offline_page

        name = exports.file_name(indicator, extent, "html")
        return Response(offline_page(params.store(), indicator, extent, scheme, k), mimetype="text/html",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    frame, meta = exports.export_table(params.store(), indicator, extent, scheme, k)
    name = exports.file_name(indicator, extent, fmt)
    if fmt == "geojson":
        return Response(exports.to_geojson(frame, meta), mimetype="application/geo+json",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    if fmt == "csv":
        return Response(exports.to_csv(frame, meta), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    tmp = tempfile.mkdtemp()
    path = exports.write(frame, meta, fmt, tmp, indicator, extent)
    return send_file(path, mimetype="application/geopackage+sqlite3", as_attachment=True, download_name=name)


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
            "/api/statistics": {"get": {"summary": "Local Moran, Gi*, bivariate local Moran or global Moran",
                                        "parameters": extent_params + [indicator_param,
                                                                       {"name": "stat", "in": "query",
                                                                        "schema": {"type": "string"}},
                                                                       {"name": "permutations", "in": "query",
                                                                        "schema": {"type": "integer"}},
                                                                       {"name": "seed", "in": "query",
                                                                        "schema": {"type": "integer"}}],
                                        "responses": {"200": {"description": "per-LSOA results and the method"},
                                                      "400": {"description": "a bad parameter, with a message"}}}},
        },
    }
    return jsonify(doc)
