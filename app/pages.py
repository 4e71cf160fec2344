"""HTML pages: the home page (choose ICB, place, indicator) and the map page."""
from __future__ import annotations

import gzip
from functools import lru_cache

from flask import Blueprint, Response, redirect, render_template, request, url_for

from app import params
from geo.store.schema import lsoa_columns

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    store = params.store()
    icbs = store.areas("icb").sort_values("icb24nm")
    icb = request.args.get("icb", "E54000024")
    places = store.areas("lad", icb=icb).sort_values("lad24nm") if icb in set(icbs["icb24cd"]) else icbs.iloc[:0]
    indicators = _indicator_choices()
    return render_template("home.html", icbs=icbs.to_dict("records"), icb=icb, places=places.to_dict("records"),
                           indicators=indicators)


def _indicator_choices() -> list[tuple[str, str]]:
    from geo.views.analysis import numeric_columns
    from geo.store.datasets import DatasetStore

    described = lsoa_columns()
    store = params.store()
    numeric = [c for c in numeric_columns(store) if c.endswith(("_score", "_indicator", "_rate", "_decile",
                                                                  "_quintile", "_ratio"))]
    choices = [(c, described.get(c, c)) for c in numeric]
    for meta in DatasetStore(store).list():
        label = f"{meta['measure']} (uploaded{', SYNTHETIC' if meta.get('synthetic') else ''})"
        choices.append((meta["name"], label))
    return choices


@bp.get("/map")
def map_page():
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    params.focus()
    label = dict(_indicator_choices()).get(indicator, indicator)
    store = params.store()
    panel = _cached_panel(store.identity, store.version_key(), extent.level, extent.code,
                          indicator)
    return render_template("map.html", extent=extent, indicator=indicator, label=label, scheme=scheme, k=k,
                           query=request.query_string.decode(), panel=panel)


@lru_cache(maxsize=64)
def _cached_panel(store: str, version: str, level: str, code: str | None, indicator: str) -> dict:
    from geo.views.analysis import Extent

    return _panel(Extent(level, code), indicator)


def _panel(extent, indicator) -> dict:
    from geo.views import targeting

    store = params.store()
    try:
        targets = targeting.lsoa_targets(store, indicator, extent)
    except ValueError as exc:  # e.g. values that do not vary
        return {"error": str(exc)}
    panel = {"summary": targeting.summary(targets),
             "quintiles": targeting.by_quintile(targets).to_dict("records"),
             "wards": targeting.top_wards(targets).to_dict("records"),
             "targets": targeting.targeting_list(store, targets).head(25).to_dict("records")}
    from geo.store.datasets import DatasetStore

    if indicator in DatasetStore(store).names():
        from geo.views.analysis import by_group

        try:
            table = by_group(store, indicator, extent, "imd_quintile")
            panel["by_quintile"] = table.to_dict("records")
            panel["sii"] = table.attrs.get("sii")
            from app.charts import rate_by_quintile

            use_dsr = "dsr" in table and table["dsr"].notna().all()
            panel["chart"] = rate_by_quintile(
                panel["by_quintile"], "dsr" if use_dsr else "crude_rate", "dsr_lower" if use_dsr else "crude_lower",
                "dsr_upper" if use_dsr else "crude_upper", "Rate per 100,000 by IMD quintile, with 95% intervals")
            panel["synthetic"] = table.attrs.get("synthetic")
        except ValueError:
            pass
        try:
            panel["by_ethnic_group"] = by_group(store, indicator, extent, "ethnic_group").to_dict("records")
        except ValueError:
            pass
    return panel


@bp.get("/targeting.csv")
def targeting_csv():
    from geo import ATTRIBUTION
    from geo.views import targeting

    extent = params.extent()
    indicator = params.indicator()
    store = params.store()
    table = targeting.targeting_list(store, targeting.lsoa_targets(store, indicator, extent))
    for column in ("name", "ward", "why"):  # neutralise spreadsheet formulas
        table[column] = table[column].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
    body = table.to_csv(index=False) + f"\n# {ATTRIBUTION}\n"
    name = f"gapmap_targeting_{extent.level}_{extent.code}_{indicator}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/search")
def search():
    from geo.views import targeting

    query = request.args.get("q", "")
    indicator = request.args.get("indicator", "imd_score")
    results = targeting.find(params.store(), query)
    links = []
    for r in results:
        focus = r.get("lsoa21cd") if r["kind"] in ("postcode", "school") else r["code"]
        links.append({**r, "url": url_for("pages.map_page", lad=r["lad"], indicator=indicator, focus=focus)})
    if len(links) == 1:
        return redirect(links[0]["url"])
    return render_template("search.html", query=query, results=links)


@bp.get("/map/frame")
def map_frame():
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    store = params.store()
    plain, packed = _cached_map(store.identity, store.version_key(), indicator,
                                extent.level, extent.code, scheme, k, params.focus())
    headers = {"Cache-Control": "private, max-age=300", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        return Response(packed, mimetype="text/html", headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, mimetype="text/html", headers=headers)


@lru_cache(maxsize=64)
def _cached_map(store: str, version: str, indicator: str, level: str, code: str, scheme: str,
                k: int, focus: str | None) -> tuple[bytes, bytes]:
    """The rendered map, as UTF-8 bytes and gzip-compressed, made once per store, datasets and view."""
    from app.map_layers import choropleth_map
    from geo.views.analysis import Extent

    extent = Extent(level, code)
    if level == "england":  # all of England: the LSOA views only, no ward outlines or points
        m = choropleth_map(params.store(), indicator, extent, scheme, k, layers=("hotspots", "clusters"), focus=focus)
    else:
        m = choropleth_map(params.store(), indicator, extent, scheme, k, focus=focus)
    plain = m.get_root().render().encode("utf-8")
    return plain, gzip.compress(plain, compresslevel=6)


@bp.get("/indicators")
def indicators():
    from geo.store.datasets import DatasetStore
    from geo.sources.nhs_indicators import with_datasets

    table = with_datasets(DatasetStore(params.store()).list())
    return render_template("indicators.html", rows=table.to_dict("records"))
