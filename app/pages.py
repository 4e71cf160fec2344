"""HTML pages: the home page (choose ICB, place, indicator) and the map page."""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, render_template, request

from app import params
from geo.schema import lsoa_columns

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
    from geo.analysis import numeric_columns
    from geo.datasets import DatasetStore

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
    label = dict(_indicator_choices()).get(indicator, indicator)
    return render_template("map.html", extent=extent, indicator=indicator, label=label, scheme=scheme, k=k,
                           query=request.query_string.decode())


@bp.get("/map/frame")
def map_frame():
    extent = params.extent()
    indicator = params.indicator()
    scheme, k = params.scheme()
    store = params.store()
    return _cached_map(str(store.root), store.path.name, indicator, extent.level, extent.code, scheme, k)


@lru_cache(maxsize=64)
def _cached_map(store_root: str, build: str, indicator: str, level: str, code: str, scheme: str, k: int) -> str:
    from app.map_layers import choropleth_map
    from geo.analysis import Extent

    m = choropleth_map(params.store(), indicator, Extent(level, code), scheme, k)
    return m.get_root().render()
